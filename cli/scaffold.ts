/**
 * What `ghosteam init <dir>` writes: a working app outside this repository — package.json (ghosteam,
 * cdk8s and constructs, "type": "module"), tsconfig.json, app.ts (a training pipeline and a served
 * model), seeded sample data and a README — that `ghosteam synth` and `ghosteam run` take at once.
 * Pure: the same name and options give the same files.
 */
import { mulberry32 } from '../components/random.ts';
import { toDnsLabel } from '../api/names.ts';

export interface ScaffoldOptions {
  /** The app's name (package name, chart and pipeline names derive from it). */
  readonly name: string;
  /** The ghosteam dependency: a version range, or `file:`/tarball spec. */
  readonly ghosteam: string;
  /** Exact versions of the packages the app shares with ghosteam. */
  readonly cdk8s: string;
  readonly constructs: string;
}

/** Seeded binary-classification sample: four features, label from a fixed logistic ground truth. */
export function sampleCsv(rows = 800, seed = 7): string {
  const r = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  const lines = ['tenure_months,monthly_spend,support_calls,discount,churned'];
  for (let i = 0; i < rows; i++) {
    const tenure = Math.max(1, Math.round(24 + normal() * 14));
    const spend = Math.round((60 + normal() * 20) * 100) / 100;
    const calls = Math.max(0, Math.round(1.5 + normal() * 1.4));
    const discount = r() < 0.3 ? 1 : 0;
    const logit = -0.4 - 0.07 * (tenure - 24) + 0.025 * (spend - 60) + 0.8 * (calls - 1.5) - 0.9 * discount;
    const label = r() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    lines.push([tenure, spend, calls, discount, label].join(','));
  }
  return lines.join('\n') + '\n';
}

/** The scaffolded app's `allowScripts` (npm's install-script policy): the same denial as this repository's package.json. */
export const SCAFFOLD_ALLOW_SCRIPTS: Readonly<Record<string, boolean>> = { 'onnxruntime-node': false };

export function scaffoldFiles(o: ScaffoldOptions): Record<string, string> {
  const id = toDnsLabel(o.name.replace(/^@[^/]+\//, '')) || 'my-app';
  const pkg = {
    name: o.name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      synth: 'ghosteam synth app.ts --out dist',
      train: 'ghosteam run app.ts',
      plan: 'ghosteam plan --base origin/main',
    },
    dependencies: { cdk8s: o.cdk8s, constructs: o.constructs, ghosteam: o.ghosteam },
    // npm's install-script policy (npm >= 11): onnxruntime-node's postinstall only downloads CUDA
    // binaries from NuGet; the CPU build ghosteam serves with ships inside the package.
    allowScripts: SCAFFOLD_ALLOW_SCRIPTS,
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      types: [],
    },
    include: ['*.ts'],
  };
  const app = `/**
 * ${o.name}: a training pipeline and the model it serves, declared with ghosteam.
 *
 *   npx ghosteam synth app.ts --out dist   # Argo Workflows + KServe + ghosteam YAML
 *   npx ghosteam run app.ts                # the pipeline, on this machine
 */
import { Chart, type App } from 'cdk8s';
import { Model, Rollout } from 'ghosteam/charts';
import { Pipeline } from 'ghosteam/pipelines';

export const MODEL = '${id}';

export default function (app: App): void {
  const chart = new Chart(app, '${id}', { namespace: '${id}' });

  const p = new Pipeline(chart, '${id}-train', { description: 'Trains the churn classifier and registers it when it passes the gate' });
  const data = p.param('data', { type: 'string', default: 'data/sample.csv', description: 'Training data (CSV, JSON Lines or Parquet)' });
  const ingest = p.component('ingest', 'ingest', { params: { path: data } });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') }, params: { stratify: 'churned', testFraction: 0.25, seed: 7 } });
  const train = p.component('train', 'train-tabular', { inputs: { train: split.output('train') }, params: { label: 'churned', epochs: 30, seed: 7 } });
  const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
  const gate = p.component('gate', 'gate', { inputs: { metrics: evaluate.output('metrics') }, params: { gate: { rocAuc: '>= 0.7' } } });
  const passed = gate.outputParam('passed').eq(true);
  const onnx = p.component('export-onnx', 'export-onnx', { inputs: { model: train.output('model') }, when: passed });
  p.component('register', 'register', {
    inputs: { model: onnx.output('onnx'), metrics: evaluate.output('metrics'), dataset: ingest.output('dataset') },
    params: { name: MODEL },
    when: passed,
  });

  new Model(chart, '${id}', { registry: MODEL, rollout: Rollout.canary({ steps: [10, 50, 100], interval: '5m' }) });
}
`;
  const readme = `# ${o.name}

A machine-learning app declared with [ghosteam](https://github.com/ghosteam/ghosteam).

\`\`\`sh
npm install
npx ghosteam run app.ts                # train on data/sample.csv, evaluate, gate, register (.ghosteam/)
npx ghosteam synth app.ts --out dist   # the same pipeline as Argo Workflows YAML, plus KServe and ghosteam objects
npx ghosteam serve --registry-dir .ghosteam/registry --model ${id}:1   # serve the registered model (Open Inference Protocol)
\`\`\`

Edit \`app.ts\` to change the pipeline; \`ghosteam run\` re-runs only the steps a change affects.
`;
  return {
    'package.json': JSON.stringify(pkg, null, 2) + '\n',
    'tsconfig.json': JSON.stringify(tsconfig, null, 2) + '\n',
    'app.ts': app,
    'data/sample.csv': sampleCsv(),
    'README.md': readme,
    '.gitignore': 'node_modules/\ndist/\n.ghosteam/\n',
  };
}
