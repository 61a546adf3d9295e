// The pure parts of `ghosteam plan` that say what a change means: model references (fixed, followed,
// pinned) and what the operator does when they move, every changed setting with old → new values,
// pins in models.lock.json and who moved them, and how reports render them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRef, driftChanges, explainRef, formatValueChange, modelChanges, refShape, rolloutSummary, type RefShape } from '../../gitops/plan-values.ts';
import { isWriteback, pinnedVersions, planPins, type LockCommit } from '../../gitops/plan-pins.ts';
import { computePlan } from '../../gitops/plan.ts';
import { renderMarkdown, renderText, type PlanReport } from '../../gitops/plan-render.ts';
import { writebackMessage } from '../../gitops/lockfile.ts';

const fixed = (version: number): RefShape => ({ kind: 'fixed', version });
const follow = (alias = 'latest'): RefShape => ({ kind: 'follow', alias });
const pinned = (version: number, alias = 'latest'): RefShape => ({ kind: 'pinned', version, alias });
const CANARY = 'canary 10→50→100%';

describe('model references', () => {
  test('refShape and describeRef: the three shapes of spec.modelRef', () => {
    const cases: [unknown, RefShape | undefined, string | undefined][] = [
      [{ name: 'f', version: 3 }, fixed(3), 'v3 (fixed)'],
      [{ name: 'f' }, follow('latest'), '@latest'],
      [{ name: 'f', alias: 'champion' }, follow('champion'), '@champion'],
      [{ name: 'f', version: 3, alias: 'latest' }, pinned(3), 'pin v3, new versions from @latest'],
      [{ name: 'f', version: 3, alias: 'champion' }, pinned(3, 'champion'), 'pin v3, new versions from @champion'],
      [undefined, undefined, undefined],
    ];
    for (const [ref, shape, text] of cases) {
      assert.deepEqual(refShape(ref as never), shape, JSON.stringify(ref));
      assert.equal(describeRef(shape), text);
    }
  });

  test('explainRef: every move between shapes says what the operator does (model-target.ts)', () => {
    const L = 'models.lock.json';
    const cases: [RefShape | undefined, RefShape | undefined, string | undefined, 'operator' | 'hand' | undefined, string | undefined][] = [
      // unchanged, added or removed: nothing to explain here
      [fixed(3), fixed(3), CANARY, undefined, undefined],
      [pinned(3), pinned(3), CANARY, 'hand', undefined],
      [undefined, fixed(3), CANARY, undefined, undefined],
      [fixed(3), undefined, CANARY, undefined, undefined],
      // fixed → fixed
      [fixed(3), fixed(4), CANARY, undefined, 'v3 → v4 (fixed version): v4 is rolled out by a canary at 10→50→100%'],
      [fixed(3), fixed(4), 'direct', undefined, 'v3 → v4 (fixed version): v4 is rolled out at once (direct rollout)'],
      [fixed(4), fixed(2), CANARY, undefined, 'v4 → v2 (fixed version): rolls back to v2 by a canary at 10→50→100%'],
      [fixed(4), fixed(2), undefined, undefined, 'v4 → v2 (fixed version): rolls back to v2 at once (direct rollout)'],
      // → fixed from the other shapes
      [
        follow(),
        fixed(2),
        CANARY,
        undefined,
        `fixed at v2 (was @latest): the operator serves exactly v2, rolled out by a canary at 10→50→100% where another version serves, and ignores ${L}`,
      ],
      [
        pinned(5),
        fixed(2),
        'direct',
        undefined,
        `fixed at v2 (was pin v5, new versions from @latest): the operator serves exactly v2, rolled out at once (direct rollout) where another version serves, and ignores ${L}`,
      ],
      // → following an alias
      [
        fixed(3),
        follow(),
        CANARY,
        undefined,
        'follows @latest (was fixed at v3): the operator serves what @latest points to, rolled out by a canary at 10→50→100% where another version serves',
      ],
      [
        follow('latest'),
        follow('champion'),
        CANARY,
        undefined,
        'follows @champion (was @latest): the operator serves what @champion points to, rolled out by a canary at 10→50→100% where another version serves',
      ],
      [
        pinned(3),
        follow(),
        CANARY,
        'hand',
        `pin v3 removed from ${L}: the operator serves what @latest points to, rolled out by a canary at 10→50→100% where another version serves`,
      ],
      [
        pinned(3, 'latest'),
        follow('champion'),
        CANARY,
        undefined,
        `pin v3 removed from ${L}: new versions come from @champion (was @latest); the operator serves what @champion points to, rolled out by a canary at 10→50→100% where another version serves`,
      ],
      // → pinned: the pin is a baseline; up depends on who wrote it, down never rolls back
      [
        follow(),
        pinned(4),
        CANARY,
        'operator',
        `pinned at v4 in ${L}, written by the operator after it promoted v4: v4 already serves, nothing rolls out; newer @latest versions are still canaried against it`,
      ],
      [
        pinned(3),
        pinned(4),
        CANARY,
        'operator',
        `pin v3 → v4 in ${L}, written by the operator after it promoted v4: v4 already serves, nothing rolls out; newer @latest versions are still canaried against it`,
      ],
      [
        pinned(3),
        pinned(4),
        CANARY,
        'hand',
        `pin v3 → v4 in ${L}, edited by hand (only the operator writes pins, after a promotion): where v4 does not serve yet, it is rolled out by a canary at 10→50→100%; newer @latest versions are still canaried against it`,
      ],
      [
        pinned(3),
        pinned(4),
        'direct',
        undefined,
        `pin v3 → v4 in ${L}: v4 becomes the baseline; where it already serves (the operator pins after promoting) nothing rolls out, else it is rolled out at once (direct rollout); newer @latest versions are still canaried against it`,
      ],
      [
        pinned(3),
        pinned(1),
        CANARY,
        'hand',
        `pin v3 → v1 in ${L}: no rollback: a pin behind the version serving never rolls the Model back; to serve v1, fix the version in the app (registry: 'fraud@1')`,
      ],
      [
        pinned(3, 'latest'),
        pinned(1, 'champion'),
        CANARY,
        undefined,
        `pin v3 → v1 in ${L}: no rollback: a pin behind the version serving never rolls the Model back; to serve v1, fix the version in the app (registry: 'fraud@1'); new versions come from @champion (was @latest)`,
      ],
      [pinned(3, 'latest'), pinned(3, 'champion'), CANARY, undefined, 'new versions come from @champion (was @latest); pin v3 unchanged'],
      [
        fixed(3),
        pinned(3),
        CANARY,
        undefined,
        'pin v3, new versions from @latest (was fixed at v3): v3 is the baseline; newer @latest versions are still canaried against it',
      ],
    ];
    for (const [b, a, rollout, writer, want] of cases) {
      assert.equal(explainRef('fraud', b, a, rollout, writer), want, `${describeRef(b)} → ${describeRef(a)} (${rollout}, ${writer})`);
    }
  });
});

describe('model settings with old → new values', () => {
  const spec = (rollout: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    modelRef: { name: 'fraud', alias: 'latest' },
    format: 'onnx',
    inferenceService: 'fraud',
    runtime: 'ghosteam-onnx',
    resources: { cpu: '1', memory: '1Gi' },
    autoscaling: { minReplicas: 1, maxReplicas: 4, targetConcurrency: 16 },
    rollout: { strategy: 'canary', steps: [10, 50, 100], intervalSeconds: 120, thresholds: {}, ...rollout },
    payloadLogging: { enabled: true, mode: 'all' },
    ...extra,
  });

  test("the issue's case: maxErrorRate, interval and minRequests each with both values", () => {
    const b = spec({ intervalSeconds: 120, thresholds: { maxErrorRate: 0.01 }, minRequests: 200 });
    const a = spec({ intervalSeconds: 15, thresholds: { maxErrorRate: 0.05 }, minRequests: 50 });
    assert.deepEqual(modelChanges(b, a), [
      { field: 'rollout.interval', before: '2m', after: '15s' },
      { field: 'rollout.maxErrorRate', before: '0.01', after: '0.05' },
      { field: 'rollout.minRequests', before: '200', after: '50' },
    ]);
    const p = computePlan([model(b)], [model(a)]);
    assert.equal(p.models[0].headline, 'fraud: rollout.interval 2m → 15s, rollout.maxErrorRate 0.01 → 0.05, rollout.minRequests 200 → 50');
  });

  test('a setting left out reads as the default the operator applies', () => {
    const cases: [Record<string, unknown>, Record<string, unknown>, { field: string; before?: string; after?: string }[]][] = [
      [{}, { minRequests: 50 }, [{ field: 'rollout.minRequests', before: '20 (default)', after: '50' }]],
      [{ minRequests: 50 }, {}, [{ field: 'rollout.minRequests', before: '50', after: '20 (default)' }]],
      [{}, { thresholds: { maxErrorRate: 0.01 } }, [{ field: 'rollout.maxErrorRate', before: '0.05 (default)', after: '0.01' }]],
      [{}, { thresholds: { maxP99LatencyMs: 50 } }, [{ field: 'rollout.maxP99LatencyMs', before: 'not checked (default)', after: '50' }]],
      [{ thresholds: { maxPredictionDrift: 0.25 } }, {}, [{ field: 'rollout.maxPredictionDrift', before: '0.25', after: 'not checked (default)' }]],
      // the default written out is no change
      [{}, { minRequests: 20, thresholds: { maxErrorRate: 0.05 } }, []],
      [{ steps: [10, 50, 100] }, { steps: [25, 100] }, [{ field: 'rollout', before: 'canary 10→50→100%', after: 'canary 25→100%' }]],
      [{ intervalSeconds: 300 }, { intervalSeconds: 5400 }, [{ field: 'rollout.interval', before: '5m', after: '1h30m' }]],
      // canary → direct: the steps, interval and thresholds of a direct rollout mean nothing
      [
        { thresholds: { maxErrorRate: 0.01 } },
        { strategy: 'direct', steps: [100], intervalSeconds: 1, thresholds: {} },
        [{ field: 'rollout', before: 'canary 10→50→100%', after: 'direct' }],
      ],
    ];
    for (const [b, a, want] of cases) assert.deepEqual(modelChanges(spec(b), spec(a)), want, `${JSON.stringify(b)} → ${JSON.stringify(a)}`);
  });

  test('the reference, autoscaling, resources, runtime and payload logging', () => {
    const b = spec({});
    const a = spec(
      {},
      {
        modelRef: { name: 'fraud2', version: 3, alias: 'latest' },
        runtime: 'triton',
        resources: { cpu: '2', memory: '1Gi', gpu: { count: 1 } },
        autoscaling: { minReplicas: 2, maxReplicas: 4, targetConcurrency: 16 },
        payloadLogging: { enabled: true, mode: 'request', sampleRate: 0.5 },
      },
    );
    assert.deepEqual(modelChanges(b, a).map(formatValueChange), [
      'registry @latest → pin v3, new versions from @latest',
      'registry.name fraud → fraud2',
      'runtime ghosteam-onnx → triton',
      'resources.cpu 1 → 2',
      'resources.gpu.count added (1)',
      'autoscaling.minReplicas 1 → 2',
      'payloadLogging.mode all → request',
      'payloadLogging.sampleRate added (0.5)',
    ]);
    assert.deepEqual(modelChanges(a, a), []);
  });

  test('rolloutSummary', () => {
    const cases: [unknown, string | undefined][] = [
      [undefined, undefined],
      [{}, undefined],
      [{ strategy: 'canary', steps: [10, 50, 100] }, 'canary 10→50→100%'],
      [{ strategy: 'canary', steps: [10, 50] }, 'canary 10→50→100%'],
      [{ strategy: 'direct', steps: [100] }, 'direct'],
      [{ canary: { steps: [{ weight: 20 }, { setWeight: 60 }] } }, 'canary 20→60→100%'],
      [{ strategy: 'blue-green' }, 'blue-green'],
    ];
    for (const [r, want] of cases) assert.equal(rolloutSummary(r), want, JSON.stringify(r));
  });

  test('more than three changes: a count and groups in the headline, every value in the details and under it', () => {
    const b = spec({ thresholds: { maxErrorRate: 0.01 } });
    const a = spec({ intervalSeconds: 60, thresholds: { maxErrorRate: 0.02 }, minRequests: 10 }, { runtime: 'triton' });
    const p = computePlan([model(b)], [model(a)]);
    assert.equal(p.models[0].headline, 'fraud: 4 settings change: rollout, runtime');
    const text = renderText(report(p));
    assert.match(
      text,
      /\n {2}fraud: 4 settings change: rollout, runtime\n {4}rollout\.interval {6}2m → 1m\n {4}rollout\.maxErrorRate {2}0\.01 → 0\.02\n {4}rollout\.minRequests {3}20 \(default\) → 10\n {4}runtime {15}ghosteam-onnx → triton\n/,
    );
    const md = renderMarkdown(report(p));
    assert.match(md, /\| rollout\.minRequests \| 20 \(default\) \| 10 \|\n/);
  });
});

describe('drift monitor settings', () => {
  const spec = (over: Record<string, unknown> = {}) => ({
    model: 'fraud',
    reference: { uri: 'data/ref.csv', format: 'csv' },
    features: [
      { name: 'amount', type: 'numerical' },
      { name: 'country', type: 'categorical' },
    ],
    test: 'auto',
    thresholds: { driftShare: 0.3 },
    window: { seconds: 3600, minSamples: 500 },
    schedule: '*/10 * * * *',
    action: { retrain: { pipeline: 'fraud-train', params: { data: 'recent.csv' }, cooldownSeconds: 21600 } },
    ...over,
  });

  test('each setting under its construct name with both values', () => {
    const cases: [Record<string, unknown>, string[]][] = [
      [{ thresholds: { driftShare: 0.2 } }, ['driftShare 0.3 → 0.2']],
      [{ thresholds: { driftShare: 0.3, feature: 0.05 } }, ["featureThreshold the test's default → 0.05"]],
      [{ test: 'psi' }, ['test auto → psi']],
      [{ window: { seconds: 600, minSamples: 100 } }, ['window 1h → 10m', 'minSamples 500 → 100']],
      [{ schedule: '0 * * * *' }, ['schedule */10 * * * * → 0 * * * *']],
      [{ reference: { uri: 'data/ref.parquet', format: 'parquet' } }, ['reference data/ref.csv (csv) → data/ref.parquet (parquet)']],
      [{ model: 'fraud2' }, ['model fraud → fraud2']],
      [
        {
          features: [
            { name: 'amount', type: 'numerical', test: 'ks', threshold: 0.01 },
            { name: 'hour', type: 'numerical' },
          ],
        },
        ['feature amount numerical → numerical, test ks, threshold 0.01', 'feature hour added (numerical)', 'feature country removed (was categorical)'],
      ],
      [{ action: {} }, ['retrain fraud-train → none (drift is only reported)']],
      [
        { action: { retrain: { pipeline: 'fraud-train', params: { data: 'last-week.csv', epochs: '5' }, cooldownSeconds: 3600 } } },
        ['retrain.cooldown 6h → 1h', 'retrain.params.data recent.csv → last-week.csv', 'retrain.params.epochs added (5)'],
      ],
    ];
    for (const [over, want] of cases) assert.deepEqual(driftChanges(spec(), spec(over)).map(formatValueChange), want, JSON.stringify(over));
    assert.deepEqual(driftChanges(spec({ action: {} }), spec()).map(formatValueChange), ['retrain none (drift is only reported) → fraud-train']);
    assert.deepEqual(driftChanges(spec(), spec()), []);
  });
});

// ---------------------------------------------------------------------------------------------

function model(spec: Record<string, unknown>, name = 'fraud') {
  return { apiVersion: 'ghosteam.io/v1alpha1', kind: 'Model', metadata: { name, namespace: 'fraud' }, spec };
}

function report(plan: ReturnType<typeof computePlan>, base: PlanReport['base'] = { ref: 'origin/main', commit: 'a'.repeat(40) }): PlanReport {
  return { base, head: { ref: 'HEAD', commit: 'b'.repeat(40) }, plan };
}

const lock = (pins: Record<string, number>) => `${JSON.stringify({ models: Object.fromEntries(Object.entries(pins).map(([k, v]) => [k, { version: v }])) })}\n`;
const writeback = (model: string, version: number) =>
  writebackMessage({ model, version, reason: 'drift', promotedAt: '2026-11-24T05:00:00.000Z', metrics: { auc: 0.9 } }, version - 1);

describe('pins in models.lock.json and who moved them', () => {
  const c = (sha: string, message: string, before: Record<string, number> | undefined, after: Record<string, number> | undefined): LockCommit => ({
    commit: sha.repeat(40).slice(0, 40),
    subject: message.split('\n')[0],
    message,
    ...(before ? { before: lock(before) } : {}),
    ...(after ? { after: lock(after) } : {}),
  });
  const refs = new Map<string, RefShape[]>([
    ['fraud', [pinned(4)]],
    ['churn', [fixed(2)]],
  ]);

  test('isWriteback looks for the trailer the write-back commit carries', () => {
    assert.equal(isWriteback(writeback('fraud', 4)), true);
    assert.equal(isWriteback('Pin fraud to v4\n\nGhosteam-Writeback: false\n'), false);
    assert.equal(isWriteback('Pin fraud to v4 (drift)\n\nI did it by hand, like the Ghosteam-Writeback: true trailer says\n'), false);
  });

  test('pinnedVersions is lenient: what is not the lock format pins nothing', () => {
    assert.deepEqual(
      [...pinnedVersions(lock({ a: 1, b: 2 }))],
      [
        ['a', 1],
        ['b', 2],
      ],
    );
    for (const bad of [undefined, '', 'not json', '[]', '{"models": []}', '{"models": {"a": {"version": 0}, "b": {"version": "2"}, "c": null}}'])
      assert.deepEqual([...pinnedVersions(bad)], [], String(bad));
  });

  test('each move, its writer and its effect', () => {
    const cases: [string, string | undefined, string | undefined, LockCommit[], string[], ('operator' | 'hand' | undefined)[]][] = [
      [
        'operator write-back',
        lock({ fraud: 3 }),
        lock({ fraud: 4 }),
        [c('a', writeback('fraud', 4), { fraud: 3 }, { fraud: 4 })],
        ['fraud: v3 → v4, written by the operator after promoting v4 (aaaaaaa)'],
        ['operator'],
      ],
      [
        'first pin by the operator',
        undefined,
        lock({ fraud: 4 }),
        [c('a', writeback('fraud', 4), undefined, { fraud: 4 })],
        ['fraud: none → v4, written by the operator after promoting v4 (aaaaaaa)'],
        ['operator'],
      ],
      [
        'a hand edit back',
        lock({ fraud: 4 }),
        lock({ fraud: 1 }),
        [c('b', 'roll back fraud', { fraud: 4 }, { fraud: 1 })],
        ['fraud: v4 → v1, edited by hand in bbbbbbb "roll back fraud": only the operator writes pins, after a promotion'],
        ['hand'],
      ],
      [
        'a write-back then a hand edit: hand',
        lock({ fraud: 3 }),
        lock({ fraud: 5 }),
        [c('a', writeback('fraud', 4), { fraud: 3 }, { fraud: 4 }), c('b', 'bump', { fraud: 4 }, { fraud: 5 })],
        ['fraud: v3 → v5, edited by hand in bbbbbbb "bump": only the operator writes pins, after a promotion'],
        ['hand'],
      ],
      [
        'commits that moved another model do not count',
        lock({ fraud: 3 }),
        lock({ fraud: 4, churn: 7 }),
        [c('a', writeback('fraud', 4), { fraud: 3 }, { fraud: 4 }), c('b', 'pin churn', { fraud: 4 }, { fraud: 4, churn: 7 })],
        [
          'churn: none → v7, edited by hand in bbbbbbb "pin churn": only the operator writes pins, after a promotion; ignored: the Model fixes its version (v2) in the app, which wins over models.lock.json',
          'fraud: v3 → v4, written by the operator after promoting v4 (aaaaaaa)',
        ],
        ['hand', 'operator'],
      ],
      [
        'a pin for a model no Model serves',
        lock({}),
        lock({ ghost: 2 }),
        [c('a', 'add ghost', {}, { ghost: 2 })],
        [
          'ghost: none → v2, edited by hand in aaaaaaa "add ghost": only the operator writes pins, after a promotion; no Model in the app serves \'ghost\', so the pin has no effect',
        ],
        ['hand'],
      ],
      [
        'a removed pin',
        lock({ fraud: 3 }),
        lock({}),
        [c('a', 'drop pin', { fraud: 3 }, {})],
        ['fraud: v3 → none, edited by hand in aaaaaaa "drop pin": only the operator writes pins, after a promotion'],
        ['hand'],
      ],
      [
        'no commit in range moved it',
        lock({ fraud: 3 }),
        lock({ fraud: 4 }),
        [],
        ['fraud: v3 → v4, changed outside the commits between base and head'],
        [undefined],
      ],
      ['unchanged', lock({ fraud: 3 }), lock({ fraud: 3 }), [c('a', 'x', { fraud: 3 }, { fraud: 4 }), c('b', 'y', { fraud: 4 }, { fraud: 3 })], [], []],
    ];
    for (const [what, b, h, commits, headlines, writers] of cases) {
      const pins = planPins(b, h, commits, refs);
      assert.deepEqual(
        pins.map((p) => p.headline),
        headlines,
        what,
      );
      assert.deepEqual(
        pins.map((p) => p.writer),
        writers,
        what,
      );
    }
  });

  test("computePlan: a pin moved back by hand is no 'canary of v1', and the Pins section says who", () => {
    const m = (v: number) =>
      model({
        modelRef: { name: 'fraud', version: v, alias: 'latest' },
        rollout: { strategy: 'canary', steps: [10, 50, 100], intervalSeconds: 60, thresholds: {} },
      });
    const p = computePlan([m(3)], [m(1)], undefined, {
      base: lock({ fraud: 3 }),
      head: lock({ fraud: 1 }),
      commits: [c('b', 'revert', { fraud: 3 }, { fraud: 1 })],
    });
    assert.equal(
      p.models[0].headline,
      "fraud: pin v3 → v1 in models.lock.json: no rollback: a pin behind the version serving never rolls the Model back; to serve v1, fix the version in the app (registry: 'fraud@1')",
    );
    assert.doesNotMatch(p.models[0].headline, /canary of v1/);
    assert.equal(p.pins.length, 1);
    const text = renderText(report(p));
    assert.match(
      text,
      /\nPins \(models\.lock\.json\):\n {2}fraud: v3 → v1, edited by hand in bbbbbbb "revert": only the operator writes pins, after a promotion\n/,
    );
    assert.match(text, /\n {4}registry {2}pin v3, new versions from @latest → pin v1, new versions from @latest\n/);
    const md = renderMarkdown({ ...report(p), lockFile: 'deploy/models.lock.json' });
    assert.match(
      md,
      /#### Pins \(deploy\/models\.lock\.json\)\n\n- fraud: v3 → v1, edited by hand in bbbbbbb "revert": only the operator writes pins, after a promotion\n/,
    );
    const up = computePlan([m(3)], [m(4)], undefined, {
      base: lock({ fraud: 3 }),
      head: lock({ fraud: 4 }),
      commits: [c('a', writeback('fraud', 4), { fraud: 3 }, { fraud: 4 })],
    });
    assert.match(
      up.models[0].headline,
      /^fraud: pin v3 → v4 in models\.lock\.json, written by the operator after it promoted v4: v4 already serves, nothing rolls out;/,
    );
  });
});

describe('rendering the compared revisions', () => {
  const p = computePlan([], []);
  test('a base that moved on past the merge-base is named with its tip, and said not to be part of the plan', () => {
    const r = report(p, { ref: 'origin/main', commit: '1'.repeat(40), tip: '2'.repeat(40), ahead: 3 });
    const t = renderText(r);
    assert.match(
      t,
      /^ghosteam plan: origin\/main at the merge-base 1111111, 3 commits behind its tip 2222222 → HEAD \(bbbbbbb\)\n\(compared with the merge-base, as a pull request diff is: the changes on origin\/main since then are not part of this plan\)\n/,
    );
    const one = renderText(report(p, { ref: 'main', commit: '1'.repeat(40), tip: '2'.repeat(40), ahead: 1 }));
    assert.match(one, /1 commit behind its tip 2222222/);
    const md = renderMarkdown(r);
    assert.match(
      md,
      /^### ghosteam plan: `origin\/main at the merge-base 1111111, 3 commits behind its tip 2222222` → `HEAD \(bbbbbbb\)`\n\n_compared with the merge-base/,
    );
    assert.match(renderText(report(p)), /^ghosteam plan: origin\/main \(aaaaaaa\) → HEAD \(bbbbbbb\)\n0 to add/);
  });
});
