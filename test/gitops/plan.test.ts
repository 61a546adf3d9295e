// The pure plan core: objects in, ML-aware plan out. Fixtures are small hand-written objects shaped
// like the synth's output (WorkflowTemplate + CronWorkflow with spec hashes, Model, DriftMonitor).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { computePlan, describeRollout, labelTaskField, objectDiff } from '../../gitops/plan.ts';
import { planFails, renderJson, renderMarkdown, renderText, type PlanReport } from '../../gitops/plan-render.ts';
import { diffFields, flatten, formatChange } from '../../gitops/fields.ts';
import { indexObjects, withoutVolatile } from '../../gitops/objects.ts';
import { objectKey, type K8sObject } from '../../api/objects.ts';
import { jsonEqual } from '../../api/json.ts';

type Mutable = Record<string, any>;
const clone = <T>(x: T): T => structuredClone(x);

function workflowTemplate(opts: { epochs?: string; hash?: string; image?: string; extraTask?: boolean; commit?: string } = {}): Mutable {
  const tasks: Mutable[] = [
    { name: 'ingest', template: 'ingest', arguments: { parameters: [{ name: 'path', value: '{{workflow.parameters.data}}' }] } },
    {
      name: 'train',
      template: 'train',
      depends: 'ingest.Succeeded',
      arguments: {
        parameters: [
          { name: 'epochs', value: '{{workflow.parameters.epochs}}' },
          { name: 'seed', value: '7' },
        ],
      },
    },
  ];
  if (opts.extraTask) tasks.push({ name: 'evaluate', template: 'evaluate', depends: 'train.Succeeded' });
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: {
      name: 'fraud-train',
      namespace: 'fraud',
      annotations: {
        'ghosteam.io/construct-path': 'app/fraud-train',
        'ghosteam.io/source-commit': opts.commit ?? 'a'.repeat(40),
        'ghosteam.io/spec-hash': opts.hash ?? 'sha256:1111',
      },
    },
    spec: {
      entrypoint: 'ghosteam-dag',
      arguments: {
        parameters: [
          { name: 'data', value: 'data.csv' },
          { name: 'epochs', value: opts.epochs ?? '10' },
        ],
      },
      templates: [
        { name: 'ghosteam-dag', dag: { tasks } },
        { name: 'ingest', container: { image: 'ghcr.io/ghosteam/components:0.1.0', args: ['ingest'] } },
        { name: 'train', container: { image: opts.image ?? 'ghcr.io/ghosteam/components:0.1.0', args: ['train'], resources: { requests: { cpu: '4' } } } },
        { name: 'evaluate', container: { image: 'ghcr.io/ghosteam/components:0.1.0', args: ['evaluate'] } },
      ],
    },
  };
}

function cronWorkflow(opts: { hash?: string; schedule?: string; commit?: string } = {}): Mutable {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'CronWorkflow',
    metadata: {
      name: 'fraud-train',
      namespace: 'fraud',
      annotations: { 'ghosteam.io/source-commit': opts.commit ?? 'a'.repeat(40), 'ghosteam.io/spec-hash': opts.hash ?? 'sha256:1111' },
    },
    spec: { schedules: [opts.schedule ?? '0 3 * * 1'], timezone: 'UTC', workflowSpec: { workflowTemplateRef: { name: 'fraud-train' } } },
  };
}

function model(opts: { version?: number; alias?: string; steps?: number[]; runtime?: string; cpu?: string; strategy?: string; commit?: string } = {}): Mutable {
  return {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'Model',
    metadata: {
      name: 'fraud',
      namespace: 'fraud',
      annotations: { 'ghosteam.io/construct-path': 'app/fraud', 'ghosteam.io/source-commit': opts.commit ?? 'a'.repeat(40) },
    },
    spec: {
      modelRef: { name: 'fraud', ...(opts.version !== undefined ? { version: opts.version } : { alias: opts.alias ?? 'latest' }) },
      runtime: opts.runtime ?? 'ghosteam-onnx',
      resources: { cpu: opts.cpu ?? '1', memory: '1Gi' },
      rollout: { strategy: opts.strategy ?? 'canary', steps: opts.steps ?? [10, 50, 100], intervalSeconds: 60 },
    },
  };
}

function drift(share = 0.3, window = 3600): Mutable {
  return {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'DriftMonitor',
    metadata: { name: 'fraud-drift', namespace: 'fraud', annotations: { 'ghosteam.io/source-commit': 'a'.repeat(40) } },
    spec: { model: 'fraud', thresholds: { driftShare: share }, window: { seconds: window } },
  };
}

const base = () => [workflowTemplate(), cronWorkflow(), model({ version: 3 }), drift()];

describe('computePlan: models', () => {
  test('a version change under a canary policy reads as a canary of the new version', () => {
    const head = [workflowTemplate(), cronWorkflow(), model({ version: 4 }), drift()];
    const p = computePlan(base(), head);
    assert.equal(p.models.length, 1);
    assert.equal(p.models[0].headline, 'fraud: v3 → v4 (fixed version): v4 is rolled out by a canary at 10→50→100%');
    assert.equal(p.models[0].versionBefore, 'v3');
    assert.equal(p.models[0].versionAfter, 'v4');
    assert.deepEqual(p.models[0].details, ['registry v3 (fixed) → v4 (fixed)']);
    assert.deepEqual(p.retrain, []);
  });

  test('steps that stop short of 100% get the final full shift appended', () => {
    assert.equal(describeRollout(model({ steps: [10, 50] }) as K8sObject), 'canary 10→50→100%');
    assert.equal(describeRollout(model({ steps: [5, 25, 100] }) as K8sObject), 'canary 5→25→100%');
    assert.equal(
      describeRollout({ apiVersion: 'v1', kind: 'X', metadata: { name: 'x' }, spec: { rollout: { canary: { steps: [{ weight: 20 }, { setWeight: 60 }] } } } }),
      'canary 20→60→100%',
    );
    assert.equal(describeRollout({ apiVersion: 'v1', kind: 'X', metadata: { name: 'x' }, spec: {} }), undefined);
  });

  test('a version change with a direct rollout is replaced at once; alias to pin is named', () => {
    const b = [model({ alias: 'champion', strategy: 'direct', steps: [] })];
    const h = [model({ version: 7, strategy: 'direct', steps: [] })];
    const p = computePlan(b, h);
    assert.equal(
      p.models[0].headline,
      'fraud: fixed at v7 (was @champion): the operator serves exactly v7, rolled out at once (direct rollout) where another version serves, and ignores models.lock.json',
    );
  });

  test('runtime, resources and rollout-policy changes without a new version are each named', () => {
    const p = computePlan([model({ version: 3 })], [model({ version: 3, runtime: 'triton', cpu: '2', steps: [25, 100] })]);
    assert.equal(p.models[0].headline, 'fraud: rollout canary 10→50→100% → canary 25→100%, runtime ghosteam-onnx → triton, resources.cpu 1 → 2');
    assert.deepEqual(p.models[0].details, ['rollout canary 10→50→100% → canary 25→100%', 'runtime ghosteam-onnx → triton', 'resources.cpu 1 → 2']);
  });

  test('added and removed models', () => {
    const added = computePlan([], [model({ version: 1 })]);
    assert.equal(added.models[0].headline, 'fraud: new model at v1 (canary 10→50→100%)');
    assert.equal(added.models[0].change, 'added');
    const removed = computePlan([model({ version: 2 })], []);
    assert.equal(removed.models[0].headline, 'fraud: model removed (was v2); its serving stops');
    assert.deepEqual(
      removed.removed.map((r) => `${r.kind}/${r.name}`),
      ['Model/fraud'],
    );
  });
});

describe('computePlan: pipelines', () => {
  test('a changed parameter default is attributed to the task that consumes it → retrain', () => {
    const head = [workflowTemplate({ epochs: '20', hash: 'sha256:2222' }), cronWorkflow({ hash: 'sha256:2222' }), model({ version: 3 }), drift()];
    const p = computePlan(base(), head);
    assert.equal(p.pipelines.length, 1, 'the WorkflowTemplate and CronWorkflow are one pipeline');
    assert.equal(p.pipelines[0].headline, 'fraud-train: task train changed (epochs 10 → 20) → retrain');
    assert.equal(p.pipelines[0].hashBefore, 'sha256:1111');
    assert.equal(p.pipelines[0].hashAfter, 'sha256:2222');
    assert.deepEqual(p.retrain, ['fraud-train']);
  });

  test('template, task and schedule changes are all listed', () => {
    const head = [
      workflowTemplate({ image: 'ghcr.io/ghosteam/components:0.2.0', extraTask: true, hash: 'sha256:3333' }),
      cronWorkflow({ hash: 'sha256:3333', schedule: '0 4 * * *' }),
    ];
    const p = computePlan([workflowTemplate(), cronWorkflow()], head);
    assert.equal(
      p.pipelines[0].headline,
      'fraud-train: task train changed (image ghcr.io/ghosteam/components:0.1.0 → ghcr.io/ghosteam/components:0.2.0); task evaluate added; schedule 0 3 * * 1 → 0 4 * * * → retrain',
    );
  });

  test('a removed task and a changed unconsumed parameter', () => {
    const b = workflowTemplate({ extraTask: true });
    const h = clone(b);
    h.spec.templates[0].dag.tasks.pop();
    h.spec.arguments.parameters.push({ name: 'unused', value: 'x' });
    h.metadata.annotations['ghosteam.io/spec-hash'] = 'sha256:4444';
    const p = computePlan([b], [h]);
    assert.equal(p.pipelines[0].headline, 'fraud-train: task evaluate removed; parameter unused added (x) → retrain');
  });

  test('a change that leaves the spec hash alone does not retrain, and says so', () => {
    const h = workflowTemplate();
    h.metadata.labels = { team: 'risk' };
    const p = computePlan([workflowTemplate()], [h]);
    assert.equal(p.pipelines[0].retrain, false);
    assert.equal(p.pipelines[0].headline, 'fraud-train: metadata changes only (spec hash unchanged: no retrain)');
    assert.deepEqual(p.retrain, []);
  });

  test('a hash change with no visible spec change names the hashes', () => {
    const p = computePlan([workflowTemplate()], [workflowTemplate({ hash: 'sha256:abcdef0123456789abcdef' })]);
    assert.equal(p.pipelines[0].headline, 'fraud-train: spec hash 1111 → abcdef012345 → retrain');
  });

  test('a new pipeline trains for the first time; a removed one stops', () => {
    const added = computePlan([], [workflowTemplate(), cronWorkflow()]);
    assert.equal(added.pipelines[0].headline, 'fraud-train: new pipeline → first training run');
    assert.deepEqual(added.retrain, ['fraud-train']);
    const removed = computePlan([workflowTemplate()], []);
    assert.equal(removed.pipelines[0].headline, 'fraud-train: pipeline removed; no further training runs');
    assert.deepEqual(removed.retrain, []);
  });

  test('task field labels', () => {
    assert.equal(labelTaskField('arguments.parameters[epochs].value'), 'epochs');
    assert.equal(labelTaskField('template.inputs.parameters[lr].default'), 'lr');
    assert.equal(labelTaskField('arguments.artifacts[train].from'), 'artifact train');
    assert.equal(labelTaskField('template.container.resources.requests.cpu'), 'resources.requests.cpu');
    assert.equal(labelTaskField('depends'), 'depends');
  });
});

describe('computePlan: drift monitors and other objects', () => {
  test('drift settings are named as the construct names them, durations as durations', () => {
    const p = computePlan([drift(0.3)], [drift(0.2)]);
    assert.equal(p.driftMonitors[0].headline, 'fraud-drift: driftShare 0.3 → 0.2');
    const w = computePlan([drift(0.3, 3600)], [drift(0.3, 600)]);
    assert.equal(w.driftMonitors[0].headline, 'fraud-drift: window 1h → 10m');
  });

  test('added and removed resources of any kind; unchanged ones are counted', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'fraud' }, data: { a: '1' } };
    const p = computePlan([...base(), cm], [...base(), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }]);
    assert.deepEqual(p.added, [{ apiVersion: 'v1', kind: 'Secret', name: 's' }]);
    assert.deepEqual(p.removed, [{ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'fraud', name: 'cfg' }]);
    assert.equal(p.unchanged, 4);
    assert.deepEqual(p.changed, []);
  });

  test('a new source commit alone is no change', () => {
    const head = base().map((o) => {
      const c = clone(o);
      c.metadata.annotations['ghosteam.io/source-commit'] = 'b'.repeat(40);
      return c;
    });
    const p = computePlan(base(), head);
    assert.equal(p.unchanged, 4);
    assert.equal(p.diff, '');
    assert.deepEqual([p.models, p.pipelines, p.driftMonitors, p.changed], [[], [], [], []]);
  });

  test('moving an apiVersion keeps the identity (a change, not remove + add)', () => {
    const a = { apiVersion: 'serving.kserve.io/v1alpha1', kind: 'X', metadata: { name: 'x' } };
    const b = { apiVersion: 'serving.kserve.io/v1beta1', kind: 'X', metadata: { name: 'x' } };
    const p = computePlan([a], [b]);
    assert.equal(p.changed.length, 1);
    assert.equal(objectKey(a as K8sObject), 'serving.kserve.io/X/_/x');
  });
});

describe('computePlan: invalid object sets', () => {
  test('each malformed object is named with its position and how to fix it', () => {
    assert.throws(() => computePlan([], [{ kind: 'Model', metadata: { name: 'x' } }], { base: 'base', head: 'head main' }), {
      message: "head main: object #1 has no 'apiVersion'; set it (e.g. 'ghosteam.io/v1alpha1')",
    });
    assert.throws(() => computePlan([], [{ apiVersion: 'v1', metadata: { name: 'x' } }]), {
      message: "head: object #1 (v1) has no 'kind'; set it (e.g. 'Model')",
    });
    assert.throws(() => computePlan([], [model(), { apiVersion: 'v1', kind: 'Secret', metadata: {} }]), {
      message: "head: object #2 (Secret) has no 'metadata.name'; every object needs a name",
    });
    assert.throws(() => computePlan([], [null]), { message: 'head: object #1 is not a mapping; every synthesized document must be a Kubernetes object' });
    assert.throws(() => computePlan([model(), model()], []), { message: 'base: Model fraud/fraud is defined twice; give one of them another name' });
  });
});

describe('YAML diff', () => {
  test('unified diff per object, source-commit annotation left out, /dev/null for adds', () => {
    const d = objectDiff(undefined, model({ version: 1 }) as K8sObject);
    assert.match(d, /^--- \/dev\/null\n\+\+\+ b\/Model\/fraud\/fraud\.yaml\n/);
    assert.ok(!d.includes('source-commit'));
    assert.match(d, /^\+    version: 1$/m);
    const c = objectDiff(model({ version: 1 }) as K8sObject, model({ version: 2 }) as K8sObject);
    assert.match(c, /^-    version: 1\n\+    version: 2$/m);
  });
});

describe('rendering', () => {
  const report = (
    plan = computePlan(base(), [workflowTemplate({ epochs: '20', hash: 'sha256:2' }), cronWorkflow({ hash: 'sha256:2' }), model({ version: 4 }), drift(0.2)]),
  ): PlanReport => ({
    base: { ref: 'origin/main', commit: '1234567890'.repeat(4) },
    head: { ref: 'HEAD', commit: 'abcdef0123'.repeat(4) },
    plan,
  });

  test('text lists every section, the retrain line and the diff', () => {
    const t = renderText(report());
    assert.match(t, /^ghosteam plan: origin\/main \(1234567\) → HEAD \(abcdef0\)\n0 to add, 4 to change, 0 to remove, 0 unchanged\n/);
    assert.match(
      t,
      /\nModels:\n {2}fraud: v3 → v4 \(fixed version\): v4 is rolled out by a canary at 10→50→100%\n {4}registry {2}v3 \(fixed\) → v4 \(fixed\)\n/,
    );
    assert.match(t, /\nPipelines:\n {2}fraud-train: task train changed \(epochs 10 → 20\) → retrain\n/);
    assert.match(t, /\nDrift monitors:\n {2}fraud-drift: driftShare 0\.3 → 0\.2\n\n/);
    assert.match(t, /\nRetraining on merge: fraud-train\n/);
    assert.match(t, /\n--- a\/Model\/fraud\/fraud\.yaml\n/);
  });

  test('markdown escapes table-breaking characters and fences the diff safely', () => {
    const m = renderMarkdown(report());
    assert.match(m, /^### ghosteam plan: `origin\/main \(1234567\)` → `HEAD \(abcdef0\)`/);
    assert.match(m, /retrains on merge: `fraud-train`/);
    assert.match(
      m,
      /#### Models\n\n- fraud: v3 → v4 \(fixed version\): v4 is rolled out by a canary at 10→50→100%\n\n {2}\| Setting \| Before \| After \|\n {2}\| --- \| --- \| --- \|\n {2}\| registry \| v3 \(fixed\) \| v4 \(fixed\) \|\n/,
    );
    assert.match(m, /<details><summary>YAML diff<\/summary>\n\n```diff\n/);
    const withTicks = computePlan([], [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'has ``` inside' } }]);
    const m2 = renderMarkdown(report(withTicks));
    assert.match(m2, /````diff\n/);
  });

  test('a failing head renders the error and fails the gate; JSON carries ok', () => {
    const r: PlanReport = { base: { ref: 'main' }, head: { ref: 'HEAD' }, headError: "app/fraud: 'name' 'Fraud' is not a DNS-1123 label" };
    assert.equal(planFails(r), true);
    assert.match(renderText(r), /✗ head fails type-checking, synthesis or validation:\n {2}app\/fraud: 'name' 'Fraud' is not a DNS-1123 label\n$/);
    assert.match(renderMarkdown(r), /:x: \*\*The head fails type-checking, synthesis or validation; this change cannot be merged as is\.\*\*/);
    const j = JSON.parse(renderJson(r));
    assert.equal(j.ok, false);
    assert.equal(j.headError, r.headError);
    assert.equal(JSON.parse(renderJson(report())).ok, true);
    assert.equal(planFails(report()), false);
  });
});

describe('fields and objects helpers', () => {
  test('flatten keys named arrays by name and keeps empty containers as leaves', () => {
    assert.deepEqual(
      [...flatten({ a: [{ name: 'x', v: 1 }, { name: 'y', v: 2 }, { name: 'z' }], b: [1, 2], c: {}, d: [] })],
      [
        ['a[x].v', '1'],
        ['a[y].v', '2'],
        ['a[z]', '{}'],
        ['b[0]', '1'],
        ['b[1]', '2'],
        ['c', '{}'],
        ['d', '[]'],
      ],
    );
    assert.deepEqual([...flatten({})], []);
    // Duplicate names fall back to indexes.
    assert.deepEqual(
      [...flatten([{ name: 'x' }, { name: 'x' }])].map(([k]) => k),
      ['[0].name', '[1].name'],
    );
  });

  test('diffFields reports added, removed and changed leaves; formatChange words them', () => {
    const d = diffFields({ a: 1, b: 2 }, { a: 1, b: 3, c: 4 });
    assert.deepEqual(d, [
      { path: 'b', before: '2', after: '3' },
      { path: 'c', after: '4' },
    ]);
    assert.deepEqual(diffFields({ x: 1 }, {}), [{ path: 'x', before: '1' }]);
    assert.equal(formatChange('gpu', { path: 'g', before: '1' }), 'gpu removed (was 1)');
    assert.equal(formatChange('gpu', { path: 'g', after: '1' }), 'gpu added (1)');
  });

  test('jsonEqual ignores key order and undefined; withoutVolatile drops only the source commit', () => {
    assert.equal(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }), true);
    assert.equal(jsonEqual({ a: 1, u: undefined }, { a: 1 }), true);
    assert.equal(jsonEqual([1, 2], [2, 1]), false);
    const o = withoutVolatile(model() as K8sObject);
    assert.deepEqual(o.metadata.annotations, { 'ghosteam.io/construct-path': 'app/fraud' });
    const bare = withoutVolatile({ apiVersion: 'v1', kind: 'X', metadata: { name: 'x', annotations: { 'ghosteam.io/source-commit': 'a' } } });
    assert.equal('annotations' in bare.metadata, false);
    assert.equal(indexObjects([model()], 'x').size, 1);
  });
});
