/**
 * `npm run demo`: the whole ghosteam loop on one machine, on the embedded default (no cluster, no
 * Python, no network), with a self-checking outcome and an offline HTML report.
 *
 *   1. seeded synthetic fraud data: a reference period and a drifted period (./data.ts);
 *   2. the example app (./app.ts) committed into a fresh git repository, the demo's source of truth;
 *   3. the training pipeline on the local engine, with live progress → v1 in the local registry;
 *   4. v1 served by the local Open Inference Protocol server; reference traffic, then drifted
 *      traffic, as real HTTP infer calls with payload logging;
 *   5. the DriftMonitor finds the drift and starts exactly one TrainingRun (reason drift) → v2;
 *   6. the Model reconciler canaries v2 (10 → 50 → 100%) with metric analysis and promotes it; a
 *      broken v3 (./demo-broken.ts) fails its analysis on real errors and is rolled back;
 *   7. the operator's write-back commits the pin to models.lock.json; `ghosteam plan` compares first and last commit;
 *   8. labels arrive late (POST /v2/models/fraud/feedback) and disagree with v2: the operator's local
 *      evaluation of the model's alert rules (`Alerts.of`, the same rules a PrometheusRule carries)
 *      fires GhosteamModelAccuracyLow to the console, a webhook and the report;
 *   9. a timeline on stdout and demo-report.html.
 *
 * The operator is the real one (controllers/local.ts: the same reconcilers as in the cluster). Its
 * clock is a demo clock that runs `--speed` times faster (./demo-clock.ts), so the example's
 * declared 1-minute canary steps and 10-minute drift schedule play out in seconds.
 *
 *   node --import tsx examples/fraud-detection/demo.ts [--dir .ghosteam/demo] [--report demo-report.html]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import writeFileAtomic from 'write-file-atomic';
import * as ort from 'onnxruntime-node';
import pc from 'picocolors';
import { CronExpressionParser } from 'cron-parser';
import { synthApp } from '../../charts/synth.ts';
import { buildReferenceSummary, detectDriftFromPayloadLog, type ColumnDrift } from '../../components/drift/index.ts';
import { startModelServer, ModelServerAdminClient } from '../../components/model-server/index.ts';
import { LocalRegistry } from '../../components/registry/index.ts';
import { startLocalOperator, type LocalOperator } from '../../controllers/local.ts';
import { payloadDriftChecker, payloadPredictionDrift } from '../../controllers/backends/drift-check.ts';
import { ModelServerMetrics, type ModelServerAdmin } from '../../controllers/backends/metrics.ts';
import type { MetricsSource } from '../../controllers/backends/types.ts';
import type { DriftChecker } from '../../controllers/reconcilers/drift-monitor.ts';
import { createLogger } from '../../controllers/runtime/log.ts';
import type { DriftMonitorStatus, ModelStatus, TrainingRunStatus } from '../../api/crds/index.ts';
import { runPlan, renderText } from '../../gitops/index.ts';
import { createReporter, loadPipelines, runPipeline } from '../../pipelines/local/index.ts';
import type { RunOptions } from '../../pipelines/local/types.ts';
import { pipelineSpecHash } from '../../pipelines/hash.ts';
import type { PipelineSpec } from '../../pipelines/spec.ts';
import { EXAMPLE_ROWS, EXAMPLE_SEED, FEATURES, generate, toCsv, type FraudRow } from './data.ts';
import { NAMESPACE } from './app.ts';
import { DemoClock } from './demo-clock.ts';
import { Traffic } from './demo-traffic.ts';
import { brokenLookupModel } from './demo-broken.ts';
import { renderDemoReport, type DemoAlert, type DemoRecord, type DriftCheckRecord, type TimelineEntry } from './demo-report.ts';
import type { K8sObject } from '../../api/objects.ts';
import { Alerts } from '../../charts/alerts.ts';
import type { LocalAlert } from '../../controllers/planners/alerts.ts';
import { createServer } from 'node:http';

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(here, '..', '..');
const MARKER = '.ghosteam-demo';
/** Wall-clock time from starting the operator to the first scheduled drift check. */
const CHECK_LEAD_MS = 5000;
/** The outcome checks runDemo makes; fewer means a step never ran. */
const EXPECTED_CHECKS = 9;

export interface DemoOptions {
  /** The demo's workspace (recreated on every run). @default '.ghosteam/demo' */
  readonly dir?: string;
  /** Where the HTML report goes. @default 'demo-report.html' */
  readonly report?: string;
  /** Labelled rows per period (training data). @default 20000 */
  readonly rows?: number;
  /** Distinct live rows per traffic period (cycled through). @default 4000 */
  readonly trafficRows?: number;
  /** How much faster the demo clock runs than the wall clock. @default 15 */
  readonly speed?: number;
  /** Requests per second of live traffic. @default 500 */
  readonly rate?: number;
  readonly seed?: number;
  /** Extra pipeline params for every training run (tests: fewer epochs). */
  readonly params?: Readonly<Record<string, string>>;
  /** Progress display of the training runs. @default 'tty' when stdout is a terminal, else 'quiet' */
  readonly progress?: 'tty' | 'quiet';
  /** Output lines. @default process.stdout */
  readonly print?: (line: string) => void;
  /** Longest wait for any one step. @default 90000 */
  readonly stepTimeoutMs?: number;
}

export interface DemoCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface DemoOutcome {
  readonly ok: boolean;
  readonly checks: readonly DemoCheck[];
  readonly record: DemoRecord;
  readonly reportPath: string;
  readonly repoDir: string;
  readonly wallMs: number;
  readonly cpuMs: number;
}

/** The example app as a user's repository holds it: ghosteam imported by its package name. */
export function rewriteImports(source: string, file: string): string {
  const out = source.replace(/from '\.\.\/\.\.\/(charts|pipelines|components|controllers|gitops)\/index\.ts'/g, "from 'ghosteam/$1'");
  const left = /from '\.\.\/[^']*'/.exec(out);
  if (left)
    throw new Error(
      `${file}: import ${left[0].slice(5)} points outside the example; import ghosteam by its package name (ghosteam/charts, ghosteam/pipelines)`,
    );
  return out;
}

/**
 * Built-in components read files relative to the process's working directory (RunOptions.cwd is for
 * command tasks), so string params naming a file of the demo repository are made absolute.
 */
export function repoPathParams(spec: PipelineSpec, params: Readonly<Record<string, unknown>>, repo: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...params };
  for (const p of spec.params) {
    const v = out[p.name] ?? p.default;
    if (typeof v === 'string' && !v.startsWith('/') && existsSync(join(repo, v))) out[p.name] = join(repo, v);
  }
  return out;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function prepareWorkspace(dir: string): void {
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(MARKER))
      throw new Error(`${dir} exists and is not a demo workspace (no ${MARKER} in it); pass --dir with a new or empty directory`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MARKER), 'created by `npm run demo`; removed and recreated on every run\n');
}

function rowsOf(rows: readonly FraudRow[]): number[][] {
  return rows.map((r) => r.values);
}

export async function runDemo(o: DemoOptions = {}): Promise<DemoOutcome> {
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const dir = resolve(o.dir ?? '.ghosteam/demo');
  const reportPath = resolve(o.report ?? 'demo-report.html');
  const rows = o.rows ?? EXAMPLE_ROWS;
  const trafficRows = o.trafficRows ?? 4000;
  const speed = o.speed ?? 15;
  const rate = o.rate ?? 500;
  const seed = o.seed ?? EXAMPLE_SEED;
  const stepTimeout = o.stepTimeoutMs ?? 90_000;
  // Wall-clock time until the operator starts; from then on the demo clock (see below).
  let clock = new DemoClock(1, t0);
  const timeline: TimelineEntry[] = [];
  const log = (step: string, text: string) => {
    const now = Date.now();
    timeline.push({ t: now, demoT: clock.toDemo(now), step, text });
    print(
      `${pc.dim(`[${((now - t0) / 1000).toFixed(1).padStart(5)}s · ${clock.speed === 1 ? 'wall' : 'demo'} ${new Date(clock.toDemo(now)).toISOString().slice(11, 19)}]`)} ${pc.bold(step.padEnd(8))} ${text}`,
    );
  };
  const checks: DemoCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });

  // Every failed request to the broken v3 would print an onnxruntime error line; the server answers 500 either way.
  ort.env.logLevel = 'fatal';

  print(
    pc.bold('ghosteam demo') +
      pc.dim(
        ` — the demo clock runs ${speed}x: the example's 1-minute canary steps take ${(60 / speed).toFixed(1)} s, its 10-minute drift schedule ${(600 / speed).toFixed(0)} s`,
      ),
  );

  // 1. Data.
  prepareWorkspace(dir);
  const repo = join(dir, 'repo');
  const registryDir = join(dir, 'registry');
  const payloadLog = join(dir, 'payload.jsonl');
  mkdirSync(join(repo, 'data', 'fraud'), { recursive: true });
  const reference = generate('reference', rows, seed);
  const drifted = generate('drifted', rows, seed + 1);
  writeFileSync(join(repo, 'data', 'fraud', 'reference.csv'), toCsv(reference));
  writeFileSync(join(repo, 'data', 'fraud', 'recent.csv'), toCsv(drifted));
  const liveReference = rowsOf(generate('reference', trafficRows, seed + 100));
  const liveDrifted = rowsOf(generate('drifted', trafficRows, seed + 101));
  const rate1 = (rs: readonly FraudRow[]) => rs.filter((r) => r.label === 1).length / rs.length;
  log(
    'data',
    `${rows.toLocaleString('en')} labelled rows per period (seed ${seed}): reference fraud rate ${(rate1(reference) * 100).toFixed(1)}%, drifted ${(rate1(drifted) * 100).toFixed(1)}%`,
  );

  // 2. A fresh git repository holding the example app, importing ghosteam by its package name.
  const exampleDir = here;
  writeFileSync(join(repo, 'app.ts'), rewriteImports(readFileSync(join(exampleDir, 'app.ts'), 'utf8'), 'examples/fraud-detection/app.ts'));
  writeFileSync(join(repo, 'data.ts'), readFileSync(join(exampleDir, 'data.ts'), 'utf8'));
  writeFileSync(join(repo, '.gitignore'), 'node_modules/\n.ghosteam/\ndata/\n');
  writeFileSync(
    join(repo, 'package.json'),
    `${JSON.stringify({ name: 'fraud-detection', private: true, type: 'module', dependencies: { ghosteam: '*', cdk8s: '*' } }, null, 2)}\n`,
  );
  // What `npm install ghosteam` would give: node_modules/ghosteam (this checkout) and its cdk8s.
  mkdirSync(join(repo, 'node_modules'), { recursive: true });
  symlinkSync(projectRoot, join(repo, 'node_modules', 'ghosteam'), 'dir');
  symlinkSync(join(projectRoot, 'node_modules', 'cdk8s'), join(repo, 'node_modules', 'cdk8s'), 'dir');
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.name', 'ghosteam demo');
  git(repo, 'config', 'user.email', 'demo@ghosteam.invalid');
  git(repo, 'config', 'commit.gpgsign', 'false');
  // Write-back pushes into this repository, as it would push to the team's remote.
  git(repo, 'config', 'receive.denyCurrentBranch', 'updateInstead');
  git(repo, 'add', 'app.ts', 'data.ts', '.gitignore', 'package.json');
  git(repo, 'commit', '-q', '-m', 'fraud-detection: pipeline, model with canary rollout, drift monitor');
  const firstCommit = git(repo, 'rev-parse', 'HEAD');
  log('git', `committed the example app to a fresh repository ${relative(process.cwd(), repo) || repo} (${firstCommit.slice(0, 7)})`);

  const appFile = join(repo, 'app.ts');
  const synth = await synthApp(appFile, { crds: false });
  const pipelines = await loadPipelines(appFile);
  const pipelineMap = new Map(pipelines.map((p) => [p.name, { ...p, specHash: pipelineSpecHash(p) }]));
  const trainSpec = pipelines[0];
  const modelObj = synth.objects.find((x): x is K8sObject => x.kind === 'Model');
  const monitorObj = synth.objects.find((x): x is K8sObject => x.kind === 'DriftMonitor');
  if (!trainSpec || !modelObj || !monitorObj)
    throw new Error(`${appFile}: the demo needs a Pipeline, a Model and a DriftMonitor; the app synthesized ${synth.objects.map((x) => x.kind).join(', ')}`);
  const ns = modelObj.metadata.namespace ?? NAMESPACE;
  const modelName = (modelObj.spec as { modelRef: { name: string } }).modelRef.name;

  // 3. Train v1 on the local engine.
  // The demo is the embedded default: its register steps write to the demo's local registry even
  // where MLFLOW_TRACKING_URI is set (the register component would pick MLflow first).
  const prevRegistryEnv = process.env.GHOSTEAM_REGISTRY_DIR;
  const prevMlflowEnv = process.env.MLFLOW_TRACKING_URI;
  process.env.GHOSTEAM_REGISTRY_DIR = registryDir;
  delete process.env.MLFLOW_TRACKING_URI;
  if (prevMlflowEnv !== undefined) log('setup', `MLFLOW_TRACKING_URI is set; the demo uses its own local registry at ${registryDir} and leaves MLflow alone`);
  const registry = new LocalRegistry({ dir: registryDir });
  const extraParams = o.params ?? {};
  const progress = o.progress ?? (process.stdout.isTTY ? 'tty' : 'quiet');
  let op: LocalOperator | undefined;
  let server: Awaited<ReturnType<typeof startModelServer>> | undefined;
  let traffic: Traffic | undefined;
  let watcher: { stop(): Promise<void> } | undefined;
  let alertHook: Awaited<ReturnType<typeof startAlertHook>> | undefined;
  const operatorLog: string[] = [];
  const record: DemoRecord = {
    startedAt: new Date(t0).toISOString(),
    speed,
    rows,
    seed,
    rate,
    timeline,
    versions: [],
    driftChecks: [],
    rollouts: [],
    traffic: [],
    gitLog: [],
    plan: '',
    driftCharts: [],
    driftSeries: [],
    markers: [],
    alerts: [],
    checks,
    wallMs: 0,
    cpuMs: 0,
    repo: relative(process.cwd(), repo) || repo,
    features: [...FEATURES],
    firstCommit,
  };
  try {
    log('train', `pipeline ${trainSpec.name} on the local engine: ${trainSpec.tasks.map((t) => t.name).join(' → ')}`);
    const reporter = createReporter(progress);
    const v1run = await runPipeline(trainSpec, {
      reason: 'manual',
      cwd: repo,
      storeDir: '.ghosteam',
      params: repoPathParams(trainSpec, extraParams, repo) as RunOptions['params'],
      onEvent: (e) => reporter.onEvent(e),
    });
    reporter.stop();
    if (v1run.status !== 'Succeeded')
      throw new Error(
        `the first training run ${v1run.id} ended ${v1run.status}: ${v1run.message ?? 'see its logs under ' + join(repo, '.ghosteam', 'runs', v1run.id)}`,
      );
    const v1 = await registry.resolve(modelName, 'latest');
    log('train', `registered ${modelName} v${v1.version}: test ROC AUC ${v1.metrics.rocAuc?.toFixed(3)} (gate rocAuc >= 0.80) from run ${v1run.id}`);

    // 4. Serve on the local OIP server; start the operator with the app's Model and DriftMonitor.
    // The demo clock starts a few wall-clock seconds before one of the monitor's scheduled checks,
    // so the first scheduled check sees a few seconds of reference traffic.
    const slot = CronExpressionParser.parse((monitorObj.spec as { schedule: string }).schedule, { currentDate: new Date(), tz: 'UTC' })
      .next()
      .getTime();
    clock = new DemoClock(speed, Date.now(), slot - CHECK_LEAD_MS * speed);
    server = await startModelServer({ port: 0, payloadLog: { file: payloadLog, flushIntervalMs: 100 } });
    const admin: ModelServerAdmin = new ModelServerAdminClient(server.url);
    const driftBase = payloadDriftChecker({ payloadLog: () => payloadLog });
    const driftCheck: DriftChecker = async (m, w) => {
      const resolved = { ...m, spec: { ...m.spec, reference: { ...m.spec.reference, uri: resolve(repo, m.spec.reference.uri) } } };
      const r = await driftBase(resolved, { startMs: clock.toReal(w.startMs), endMs: clock.toReal(w.endMs) });
      return { ...r, windowStart: new Date(w.startMs).toISOString(), windowEnd: new Date(w.endMs).toISOString() };
    };
    const serverMetrics = new ModelServerMetrics(admin);
    const predictionDrift = payloadPredictionDrift({ payloadLog: () => payloadLog });
    const metrics: MetricsSource = {
      versionMetrics: (m, v) => serverMetrics.versionMetrics(m, v),
      predictionDrift: (m, stable, canary, since, now) => predictionDrift(m, stable, canary, clock.toReal(since), clock.toReal(now)),
    };
    const run = async (spec: PipelineSpec, opts: RunOptions) => {
      // The local operator passes the TrainingRun's reason (its ghosteam.io/reason label).
      const reason = opts.reason ?? 'manual';
      log('retrain', `workflow ${opts.runId} runs pipeline ${spec.name} (reason ${reason}, params ${JSON.stringify(opts.params ?? {})})`);
      return runPipeline(spec, { ...opts, reason, params: repoPathParams(spec, { ...extraParams, ...(opts.params ?? {}) }, repo) as RunOptions['params'] });
    };
    // 8's receiver: a local HTTP endpoint standing in for the team's webhook (Alertmanager's payload).
    alertHook = await startAlertHook();
    // The model's alert rules, evaluated by the operator over the server's series (demo time: `for` 1m is
    // 60/speed s). The same Alerts.of on the app's Model would synthesize them as a PrometheusRule; the
    // example app leaves that out because its output is applied to a test cluster without prometheus-operator.
    const alertRules = Alerts.of({ for: '1m', minSamples: 50 }).rules(modelName);
    op = await startLocalOperator({
      stateDir: join(dir, 'state'),
      registry,
      modelServer: admin,
      modelServerUrl: server.url,
      engine: { run, pipelines: pipelineMap, cwd: repo, storeDir: '.ghosteam' },
      driftCheck,
      metrics,
      // Read through the variable: the clock is re-anchored (forward only) before the monitor starts.
      clock: () => clock.now(),
      resyncMs: 200,
      // Promotions are written back to the demo repository by the operator, as in a cluster.
      gitWriteBack: { repo, branch: 'main' },
      log: createLogger({ level: 'info', write: (l) => operatorLog.push(l) }),
      alerts: {
        rules: alertRules,
        intervalMs: 500,
        webhook: { url: alertHook.url },
        onChange: (changes) => {
          for (const a of changes) {
            record.alerts.push({ t: Date.now() - t0, demoTime: new Date(clock.now()).toISOString(), ...alertRow(a) });
            log('alert', `${a.alert} ${a.state === 'resolved' ? 'resolved' : 'FIRING'}: ${a.annotations.summary ?? ''}`);
          }
        },
      },
    });
    await op.apply(modelObj);
    const ready = await op.waitFor(
      'Model',
      ns,
      modelName,
      (m) => (m.status as ModelStatus | undefined)?.phase === 'Ready' && (m.status as ModelStatus).stableVersion === v1.version,
      stepTimeout,
    );
    const champion1 = (await registry.resolve(modelName, 'champion')).version;
    log(
      'serve',
      `Model ${ns}/${modelName} Ready: v${(ready.status as ModelStatus).stableVersion} serves at ${server.url}/v2/models/${modelName}/infer; ${modelName}@champion → v${champion1}`,
    );
    check('v1 registered, served and champion', champion1 === v1.version && v1.version === 1, `champion v${champion1}`);
    const meta = (await (await fetch(`${server.url}/v2/models/${modelName}`)).json()) as { inputs: Array<{ name: string }> };

    watcher = watchStatuses(op, ns, modelName, monitorObj.metadata.name, log, record);
    traffic = new Traffic({ url: server.url, model: modelName, input: meta.inputs[0].name, rate, concurrency: 4 });
    traffic.use(liveReference, 'reference');
    traffic.start();
    log('traffic', `sending reference-period traffic: ${rate} OIP infer requests/s over HTTP, payload logging to ${relative(process.cwd(), payloadLog)}`);
    // On a busy machine the setup can outlast the lead chosen above, and the first scheduled check
    // would then come too soon (too few rows) or too late: move demo time forward so that the
    // monitor's first slot is CHECK_LEAD_MS of wall-clock time away from now, whatever the setup took.
    const schedule = (monitorObj.spec as { schedule: string }).schedule;
    const firstSlot = CronExpressionParser.parse(schedule, { currentDate: new Date(clock.now() + CHECK_LEAD_MS * speed), tz: 'UTC' })
      .next()
      .getTime();
    clock = new DemoClock(speed, Date.now(), firstSlot - CHECK_LEAD_MS * speed);
    await op.apply(monitorObj);
    const monName = monitorObj.metadata.name;

    // 5. A drift check over reference traffic finds no drift; over drifted traffic it retrains once.
    const mon1 = await op.waitFor(
      'DriftMonitor',
      ns,
      monName,
      (m) => {
        const s = m.status as DriftMonitorStatus | undefined;
        return !!s?.lastCheckTime && (s.samples ?? 0) >= 500 && s.datasetDrift === false;
      },
      stepTimeout,
    );
    const s1 = mon1.status as DriftMonitorStatus;
    traffic.use(liveDrifted, 'drifted');
    record.driftedFrom = Date.now() - t0;
    record.markers.push({ t: record.driftedFrom, label: 'drifted traffic' });
    log('traffic', `switched to drifted-period traffic (the check at ${s1.lastCheckTime?.slice(11, 16)} saw ${s1.samples} rows, no drift)`);
    const mon2 = await op.waitFor('DriftMonitor', ns, monName, (m) => !!(m.status as DriftMonitorStatus | undefined)?.lastTriggeredRun, stepTimeout * 2);
    const s2 = mon2.status as DriftMonitorStatus;
    const trName = s2.lastTriggeredRun!;
    record.markers.push({ t: Date.now() - t0, label: 'drift → retrain' });
    const tr = await op.waitFor(
      'TrainingRun',
      ns,
      trName,
      (r) => ['Succeeded', 'Failed'].includes((r.status as TrainingRunStatus | undefined)?.phase ?? ''),
      stepTimeout * 2,
    );
    const trs = tr.status as TrainingRunStatus;
    if (trs.phase !== 'Succeeded' || !trs.registeredVersion) throw new Error(`TrainingRun ${trName} ${trs.phase}: ${trs.message ?? ''}`);
    const v2 = await registry.getVersion(modelName, trs.registeredVersion);
    log(
      'retrain',
      `registered ${modelName} v${v2.version} (reason ${v2.lineage.reason}, run ${v2.lineage.runId}): ROC AUC ${v2.metrics.rocAuc?.toFixed(3)} on the drifted period`,
    );
    record.markers.push({ t: Date.now() - t0, label: `v${v2.version} registered` });
    check('drift detected → v2 registered with reason drift', v2.version === 2 && v2.lineage.reason === 'drift', `v${v2.version}, reason ${v2.lineage.reason}`);

    // 6a. The canary of v2: 10% → 50% → promoted, analysed on the server's per-version metrics.
    const promoted = await op.waitFor(
      'Model',
      ns,
      modelName,
      (m) => (m.status as ModelStatus).stableVersion === v2.version && (m.status as ModelStatus).canaryVersion === undefined,
      stepTimeout,
    );
    await waitUntil(async () => (await registry.resolve(modelName, 'champion')).version === v2.version, 10_000);
    const champion2 = (await registry.resolve(modelName, 'champion')).version;
    const a2 = ((promoted.status as ModelStatus).analysis ?? []).filter((a) => a.version === v2.version);
    record.rollouts.push({ version: v2.version, outcome: 'promoted', reason: 'AnalysisPassed', analysis: a2 });
    record.markers.push({ t: Date.now() - t0, label: `v${v2.version} promoted` });
    log('canary', `v${v2.version} promoted after ${a2.length} analysed steps; ${modelName}@champion → v${champion2}`);
    check(
      'champion == v2 after promotion',
      champion2 === v2.version && a2.length >= 2 && a2.every((a) => a.passed),
      `champion v${champion2}, ${a2.length} passed steps`,
    );
    const trainingRuns = await op.list('TrainingRun', ns);
    check(
      'exactly one TrainingRun',
      trainingRuns.length === 1 && trainingRuns[0].metadata.name === trName && (trainingRuns[0].spec as { reason?: string }).reason === 'drift',
      trainingRuns.map((r) => `${r.metadata.name} (${(r.spec as { reason?: string }).reason})`).join(', '),
    );

    // 7. Write-back: the operator commits the promotion to models.lock.json (status.writeBack says so).
    const written = await op.waitFor('Model', ns, modelName, (m) => (m.status as ModelStatus).writeBack?.version === v2.version, stepTimeout);
    const wb = (written.status as ModelStatus).writeBack!;
    log('gitops', `write-back by the operator: models.lock.json pins ${modelName} v${wb.version} (${wb.commit?.slice(0, 7) ?? 'already pinned'})`);

    // 6b. A broken v3: the canary's real errors fail the analysis and it is rolled back.
    const broken = join(dir, 'fraud-v3-broken.onnx');
    writeFileSync(broken, brokenLookupModel(readFileSync(v2.source), FEATURES.indexOf('amount_log')));
    const v3 = await registry.registerVersion(modelName, {
      artifactPath: broken,
      lineage: { reason: 'manual' },
      tags: { 'demo.ghosteam.io/broken': 'amount lookup table one bucket short: amounts >= e^5 fail with HTTP 500' },
    });
    record.markers.push({ t: Date.now() - t0, label: `v${v3.version} registered` });
    log('canary', `registered a deliberately broken v${v3.version} (v2 plus an amount lookup that fails on large amounts)`);
    const rolled = await op.waitFor(
      'Model',
      ns,
      modelName,
      (m) => (m.status as ModelStatus).phase === 'RolledBack' && (m.status as ModelStatus).lastFailedVersion === v3.version,
      stepTimeout,
    );
    const rs = rolled.status as ModelStatus;
    const degraded = rs.conditions?.find((c) => c.type === 'Degraded');
    const a3 = (rs.analysis ?? []).filter((a) => a.version === v3.version);
    record.rollouts.push({ version: v3.version, outcome: 'rolled back', reason: degraded?.reason ?? '', message: degraded?.message, analysis: a3 });
    const champion3 = (await registry.resolve(modelName, 'champion')).version;
    record.markers.push({ t: Date.now() - t0, label: `v${v3.version} rolled back` });
    log('canary', `v${v3.version} rolled back (${degraded?.reason}): ${degraded?.message}; v${rs.stableVersion} keeps serving`);
    check(
      'v3 rolled back with the reason recorded',
      rs.stableVersion === v2.version && champion3 === v2.version && !!degraded?.reason && degraded.reason !== 'AsExpected' && !!degraded.message,
      `${degraded?.reason}: ${degraded?.message}`,
    );

    // 8. Ground truth arrives late. 100 answers of v2 get their labels through the feedback endpoint:
    // the first 40 as the data says, the last 60 the other way round (the fraud pattern changed after
    // training: a concept change no input-drift test sees). Accuracy from feedback falls below 0.85 and
    // the operator's local evaluation of the alert rules fires.
    const labelled = generate('drifted', 100, seed + 102);
    const feedback: Array<{ id: string; label: number }> = [];
    for (const [i, r] of labelled.entries()) {
      const id = `labelled-${i}`;
      const res = await fetch(`${server.url}/v2/models/${modelName}/versions/${v2.version}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, inputs: [{ name: meta.inputs[0].name, shape: [1, r.values.length], datatype: 'FP32', data: r.values }] }),
      });
      if (res.status !== 200) throw new Error(`infer for labelled answer ${id}: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer().catch(() => undefined);
      feedback.push({ id, label: i < 40 ? r.label : 1 - r.label });
    }
    const fb = await fetch(`${server.url}/v2/models/${modelName}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(feedback),
    });
    const fbBody = (await fb.json()) as { matched?: number };
    log(
      'labels',
      `${feedback.length} labels arrived for v${v2.version}'s answers (60 disagree with the data it was trained on): ${fbBody.matched ?? 0} matched`,
    );
    record.markers.push({ t: Date.now() - t0, label: 'labels arrive' });
    const accuracyAlert = await waitFor(
      () => record.alerts.find((a) => a.alert === 'GhosteamModelAccuracyLow' && a.state === 'firing' && a.labels.version === String(v2.version)),
      stepTimeout,
    );
    const hooked = await waitFor(
      () => alertHook!.got.find((b) => b.alerts.some((a) => a.labels.alertname === 'GhosteamModelAccuracyLow' && a.status === 'firing')),
      10_000,
    );
    const stats = await admin.stats(modelName);
    record.quality = { version: v2.version, ...(stats.versions[String(v2.version)]?.quality ?? {}) };
    check(
      'accuracy drop from feedback alerted (console, webhook, report)',
      !!accuracyAlert && !!hooked && fb.status === 200 && fbBody.matched === feedback.length,
      accuracyAlert ? `${accuracyAlert.annotations.summary}; webhook got ${hooked ? hooked.alerts.length : 0} alert(s)` : 'no accuracy alert fired',
    );

    await sleep(1000); // a last second of traffic on v2 alone, for the chart
    await traffic.stop();
    await watcher.stop();
    watcher = undefined;
    const totals = traffic.totals();
    log(
      'traffic',
      `stopped: ${traffic.sent.toLocaleString('en')} requests (${Object.entries(totals.ok)
        .map(([v, n]) => `v${v} ${n}`)
        .join(', ')}, ${totals.errors} errors)`,
    );
    record.traffic = traffic.buckets.map((b) => ({ ...b, t: b.t - t0 }));

    // 7b. The lock file is committed; ghosteam plan between the first and the last commit.
    const lockCommitted = git(repo, 'log', '-1', '--format=%H', '--', 'models.lock.json');
    const lock = JSON.parse(git(repo, 'show', 'HEAD:models.lock.json')) as { models: Record<string, { version: number; reason: string }> };
    check(
      'lock file committed',
      !!lockCommitted && lock.models[modelName]?.version === v2.version && lock.models[modelName]?.reason === 'drift',
      `models.lock.json at ${lockCommitted.slice(0, 7)}: ${JSON.stringify(lock.models[modelName])}`,
    );
    const planReport = await runPlan({ repoDir: repo, base: firstCommit, head: 'HEAD', app: 'app.ts' });
    record.plan = renderText(planReport);
    const planChanged = !!planReport.plan && planReport.plan.changed.length > 0 && !!planReport.plan.diff;
    log(
      'plan',
      `ghosteam plan ${firstCommit.slice(0, 7)}..HEAD: ${planReport.plan ? `${planReport.plan.changed.length} changed, ${planReport.plan.added.length} added, ${planReport.plan.removed.length} removed` : planReport.headError}`,
    );
    print(
      pc.dim(
        record.plan
          .trimEnd()
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n'),
      ),
    );
    check(
      'plan output non-empty',
      planChanged,
      planReport.plan ? planReport.plan.changed.map((c) => `${c.kind}/${c.name}`).join(', ') : (planReport.headError ?? 'no plan'),
    );
    record.gitLog = git(repo, 'log', '--format=%h%x09%an%x09%s%x09%(trailers:only,unfold)')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [hash, author, subject, trailers] = l.split('\t');
        return { hash, author, subject, trailers: trailers ?? '' };
      });

    // 8. The report.
    record.versions = await Promise.all([v1, v2, v3].map(async (v) => await registry.getVersion(modelName, v.version)));
    await driftFigures(record, reference, payloadLog, modelName, t0);
    for (const c of record.driftChecks) c.t -= t0;
  } finally {
    await traffic?.stop().catch(() => undefined);
    await watcher?.stop().catch(() => undefined);
    await op?.stop().catch(() => undefined);
    await server?.close().catch(() => undefined);
    alertHook?.server.close();
    if (prevRegistryEnv === undefined) delete process.env.GHOSTEAM_REGISTRY_DIR;
    else process.env.GHOSTEAM_REGISTRY_DIR = prevRegistryEnv;
    if (prevMlflowEnv !== undefined) process.env.MLFLOW_TRACKING_URI = prevMlflowEnv;
  }
  const wallMs = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  record.wallMs = wallMs;
  record.cpuMs = cpuMs;
  record.operatorLogLines = operatorLog.length;
  await writeFileAtomic(reportPath, renderDemoReport(record));
  // The report's data, for anyone who wants the numbers (or to re-render the report).
  await writeFileAtomic(join(dir, 'demo-record.json'), JSON.stringify(record));
  check('report written', existsSync(reportPath) && readFileSync(reportPath, 'utf8').includes('</html>'), relative(process.cwd(), reportPath) || reportPath);
  return { ok: checks.length === EXPECTED_CHECKS && checks.every((c) => c.ok), checks, record, reportPath, repoDir: repo, wallMs, cpuMs };
}

/** Polls `get` every 100 ms until it returns something, or undefined after timeoutMs. */
async function waitFor<T>(get: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined || Date.now() > end) return v;
    await sleep(100);
  }
}

function alertRow(a: LocalAlert): Pick<DemoAlert, 'alert' | 'state' | 'labels' | 'annotations' | 'value'> {
  return { alert: a.alert, state: a.state, labels: { ...a.labels }, annotations: { ...a.annotations }, value: a.value };
}

/** A local webhook receiver for the demo's alerts: what a team's endpoint would get (Alertmanager's webhook payload). */
async function startAlertHook(): Promise<{
  url: string;
  got: Array<{ status: string; alerts: Array<{ status: string; labels: Record<string, string> }> }>;
  server: ReturnType<typeof createServer>;
}> {
  const got: Array<{ status: string; alerts: Array<{ status: string; labels: Record<string, string> }> }> = [];
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      try {
        got.push(JSON.parse(text) as (typeof got)[number]);
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/alerts`, got, server };
}

async function waitUntil(pred: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Follows the objects' statuses and turns their transitions into timeline lines. */
function watchStatuses(op: LocalOperator, ns: string, model: string, monitor: string, log: (step: string, text: string) => void, record: DemoRecord) {
  let running = true;
  let lastModel = '';
  let lastCheck = '';
  let lastRun: string | undefined;
  const runs = new Map<string, string>();
  const seenAnalyses = new Set<string>();
  const loop = (async () => {
    while (running) {
      const m = await op.get('Model', ns, model);
      const ms = m?.status as ModelStatus | undefined;
      if (ms) {
        const key = `${ms.phase}/${ms.stableVersion}/${ms.canaryVersion}/${ms.trafficPercent}`;
        if (key !== lastModel && ms.canaryVersion !== undefined)
          log('canary', `v${ms.canaryVersion} at ${ms.trafficPercent}% of traffic (v${ms.stableVersion} stable)`);
        lastModel = key;
        for (const a of ms.analysis ?? []) {
          const k = `${a.version}/${a.step}`;
          if (seenAnalyses.has(k)) continue;
          seenAnalyses.add(k);
          log(
            'analysis',
            `${a.passed ? pc.green('passed') : pc.red('failed')} v${a.version} step ${a.step + 1} (${a.trafficPercent}%): ${a.requests} requests, error rate ${fmtRate(a.errorRate)}, p99 ${a.p99LatencyMs?.toFixed(1) ?? 'n/a'} ms, prediction drift ${a.predictionDrift?.toFixed(3) ?? 'n/a'}`,
          );
        }
      }
      if (!running) break;
      const d = await op.get('DriftMonitor', ns, monitor);
      const ds = d?.status as DriftMonitorStatus | undefined;
      if (ds?.lastCheckTime && ds.lastCheckTime !== lastCheck) {
        lastCheck = ds.lastCheckTime;
        const msg = ds.conditions?.find((c) => c.type === 'Ready' || c.type === 'Drifted')?.message ?? '';
        const drifted = (ds.features ?? []).filter((f) => f.drifted).map((f) => f.name);
        const entry: DriftCheckRecord = {
          t: Date.now(),
          at: ds.lastCheckTime,
          samples: ds.samples ?? 0,
          datasetDrift: ds.datasetDrift ?? false,
          share: ds.driftShare ?? 0,
          drifted,
          features: ds.features ?? [],
          message: msg,
        };
        record.driftChecks.push(entry);
        log(
          'drift',
          (ds.samples ?? 0) < 500
            ? `check at ${ds.lastCheckTime.slice(11, 16)}: ${ds.samples ?? 0} rows in the window, no verdict yet (needs 500)`
            : `check at ${ds.lastCheckTime.slice(11, 16)} over ${ds.samples} rows: ${ds.datasetDrift ? pc.red(`drift in ${drifted.length} of ${ds.features?.length} features`) : pc.green(`no drift (${drifted.length} of ${ds.features?.length} features)`)}${ds.lastTriggeredRun && ds.lastTriggeredRun !== lastRun ? ` → TrainingRun ${ds.lastTriggeredRun}` : ds.datasetDrift && ds.lastTriggeredRun ? ` (no new run: cooldown after ${ds.lastTriggeredRun})` : ''}`,
        );
        lastRun = ds.lastTriggeredRun;
      }
      for (const r of await op.list('TrainingRun', ns)) {
        const st = r.status as TrainingRunStatus | undefined;
        const phase = st?.phase ?? 'Pending';
        if (runs.get(r.metadata.name) !== phase) {
          runs.set(r.metadata.name, phase);
          log('retrain', `TrainingRun ${r.metadata.name} ${phase}${st?.registeredVersion ? ` → v${st.registeredVersion}` : ''}`);
        }
      }
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

function fmtRate(r: number | undefined): string {
  return r === undefined ? 'n/a' : `${(r * 100).toFixed(r > 0 && r < 0.01 ? 2 : 1)}%`;
}

/** Drift over time and per-feature histograms, from the payload log, with components/drift. */
async function driftFigures(record: DemoRecord, reference: readonly FraudRow[], payloadLog: string, model: string, t0: number): Promise<void> {
  const columns = FEATURES.map((name, j) => ({ name, type: 'numeric' as const, values: Float64Array.from(reference, (r) => r.values[j]) }));
  const summary = buildReferenceSummary(columns);
  const windows = await detectDriftFromPayloadLog(payloadLog, summary, {
    features: [...FEATURES],
    model,
    window: { durationMs: 3000 },
    skipInvalid: true,
    drift: { driftShare: 0.3, histograms: false },
  });
  record.driftSeries = windows.windows
    .filter((w) => w.rows >= 100)
    .map((w) => ({ t: Date.parse(w.start) - t0, share: w.result.driftShare, rows: w.rows, drifted: w.result.datasetDrift }));
  // The histograms compare the reference period with the live traffic since the switch to the drifted period.
  const since = record.driftedFrom !== undefined ? new Date(t0 + record.driftedFrom) : undefined;
  const full = await detectDriftFromPayloadLog(payloadLog, summary, {
    features: [...FEATURES],
    model,
    ...(since ? { since } : {}),
    window: 'all',
    skipInvalid: true,
    drift: { driftShare: 0.3, histograms: true },
  });
  const byShift = [...full.latest.columns].sort(
    (a: ColumnDrift, b: ColumnDrift) => Number(b.drifted) - Number(a.drifted) || (b.statistic ?? 0) - (a.statistic ?? 0),
  );
  record.driftCharts = byShift.slice(0, 4);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`Usage: npm run demo -- [options]

The whole ghosteam loop on this machine: data, git, training, serving, drift, retraining, canary
promotion and rollback, write-back and plan; then demo-report.html. Exits 0 only when every step happened.

Options:
  --dir <dir>       Workspace, recreated on every run (default: ".ghosteam/demo")
  --report <file>   HTML report (default: "demo-report.html")
  --rows <n>        Labelled rows per period (default: 20000)
  --speed <x>       How much faster the demo clock runs (default: 15)
  --rate <n>        Live requests per second (default: 500)
  --seed <n>        Data seed (default: 1)
`);
    return;
  }
  const num = (name: string) => (opt(name) === undefined ? undefined : Number(opt(name)));
  for (const n of ['--rows', '--speed', '--rate', '--seed']) {
    const v = num(n);
    if (v !== undefined && !Number.isFinite(v)) throw new Error(`${n} must be a number; got '${opt(n)}'`);
  }
  const outcome = await runDemo({
    dir: opt('--dir'),
    report: opt('--report'),
    rows: num('--rows'),
    speed: num('--speed'),
    rate: num('--rate'),
    seed: num('--seed'),
  });
  const print = (l: string) => process.stdout.write(`${l}\n`);
  print('');
  print(pc.bold('Outcome'));
  for (const c of outcome.checks) print(`  ${c.ok ? pc.green('✓') : pc.red('✗')} ${c.name} ${pc.dim(c.detail)}`);
  print('');
  print(`Report: ${outcome.reportPath}`);
  print(`Demo repository: ${outcome.repoDir} (git log, models.lock.json)`);
  print(pc.dim(`wall ${(outcome.wallMs / 1000).toFixed(1)} s, CPU ${(outcome.cpuMs / 1000).toFixed(1)} s (this process and its worker threads)`));
  if (!outcome.ok) {
    print(pc.red('The demo did not do everything it should; see the ✗ lines above.'));
    process.exitCode = 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`demo failed: ${(e as Error).message}\n`);
    if (process.argv.includes('--verbose')) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  });
}
