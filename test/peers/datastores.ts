// The data sources' peers: PostgreSQL (Debian's packages, run as an unprivileged user in a temp
// data dir), an S3-compatible object store (s3proxy, the same one the test cluster runs:
// cluster/argo.ts) and a Kafka broker (Apache Kafka's jars from Maven Central, one KRaft node that
// is broker and controller). Each binds 127.0.0.1 on a free port and keeps its data in a temp dir.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir, versions } from './config.ts';
import { freePort, spawnDaemon, waitReady } from './daemons.ts';
import { run, which, withLock, type Log } from './install.ts';
import { startS3Proxy } from './cluster/argo.ts';
import type { KafkaState, PostgresState, S3State } from './state.ts';

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/** The directory with Debian's PostgreSQL server binaries (postgres, initdb), newest major first. */
export function postgresBinDir(): string | undefined {
  if (process.env.GHOSTEAM_POSTGRES_BINDIR) return process.env.GHOSTEAM_POSTGRES_BINDIR;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length ? join(root, majors[0], 'bin') : undefined;
}

export async function ensurePostgres(log: Log): Promise<string> {
  const found = postgresBinDir();
  if (found) return found;
  return withLock('apt', async () => {
    const again = postgresBinDir();
    if (again) return again;
    if (process.getuid?.() !== 0 || !which('apt-get'))
      throw new Error('PostgreSQL is not installed; install it with `sudo apt-get update && sudo apt-get install -y postgresql`');
    log('postgres: apt-get install postgresql');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env, log: () => {} });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], { env, log: () => {} });
    const bin = postgresBinDir();
    if (!bin) throw new Error('apt-get installed postgresql but /usr/lib/postgresql/*/bin/postgres is still missing');
    return bin;
  });
}

/** PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user (else `nobody`). */
function serverUser(): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (r.status === 0 && g.status === 0) return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()), name };
  }
  throw new Error('running as root, and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as');
}

function chownTree(dir: string, user: { uid: number; gid: number } | undefined): void {
  if (!user) return;
  const r = spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chown -R ${user.uid}:${user.gid} ${dir}: ${r.stderr}`);
}

/**
 * An initdb'd cluster (superuser `ghosteam`, password auth, database `ghosteam`), made once per server
 * version and copied at each start: initdb costs seconds of CPU on a busy machine.
 */
async function postgresSeed(binDir: string, log: Log): Promise<{ dir: string; password: string }> {
  const version = spawnSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout.trim();
  const seed = join(cacheDir, 'postgres-seed', version.replace(/[^\w.]+/g, '-'));
  const pwFile = join(seed, 'ghosteam-password');
  if (existsSync(pwFile)) return { dir: join(seed, 'data'), password: readFileSync(pwFile, 'utf8').trim() };
  return withLock('postgres', async () => {
    if (existsSync(pwFile)) return { dir: join(seed, 'data'), password: readFileSync(pwFile, 'utf8').trim() };
    const user = serverUser();
    const tmp = mkdtempSync(join(tmpdir(), 'ghosteam-pgseed-'));
    chmodSync(tmp, 0o755);
    const password = randomBytes(18).toString('base64url');
    writeFileSync(join(tmp, 'pw'), password + '\n');
    chownTree(tmp, user);
    const opts = { log: () => {}, ...(user ? { uid: user.uid, gid: user.gid } : {}) };
    log(`postgres: initdb (${version}; first time only)`);
    await run(
      join(binDir, 'initdb'),
      ['-D', join(tmp, 'data'), '-U', 'ghosteam', '--auth=scram-sha-256', `--pwfile=${join(tmp, 'pw')}`, '--no-sync', '-E', 'UTF8'],
      opts,
    );
    // The database the URL names, created in single-user mode (no server, no socket).
    await runWithInput(join(binDir, 'postgres'), ['--single', '-D', join(tmp, 'data'), 'postgres'], 'CREATE DATABASE ghosteam;\n', user);
    rmSync(join(tmp, 'pw'));
    writeFileSync(join(tmp, 'ghosteam-password'), password + '\n', { mode: 0o600 });
    mkdirSync(join(seed, '..'), { recursive: true });
    rmSync(seed, { recursive: true, force: true });
    renameSync(tmp, seed);
    return { dir: join(seed, 'data'), password };
  });
}

function runWithInput(cmd: string, args: string[], input: string, user: { uid: number; gid: number } | undefined): Promise<void> {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', ...(user ? { uid: user.uid, gid: user.gid } : {}) });
  if (r.status !== 0) return Promise.reject(new Error(`\`${cmd} ${args.join(' ')}\` exited with ${r.status}: ${r.stderr}`));
  return Promise.resolve();
}

/** Start PostgreSQL on 127.0.0.1 (no Unix socket outside its temp dir), from the seed cluster. */
export async function startPostgres(log: Log = () => {}): Promise<PostgresState> {
  const binDir = await ensurePostgres(log);
  const seed = await postgresSeed(binDir, log);
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-postgres-'));
  chmodSync(dir, 0o755);
  cpSync(seed.dir, join(dir, 'data'), { recursive: true });
  chmodSync(join(dir, 'data'), 0o700);
  chownTree(dir, user);
  const port = await freePort();
  const logFile = join(dir, 'postgres.log');
  writeFileSync(logFile, '');
  chownTree(logFile, user);
  const args = [
    '-D',
    join(dir, 'data'),
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${dir}`,
    // A throwaway test database: durability buys nothing here.
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
  ];
  const child = spawnDaemon(join(binDir, 'postgres'), args, logFile, user ? { uid: user.uid, gid: user.gid } : {});
  const url = `postgres://ghosteam:${encodeURIComponent(seed.password)}@127.0.0.1:${port}/ghosteam`;
  await waitReady('postgres', child.pid!, logFile, 60_000, async () => {
    const r = spawnSync(join(binDir, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q'], { encoding: 'utf8' });
    return r.status === 0;
  });
  log(`postgres: ready on 127.0.0.1:${port} (database ghosteam; data under ${dir})`);
  return { pid: child.pid!, port, dir, log: logFile, url };
}

// ---------------------------------------------------------------------------------------------
// S3-compatible object store (s3proxy)

export async function startS3Store(log: Log = () => {}): Promise<S3State> {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-s3-'));
  const s = await startS3Proxy(dir, { host: '127.0.0.1', buckets: ['data'], log });
  return { ...s.store, pid: s.pid, dir, log: s.log };
}

// ---------------------------------------------------------------------------------------------
// Kafka (KRaft, one node)

export function kafkaLibDir(): string {
  return join(cacheDir, `kafka-${versions.kafka}`, 'libs');
}

/**
 * Fetch the Kafka server's jars (org.apache.kafka:kafka_2.13 and its runtime dependencies, plus the
 * log4j binding so its errors reach the log) from Maven Central once, with `mvn`.
 */
export async function ensureKafka(log: Log): Promise<string> {
  const libs = kafkaLibDir();
  if (existsSync(libs)) return libs;
  return withLock('kafka', async () => {
    if (existsSync(libs)) return libs;
    if (!which('java')) throw new Error('the Kafka broker needs Java >= 17 on PATH (Debian: `apt-get install openjdk-17-jre-headless`)');
    if (!which('mvn')) throw new Error('fetching Kafka from Maven Central needs `mvn` on PATH (Debian: `apt-get install maven`)');
    const tmp = join(cacheDir, `kafka.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const dep = (g: string, a: string, v: string) => `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
    writeFileSync(
      join(tmp, 'pom.xml'),
      [
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>',
        '<groupId>ghosteam.peers</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>',
        '<dependencies>',
        dep('org.apache.kafka', 'kafka_2.13', versions.kafka),
        dep('org.apache.logging.log4j', 'log4j-slf4j-impl', versions.kafkaLog4j),
        '</dependencies></project>',
      ].join('\n'),
    );
    log(`kafka: fetching org.apache.kafka:kafka_2.13:${versions.kafka} and its dependencies from Maven Central`);
    await run('mvn', ['-q', '-B', 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${join(tmp, 'libs')}`], { cwd: tmp, log });
    if (!existsSync(join(tmp, 'libs', `kafka_2.13-${versions.kafka}.jar`))) throw new Error(`mvn wrote no kafka_2.13-${versions.kafka}.jar into ${tmp}/libs`);
    mkdirSync(join(libs, '..', '..'), { recursive: true });
    rmSync(join(libs, '..'), { recursive: true, force: true });
    mkdirSync(join(libs, '..'), { recursive: true });
    renameSync(join(tmp, 'libs'), libs);
    rmSync(tmp, { recursive: true, force: true });
    return libs;
  });
}

export function kafkaProperties(port: number, controllerPort: number, dataDir: string): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${dataDir}`,
    // One node: every internal topic has one replica.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'num.partitions=1',
    '',
  ].join('\n');
}

const JAVA_OPTS = ['-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true'];

/** Start one KRaft node (broker + controller) on 127.0.0.1 with a freshly formatted log dir. */
export async function startKafka(log: Log = () => {}): Promise<KafkaState> {
  const libs = await ensureKafka(log);
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const props = join(dir, 'server.properties');
  writeFileSync(props, kafkaProperties(port, controllerPort, join(dir, 'data')));
  const cp = `${libs}/*`;
  // A cluster id is 16 random bytes in URL-safe base64 (what `kafka-storage random-uuid` prints).
  await run('java', [...JAVA_OPTS, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', randomBytes(16).toString('base64url'), '-c', props], {
    log: () => {},
  });
  const logFile = join(dir, 'kafka.log');
  const child = spawnDaemon('java', [...JAVA_OPTS, '-cp', cp, 'kafka.Kafka', props], logFile);
  const brokers = `127.0.0.1:${port}`;
  await waitReady('kafka', child.pid!, logFile, 120_000, () => kafkaAnswers(brokers));
  log(`kafka: broker ready on ${brokers} (KRaft; data under ${dir})`);
  return { pid: child.pid!, port, dir, log: logFile, brokers };
}

/** True when the broker answers a metadata request (an open port alone is not a ready broker). */
export async function kafkaAnswers(brokers: string): Promise<boolean> {
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'ghosteam-peers', bootstrapBrokers: brokers.split(','), retries: 0, timeout: 2000 });
  try {
    await admin.metadata({ topics: [] });
    return true;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => {});
  }
}
