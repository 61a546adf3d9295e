// npm run images:build [-- components model-server operator]
// Builds the images with their own Dockerfiles on a local Debian base, smoke-tests each, saves
// them under ~/.cache/ghosteam-peers/images and loads them into the test cluster when it runs.
// Progress goes to stderr; the last stdout line is one JSON object with the figures.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../daemons.ts';
import { withLock } from '../install.ts';
import { denseNetToOnnx } from '../../../components/onnx/index.ts';
import { randomDenseNet } from '../../../components/onnx/random.ts';
import {
  BUILT_IMAGES,
  buildImage,
  builtImageId,
  ensureBaseImage,
  imageArchive,
  imageRef,
  imageSourceDigest,
  NOT_BUILT,
  readImageStamp,
  saveImage,
  startDocker,
  writeImageStamp,
  type BuiltImage,
  type Docker,
} from './images.ts';
import { IMAGE_PACKAGES } from './config.ts';
import { checkCluster, clusterImageId, ensurePackages, importImageArchive, readClusterState } from './node.ts';

const log = (line: string) => process.stderr.write(`[images] ${line}\n`);

/** A directory the images' uid 65532 can read and write. */
function sharedTemp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-smoke-'));
  chmodSync(dir, 0o777);
  return dir;
}

async function smoke(d: Docker, name: BuiltImage): Promise<string> {
  const ref = imageRef(name);
  const version = (await d.docker(['run', '--rm', '--network', 'none', '--entrypoint', 'node', ref, '/app/bin/ghosteam.mjs', '--version'])).trim();
  if (version !== '0.1.0' && !/^\d+\.\d+\.\d+/.test(version)) throw new Error(`${ref}: --version printed '${version}'`);
  const dir = sharedTemp();
  try {
    if (name === 'components') {
      // A real step on real data: ingest a CSV into a typed dataset, read back its output params.
      writeFileSync(join(dir, 'in.csv'), 'amount,label\n1.5,0\n2.5,1\n3.5,0\n');
      chmodSync(join(dir, 'in.csv'), 0o644);
      const out = await d.docker([
        'run',
        '--rm',
        '--network',
        'none',
        '--read-only',
        '--tmpfs',
        '/tmp',
        '-v',
        `${dir}:/work`,
        ref,
        'run',
        'ingest',
        '--input',
        'source=/work/in.csv',
        '--output',
        'dataset=/work/dataset',
        '--json',
      ]);
      // `docker` hands back stdout and stderr together, in the order they arrive: the step's log
      // (stderr) may come after the JSON line (stdout).
      const line = out
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (!line) throw new Error(`${ref}: component run ingest --json printed no JSON line:\n${out}`);
      const params = JSON.parse(line) as { rows?: unknown };
      if (Number(params.rows) !== 3) throw new Error(`${ref}: ingest of 3 rows reported ${JSON.stringify(params)}`);
      return `--version ${version}; component run ingest: ${JSON.stringify(params)}`;
    }
    if (name === 'model-server') {
      writeFileSync(join(dir, 'model.onnx'), denseNetToOnnx(randomDenseNet([4, 3, 1], 7), { modelName: 'smoke' }));
      chmodSync(join(dir, 'model.onnx'), 0o644);
      const port = await freePort();
      const cname = `ghosteam-smoke-${process.pid}`;
      await d.docker([
        'run',
        '--detach',
        '--name',
        cname,
        '--network',
        'host',
        '--read-only',
        '--tmpfs',
        '/tmp',
        '-v',
        `${dir}:/mnt/models:ro`,
        ref,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--model',
        'smoke=/mnt/models',
      ]);
      try {
        const base = `http://127.0.0.1:${port}`;
        let ready = 0;
        for (let i = 0; i < 120 && ready !== 200; i++) {
          ready = await fetch(`${base}/v2/health/ready`).then(
            (r) => r.status,
            () => 0,
          );
          if (ready !== 200) await sleep(500);
        }
        if (ready !== 200) throw new Error(`${ref}: not ready within 60s:\n${await d.docker(['logs', cname]).catch((e: Error) => e.message)}`);
        const meta = (await (await fetch(`${base}/v2/models/smoke`)).json()) as { inputs: { name: string }[] };
        const res = await fetch(`${base}/v2/models/smoke/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: meta.inputs[0].name, shape: [1, 4], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4] }] }),
        });
        const body = (await res.json()) as { outputs?: { data: number[] }[] };
        if (res.status !== 200 || !body.outputs?.[0]?.data?.length) throw new Error(`${ref}: OIP infer answered ${res.status} ${JSON.stringify(body)}`);
        return `--version ${version}; OIP infer answered ${JSON.stringify(body.outputs[0].data)}`;
      } finally {
        await d.docker(['rm', '--force', cname]).catch(() => {});
      }
    }
    // The operator: its CLI starts and says what it needs (the in-cluster start is test/cluster's).
    const help = await d.docker(['run', '--rm', '--network', 'none', '--read-only', '--tmpfs', '/tmp', ref, 'operator', '--help']);
    if (!/--leader-elect/.test(help)) throw new Error(`${ref}: operator --help does not list --leader-elect:\n${help}`);
    return `--version ${version}; operator --help lists its flags`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(args: string[]): Promise<number> {
  for (const a of args)
    if (!(BUILT_IMAGES as readonly string[]).includes(a))
      throw new Error(
        `unknown image '${a}'; choose from ${BUILT_IMAGES.join(', ')} (${Object.entries(NOT_BUILT)
          .map(([k, v]) => `${k} is not built here: it ${v}`)
          .join('; ')})`,
      );
  const names = (args.length ? args : BUILT_IMAGES) as BuiltImage[];
  for (const [k, why] of Object.entries(NOT_BUILT)) log(`${k}: not built here; it ${why}`);
  return withLock('images', async () => {
    const t0 = performance.now();
    const secs = (t: number) => Math.round((performance.now() - t) / 100) / 10;
    const figures: Record<string, unknown> = {};
    const tp = performance.now();
    await ensurePackages(log, IMAGE_PACKAGES, 'images packages');
    figures.packagesSeconds = secs(tp);
    const d = await startDocker(log);
    try {
      const tb = performance.now();
      const base = await ensureBaseImage(d, log);
      figures.base = { ref: base, seconds: secs(tb) };
      const cluster = readClusterState();
      const clusterUp = (await checkCluster(cluster)) === undefined;
      // The builds run side by side: each is mostly `npm ci` and `apt-get` waiting on the
      // registries, and one daemon builds several at once. The smoke tests follow one by one.
      const tbuild = performance.now();
      // Read before the builds: a file edited while they run leaves the image stale, never the record.
      const digests = names.map((name) => imageSourceDigest(name));
      const built = await Promise.all(
        names.map(async (name) => {
          const t = performance.now();
          log(`${name}: docker build -f images/${name}/Dockerfile --build-arg NODE_IMAGE=${base}`);
          await buildImage(d, name, base, () => {});
          log(`${name}: built in ${secs(t)}s`);
          return secs(t);
        }),
      );
      figures.buildsSeconds = secs(tbuild);
      for (const [i, name] of names.entries()) {
        const s = performance.now();
        const id = await builtImageId(d, name);
        const before = readImageStamp(name);
        // The same image ID is the same image, byte for byte: its smoke test has passed already.
        const reuse = before?.imageId === id && before.smoke !== undefined && existsSync(imageArchive(name));
        const result = reuse ? before.smoke : await smoke(d, name);
        log(`${name}: smoke test ${reuse ? `passed before for this image (${id.slice(0, 19)})` : 'passed'} (${result})`);
        const archive = reuse ? imageArchive(name) : await saveImage(d, name);
        writeImageStamp(name, { ref: imageRef(name), sourceDigest: digests[i], imageId: id, smoke: result });
        const load = clusterUp && clusterImageId(cluster!.containerdSocket, imageRef(name)) !== id;
        if (load) importImageArchive(cluster!.containerdSocket, archive);
        figures[name] = {
          ref: imageRef(name),
          buildSeconds: built[i],
          smokeSeconds: reuse ? 0 : secs(s),
          smoke: result,
          smokeReused: reuse,
          inCluster: clusterUp,
        };
      }
    } finally {
      await d.stop();
    }
    figures.totalSeconds = secs(t0);
    process.stdout.write(JSON.stringify(figures) + '\n');
    return 0;
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    log(err.message);
    process.exit(1);
  },
);
