// `npm run images:build`: every image in images/ built with the Dockerfile users build, on a base
// image made here from Debian's packages (Docker Hub is not reachable: debootstrap + `docker
// import`, with the Node.js this machine runs), then smoke-tested, saved under the cache and
// loaded into the test cluster's containerd when it runs. A test peer, never the product.
//
// The GPU trainer image is not built: its Dockerfile installs @tensorflow/tfjs-node-gpu, whose
// install downloads libtensorflow from outside the registries, and starts from an NVIDIA CUDA image
// that is not reachable either. test/components/image.test.ts keeps checking its inputs.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir, repoRoot, shortHash } from '../config.ts';
import { spawnDaemon, stopPid, waitReady } from '../daemons.ts';
import { clusterImages, importImageArchive, mountsUnder } from './node.ts';
import { run, which, withLock, type Log } from '../install.ts';

/** The images built here, by directory under images/, and the tag each gets (the one charts/ and synth use). */
export const BUILT_IMAGES = ['components', 'model-server', 'operator'] as const;
export type BuiltImage = (typeof BUILT_IMAGES)[number];
export const NOT_BUILT: Readonly<Record<string, string>> = {
  trainer:
    'installs @tensorflow/tfjs-node-gpu, whose install downloads libtensorflow from outside the registries, on an NVIDIA CUDA base image that is not reachable here',
};

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
export function imageRef(name: BuiltImage): string {
  return `ghcr.io/ghosteam/${name}:${version}`;
}

export const imagesDir = join(cacheDir, 'images');
export const dockerRoot = join(cacheDir, 'docker');
const DEBIAN_SUITE = 'bookworm';
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
/** What the base holds besides Node.js: its shared libraries, and the CA bundle npm needs. */
const BASE_PACKAGES = ['ca-certificates', 'libstdc++6'];

/**
 * The CA certificates this machine adds to Debian's (/usr/local/share/ca-certificates): where
 * registry traffic passes a TLS-inspecting proxy, npm inside a build needs them as the host's npm
 * does. They go into the local base only, never into the Dockerfiles or a published image.
 */
const LOCAL_CA_DIR = '/usr/local/share/ca-certificates';
function localCaFiles(): string[] {
  if (!existsSync(LOCAL_CA_DIR)) return [];
  return readdirSync(LOCAL_CA_DIR)
    .filter((f) => f.endsWith('.crt'))
    .sort();
}

/** The local base image: Debian bookworm (minbase) with this machine's node and npm where the public node image keeps them. */
export function baseImageRef(): string {
  const cas = localCaFiles().map((f) => readFileSync(join(LOCAL_CA_DIR, f), 'utf8'));
  return `ghosteam.local/node:${process.versions.node}-${DEBIAN_SUITE}-${shortHash(BASE_PACKAGES.join(','), DEBIAN_MIRROR, ...cas)}`;
}

export function imageArchive(name: BuiltImage): string {
  return join(imagesDir, `${name}.tar`);
}

/**
 * The build-context files an image's Dockerfile copies (every `COPY` without `--from`, directories
 * walked, `*` globs expanded), and the Dockerfile itself: what the image is made of from this tree.
 */
export function imageSourceFiles(name: BuiltImage): string[] {
  const dockerfile = `images/${name}/Dockerfile`;
  const text = readFileSync(join(repoRoot, dockerfile), 'utf8').replace(/\\\n/g, ' ');
  const files = new Set<string>([dockerfile]);
  // .dockerignore's name patterns (the build never sees those files).
  const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.includes('/'))
    .map((g) => new RegExp(`^${g.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`));
  const walk = (rel: string): void => {
    const abs = join(repoRoot, rel);
    if (!existsSync(abs) || ignored.some((re) => re.test(rel.split('/').pop()!))) return;
    if (!statSync(abs).isDirectory()) {
      files.add(rel);
      return;
    }
    for (const e of readdirSync(abs)) walk(join(rel, e));
  };
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0]?.toUpperCase() !== 'COPY' || words.some((w) => w.startsWith('--from'))) continue;
    const args = words.slice(1).filter((w) => !w.startsWith('--'));
    for (const src of args.slice(0, -1)) {
      if (!src.includes('*')) {
        walk(src);
        continue;
      }
      const dir = src.includes('/') ? src.slice(0, src.lastIndexOf('/')) : '.';
      const re = new RegExp(
        `^${src
          .slice(dir === '.' ? 0 : dir.length + 1)
          .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')}$`,
      );
      if (existsSync(join(repoRoot, dir))) for (const e of readdirSync(join(repoRoot, dir))) if (re.test(e)) walk(dir === '.' ? e : join(dir, e));
    }
  }
  return [...files].sort();
}

/** A digest of imageSourceFiles (paths and contents): changes whenever a file the image copies does. */
export function imageSourceDigest(name: BuiltImage): string {
  return shortHash(...imageSourceFiles(name).flatMap((f) => [f, readFileSync(join(repoRoot, f), 'latin1')]));
}

/** What `images:build` built last: from which sources, and the image's ID (its config digest). */
export interface ImageStamp {
  readonly ref: string;
  readonly sourceDigest: string;
  readonly imageId: string;
  /** What the smoke test of this very image (this imageId) found; a rebuild to the same ID needs no second one. */
  readonly smoke?: string;
}

export function imageStampFile(name: BuiltImage): string {
  return join(imagesDir, `${name}.json`);
}

export function readImageStamp(name: BuiltImage): ImageStamp | undefined {
  const f = imageStampFile(name);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as ImageStamp) : undefined;
}

/**
 * Why the cluster's copy of an image is not the one this tree makes, or undefined when it is:
 * `images:build` has not run since a file the image copies changed, or the cluster holds another
 * build than the last one (`clusterImageId` reads containerd's).
 */
export function staleImage(name: BuiltImage, clusterImageId: string | undefined): string | undefined {
  const stamp = readImageStamp(name);
  const ref = imageRef(name);
  if (!stamp) return `no record of building ${ref} (${imageStampFile(name)}); run \`npm run images:build\``;
  if (stamp.sourceDigest !== imageSourceDigest(name))
    return `${ref} was built from an older tree (a file images/${name}/Dockerfile copies changed since); run \`npm run images:build\``;
  if (clusterImageId === undefined) return `the cluster lacks ${ref}; run \`npm run images:build\``;
  if (clusterImageId !== stamp.imageId)
    return `the cluster holds another build of ${ref} (${clusterImageId.slice(0, 19)}, last built ${stamp.imageId.slice(0, 19)}); run \`npm run images:build\` to load the current one`;
  return undefined;
}

export interface Docker {
  readonly host: string;
  docker(args: readonly string[], opts?: { log?: Log; input?: string }): Promise<string>;
  stop(): Promise<void>;
}

/** Start a dockerd of our own (own socket and data root; no bridge, no iptables, no masquerade). */
export async function startDocker(log: Log): Promise<Docker> {
  if (!existsSync('/usr/sbin/dockerd')) {
    throw new Error('images: dockerd is not installed; `apt-get install docker.io` (Debian) provides it');
  }
  const dir = join(tmpdir(), `ghosteam-docker-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  mkdirSync(dockerRoot, { recursive: true });
  const sock = join(dir, 'docker.sock');
  const host = `unix://${sock}`;
  const logFile = join(dir, 'dockerd.log');
  const child = spawnDaemon(
    '/usr/sbin/dockerd',
    [
      '--host',
      host,
      '--data-root',
      dockerRoot,
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
      '--ip6tables=false',
      '--storage-driver=overlay2',
      '--containerd-namespace=ghosteam-docker',
      '--containerd-plugins-namespace=ghosteam-docker-plugins',
    ],
    logFile,
  );
  // The Debian client matches the Debian daemon; a newer CLI elsewhere on PATH may want buildx.
  const client = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
  const docker = (args: readonly string[], opts: { log?: Log; input?: string } = {}) =>
    new Promise<string>((resolve, reject) => {
      // stdin only when there is input: a command that exits before its stdin is written (`image
      // inspect` of a missing image can) made the write fail with EPIPE, an unhandled 'error' that
      // ended the whole harness; the exit code is what decides.
      const input = opts.input;
      const p = spawn(client, ['--host', host, ...args], {
        env: { ...process.env, DOCKER_BUILDKIT: '0' },
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      let out = '';
      const tail: string[] = [];
      const onData = (b: Buffer) => {
        const s = b.toString('utf8');
        out += s;
        for (const l of s.split('\n')) {
          if (!l.trim()) continue;
          tail.push(l);
          if (tail.length > 40) tail.shift();
          opts.log?.(l);
        }
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', onData);
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args.join(' ')} exited with ${code}:\n${tail.join('\n')}`))));
      if (input !== undefined) {
        p.stdin!.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code !== 'EPIPE') reject(e);
        });
        p.stdin!.end(input);
      }
    });
  await waitReady('dockerd', child.pid!, logFile, 60_000, async () => spawnSync(client, ['--host', host, 'version'], { stdio: 'ignore' }).status === 0);
  log(`docker: dockerd ready (${host})`);
  return {
    host,
    docker,
    async stop() {
      await stopPid(child.pid!, 20_000);
      // dockerd leaves its default network namespace mounted under the exec root.
      for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Build the base image once (debootstrap + docker import); later calls find it in dockerd. */
export async function ensureBaseImage(d: Docker, log: Log): Promise<string> {
  const ref = baseImageRef();
  if (
    await d.docker(['image', 'inspect', ref]).then(
      () => true,
      () => false,
    )
  )
    return ref;
  if (!which('debootstrap')) throw new Error('images: debootstrap is not installed; `apt-get install debootstrap` provides it');
  const root = join(cacheDir, `base-rootfs-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  log(`images: debootstrap ${DEBIAN_SUITE} (minbase + ${BASE_PACKAGES.join(', ')}) for ${ref}`);
  try {
    await run('debootstrap', ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, DEBIAN_SUITE, root, DEBIAN_MIRROR], { log: () => {} });
    // This machine's Node.js and npm, where the public node image keeps them.
    const node = process.execPath;
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    cpSync(node, join(root, 'usr/local/bin/node'));
    const npmDir = [join(node, '../../lib/node_modules/npm'), '/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm'].find((p) =>
      existsSync(join(p, 'bin/npm-cli.js')),
    );
    if (!npmDir) throw new Error(`images: npm not found beside ${node}`);
    cpSync(npmDir, join(root, 'usr/local/lib/node_modules/npm'), { recursive: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
    const cas = localCaFiles();
    if (cas.length > 0) {
      mkdirSync(join(root, LOCAL_CA_DIR), { recursive: true });
      for (const f of cas) cpSync(join(LOCAL_CA_DIR, f), join(root, LOCAL_CA_DIR, f));
      await run('chroot', [root, 'update-ca-certificates'], { log: () => {} });
    }
    rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
    rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
    mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
    const tar = join(cacheDir, `base-${process.pid}.tar`);
    await run('tar', ['--numeric-owner', '-C', root, '-cf', tar, '.'], { log: () => {} });
    const env = [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      ...(cas.length > 0 ? ['NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'] : []),
    ];
    await d.docker(['import', ...env.flatMap((e) => ['--change', `ENV ${e}`]), '--change', 'CMD ["node"]', tar, ref]);
    rmSync(tar, { force: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return ref;
}

/**
 * `docker build`, tried up to three times: a build's RUN steps fetch Debian's packages over the
 * network (apt-get, with its own retries), and a mirror caught mid-sync answers a hash-sum mismatch
 * that a later try does not meet. Every failed try is logged with its reason; the last one throws.
 */
async function dockerBuild(d: Docker, args: readonly string[], log: Log): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await d.docker(['build', '--network', 'host', ...args], { log });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      log(`images: docker build failed (try ${attempt} of 3), trying again in ${5 * attempt} s: ${(e as Error).message.split('\n').slice(-3).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 5000 * attempt));
    }
  }
}

/** Build one image with its own Dockerfile from the repository root, on the given base. */
export async function buildImage(d: Docker, name: BuiltImage, base: string, log: Log): Promise<string> {
  const ref = imageRef(name);
  await dockerBuild(d, ['--build-arg', `NODE_IMAGE=${base}`, '--file', `images/${name}/Dockerfile`, '--tag', ref, repoRoot], log);
  return ref;
}

/** The image's ID in this Docker daemon (its config digest). */
export async function builtImageId(d: Docker, name: BuiltImage): Promise<string> {
  return (await d.docker(['image', 'inspect', '--format', '{{.Id}}', imageRef(name)])).trim();
}

/** `docker save` the image under the cache (imageArchive). */
export async function saveImage(d: Docker, name: BuiltImage): Promise<string> {
  mkdirSync(imagesDir, { recursive: true });
  const out = imageArchive(name);
  const tmp = `${out}.tmp-${process.pid}`;
  await d.docker(['save', '--output', tmp, imageRef(name)]);
  renameSync(tmp, out);
  return out;
}

export function writeImageStamp(name: BuiltImage, stamp: ImageStamp): void {
  mkdirSync(imagesDir, { recursive: true });
  writeFileSync(imageStampFile(name), JSON.stringify(stamp, null, 2) + '\n');
}

/**
 * A test fixture's image: `dir` holds a Dockerfile that starts `FROM ${BASE}` (given the local
 * Debian base) and the files it copies. Built once per content (the tag is a hash of the folder's
 * files) and loaded into the running cluster's containerd; later calls find it there.
 */
export function fixtureImageRef(name: string, dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => !f.endsWith('.ts'))
    .sort();
  return `ghosteam.local/${name}:${shortHash(...files.flatMap((f) => [f, readFileSync(join(dir, f), 'utf8')]))}`;
}

export async function ensureFixtureImage(name: string, dir: string, containerdSocket: string, log: Log): Promise<string> {
  const ref = fixtureImageRef(name, dir);
  if (clusterImages(containerdSocket).has(ref)) return ref;
  return withLock('images', async () => {
    if (clusterImages(containerdSocket).has(ref)) return ref;
    const d = await startDocker(log);
    try {
      const base = await ensureBaseImage(d, log);
      await dockerBuild(d, ['--build-arg', `BASE=${base}`, '--tag', ref, dir], log);
      mkdirSync(imagesDir, { recursive: true });
      const archive = join(imagesDir, `${name}.tar.tmp-${process.pid}`);
      await d.docker(['save', '--output', archive, ref]);
      try {
        importImageArchive(containerdSocket, archive);
      } finally {
        rmSync(archive, { force: true });
      }
      log(`images: ${ref} built from ${dir} and loaded into the cluster`);
      return ref;
    } finally {
      await d.stop();
    }
  });
}
