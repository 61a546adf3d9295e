/**
 * A user's repository as `ghosteam init` makes it: package.json depending on ghosteam (this checkout,
 * by file: link) and cdk8s, an app importing `ghosteam/charts` and `ghosteam/pipelines`, training data
 * in the repository, and a Model with a short canary (2 s steps) so a rollout plays out in a test.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface AppKnobs {
  readonly epochs: number;
  /** The gate's rocAuc threshold. */
  readonly minAuc: number;
  readonly steps: readonly number[];
  readonly maxErrorRate: number;
  /** When set, the app does not compile (a broken commit). */
  readonly broken?: boolean;
}

export const BASE: AppKnobs = { epochs: 3, minAuc: 0.7, steps: [50, 100], maxErrorRate: 0.5 };

export function appSource(k: AppKnobs): string {
  return `import { Chart, type App } from 'cdk8s';
import { Model, Rollout } from 'ghosteam/charts';
import { Cache, Pipeline } from 'ghosteam/pipelines';
${k.broken ? "import { NotExported } from 'ghosteam/charts';\nNotExported();\n" : ''}
export default function loop(app: App): void {
  const chart = new Chart(app, 'loop', { namespace: 'ml' });
  const p = new Pipeline(chart, 'loop-train', {});
  const data = p.param('data', { type: 'string', default: 'data/train.csv' });
  const epochs = p.param('epochs', { type: 'number', default: ${k.epochs} });
  const quality = p.param('gate', { type: 'json', default: { rocAuc: '>= ${k.minAuc}' } });
  const ingest = p.component('ingest', 'ingest', { params: { path: data } });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') }, params: { stratify: 'y', testFraction: 0.25, seed: 3 } });
  const train = p.component('train', 'train-tabular', { inputs: { train: split.output('train') }, params: { label: 'y', model: 'mlp', hidden: [8], epochs, seed: 3 } });
  const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
  const gate = p.component('gate', 'gate', { inputs: { metrics: evaluate.output('metrics') }, params: { gate: quality } });
  const passed = gate.outputParam('passed').eq(true);
  const onnx = p.component('export-onnx', 'export-onnx', { inputs: { model: train.output('model') }, when: passed });
  p.component('register', 'register', {
    inputs: { model: onnx.output('onnx'), metrics: evaluate.output('metrics'), dataset: ingest.output('dataset'), trained: train.output('model') },
    params: { name: 'loop' }, when: passed, cache: Cache.disabled(),
  });
  new Model(chart, 'loop', {
    registry: 'loop',
    rollout: Rollout.canary({ steps: [${k.steps.join(', ')}], interval: '2s', minRequests: 5, maxErrorRate: ${k.maxErrorRate} }),
  });
}
`;
}

/** Rows of y ~ x0 + x1 > 0 with noise: an MLP reaches rocAuc ≈ 0.9 in a few epochs. */
export function trainCsv(rows = 1200, seed = 11): string {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const out = ['x0,x1,x2,x3,y'];
  for (let i = 0; i < rows; i++) {
    const x = [rnd() * 2 - 1, rnd() * 2 - 1, rnd() * 2 - 1, rnd() * 2 - 1];
    const y = x[0] + x[1] + (rnd() - 0.5) * 0.6 > 0 ? 1 : 0;
    out.push(`${x.map((v) => v.toFixed(4)).join(',')},${y}`);
  }
  return `${out.join('\n')}\n`;
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** A bare repository `origin.git` and a working clone `work` with the app committed on main. */
export function makeUserRepo(
  dir: string,
  knobs: AppKnobs = BASE,
): { origin: string; work: string; commit: (msg: string, k: AppKnobs | undefined, files?: Record<string, string>) => string } {
  const origin = join(dir, 'origin.git');
  const work = join(dir, 'work');
  git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', origin);
  mkdirSync(join(work, 'data'), { recursive: true });
  git(work, 'init', '--quiet', '--initial-branch=main');
  git(work, 'remote', 'add', 'origin', origin);
  const cdk8s = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'cdk8s', 'package.json'), 'utf8')) as { version: string }).version;
  const constructs = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'constructs', 'package.json'), 'utf8')) as { version: string }).version;
  writeFileSync(
    join(work, 'package.json'),
    `${JSON.stringify({ name: 'loop-app', private: true, type: 'module', dependencies: { ghosteam: `file:${ROOT}`, cdk8s, constructs } }, null, 2)}\n`,
  );
  writeFileSync(join(work, '.gitignore'), 'node_modules/\n.ghosteam/\n');
  writeFileSync(join(work, 'data', 'train.csv'), trainCsv());
  const commit = (msg: string, k: AppKnobs | undefined, files: Record<string, string> = {}) => {
    if (git(dir, 'ls-remote', origin, 'refs/heads/main')) git(work, 'pull', '--quiet', '--rebase', 'origin', 'main');
    if (k) writeFileSync(join(work, 'app.ts'), appSource(k));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(work, f), text);
    git(work, 'add', '-A');
    git(work, 'commit', '--quiet', '-m', msg);
    git(work, 'push', '--quiet', 'origin', 'HEAD:main');
    return git(work, 'rev-parse', 'HEAD');
  };
  commit('the loop app', knobs);
  return { origin, work, commit };
}
