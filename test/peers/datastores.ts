// The data sources' peers: PostgreSQL (Debian's packages, run as an unprivileged user in a temp
// data dir), an S3-compatible object store (s3proxy, the same one the test cluster runs:
// cluster/argo.ts) and a Kafka broker (Apache Kafka's jars from Maven Central, one KRaft node that
// is broker and controller; the test cluster starts one more on its node address). Each binds
// 127.0.0.1 on a free port and keeps its data in a temp dir.
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

/**
 * Start PostgreSQL on 127.0.0.1 (no Unix socket outside its temp dir), from the seed cluster.
 * `tls`: a server certificate and key (PEM) to serve TLS with (ssl=on; plain connections still
 * allowed, as pg_hba's `host` lines allow both).
 */
export async function startPostgres(log: Log = () => {}, opts: { tls?: { cert: string; key: string } } = {}): Promise<PostgresState> {
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
  const tlsArgs: string[] = [];
  if (opts.tls) {
    // The server reads its key only when the server's user owns it and no one else can read it.
    cpSync(opts.tls.cert, join(dir, 'server.crt'));
    cpSync(opts.tls.key, join(dir, 'server.key'));
    chmodSync(join(dir, 'server.key'), 0o600);
    chownTree(join(dir, 'server.crt'), user);
    chownTree(join(dir, 'server.key'), user);
    tlsArgs.push('-c', 'ssl=on', '-c', `ssl_cert_file=${join(dir, 'server.crt')}`, '-c', `ssl_key_file=${join(dir, 'server.key')}`);
  }
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
    ...tlsArgs,
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

/** Extra listeners of a secured test broker: ports, the server's PEM (key + chain) and the PLAIN users. */
export interface KafkaSecureListeners {
  readonly saslSsl: number;
  readonly ssl: number;
  readonly saslPlaintext: number;
  /** PKCS#8 key followed by the certificate chain (Kafka's PEM keystore). */
  readonly keystore: string;
  readonly plainUsers: Readonly<Record<string, string>>;
}

/** A one-node KRaft broker's server.properties; every listener binds and advertises `host` (default 127.0.0.1). */
export function kafkaProperties(port: number, controllerPort: number, dataDir: string, secure?: KafkaSecureListeners, host = '127.0.0.1'): string {
  const extra = secure ? [`SASL_SSL://${host}:${secure.saslSsl}`, `SSL://${host}:${secure.ssl}`, `SASL_PLAINTEXT://${host}:${secure.saslPlaintext}`] : [];
  const jaas = (listener: string) =>
    secure
      ? [
          `listener.name.${listener}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${Object.entries(secure.plainUsers)
            .map(([u, pw]) => `user_${u}="${pw}"`)
            .join(' ')};`,
          `listener.name.${listener}.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
          `listener.name.${listener}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
        ]
      : [];
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${host}:${controllerPort}`,
    `listeners=${[`PLAINTEXT://${host}:${port}`, `CONTROLLER://${host}:${controllerPort}`, ...extra].join(',')}`,
    `advertised.listeners=${[`PLAINTEXT://${host}:${port}`, ...extra].join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${secure ? ',SASL_SSL:SASL_SSL,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT' : ''}`,
    ...(secure
      ? [
          'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
          'ssl.keystore.type=PEM',
          `ssl.keystore.location=${secure.keystore}`,
          'ssl.client.auth=none',
          ...jaas('sasl_ssl'),
          ...jaas('sasl_plaintext'),
        ]
      : []),
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

/** A secured broker's listeners and credentials, for tests of SASL and TLS (never peers:up's shared broker). */
export interface KafkaSecured {
  readonly saslSslBrokers: string;
  readonly sslBrokers: string;
  readonly saslPlaintextBrokers: string;
  /** The CA that signed the broker's certificate (PEM file). */
  readonly caFile: string;
  /** SCRAM-SHA-256 and SCRAM-SHA-512 users (made at format time) and PLAIN users (the JAAS config): name → password. */
  readonly users: Readonly<Record<string, string>>;
}

/**
 * Start one KRaft node (broker + controller) with a freshly formatted log dir, listening on and
 * advertising `host` (default 127.0.0.1; the test cluster passes its node address so pods reach
 * it: cluster/node.ts), its files under `dir` (default a new temp dir).
 * `secure`: also SASL_SSL, SSL and SASL_PLAINTEXT listeners (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)
 * with a certificate from a CA made here with openssl, and these users.
 */
export async function startKafka(
  log: Log = () => {},
  opts: { secure?: { users: Readonly<Record<string, string>> }; host?: string; dir?: string } = {},
): Promise<KafkaState & { secured?: KafkaSecured }> {
  const libs = await ensureKafka(log);
  const host = opts.host ?? '127.0.0.1';
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ghosteam-kafka-'));
  mkdirSync(dir, { recursive: true });
  const [port, controllerPort] = [await freePort(), await freePort()];
  const props = join(dir, 'server.properties');
  let secure: KafkaSecureListeners | undefined;
  let caFile: string | undefined;
  if (opts.secure) {
    const { makeCa, makeLeaf } = await import('../security/certs.ts');
    const ca = makeCa(dir, 'kafka-ca');
    const leaf = makeLeaf(dir, ca, 'kafka-broker');
    const keystore = join(dir, 'kafka-broker.pem');
    writeFileSync(keystore, readFileSync(leaf.key, 'utf8') + readFileSync(leaf.cert, 'utf8'));
    secure = { saslSsl: await freePort(), ssl: await freePort(), saslPlaintext: await freePort(), keystore, plainUsers: opts.secure.users };
    caFile = ca.cert;
  }
  writeFileSync(props, kafkaProperties(port, controllerPort, join(dir, 'data'), secure, host));
  const cp = `${libs}/*`;
  const scram = Object.entries(opts.secure?.users ?? {}).flatMap(([name, password]) =>
    ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${name},password=${password}]`]),
  );
  // A cluster id is 16 random bytes in URL-safe base64 (what `kafka-storage random-uuid` prints).
  // One that starts with '-' (1 in 64) is read by the tool's argument parser as an option ("argument
  // --cluster-id/-t: expected one argument"), which failed a cluster:up: draw again.
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  await run('java', [...JAVA_OPTS, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, ...scram], {
    log: () => {},
  });
  const logFile = join(dir, 'kafka.log');
  const child = spawnDaemon('java', [...JAVA_OPTS, '-cp', cp, 'kafka.Kafka', props], logFile);
  const brokers = `${host}:${port}`;
  await waitReady('kafka', child.pid!, logFile, 120_000, () => kafkaAnswers(brokers));
  log(`kafka: broker ready on ${brokers} (KRaft; data under ${dir})`);
  const secured =
    secure && caFile
      ? {
          saslSslBrokers: `${host}:${secure.saslSsl}`,
          sslBrokers: `${host}:${secure.ssl}`,
          saslPlaintextBrokers: `${host}:${secure.saslPlaintext}`,
          caFile,
          users: opts.secure!.users,
        }
      : undefined;
  return { pid: child.pid!, port, dir, log: logFile, brokers, ...(secured ? { secured } : {}) };
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
