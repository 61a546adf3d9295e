/**
 * The checks a CRD schema cannot state (api/crds/semantics.ts), as synth, validate and the local
 * operator apply them: canary steps strictly increasing and ending at 100, replica bounds that can
 * hold. Table tests of the pure checks, then the same objects through validateObjects (construct
 * path in the message), `ghosteam validate` on hand-written YAML, and `ghosteam synth` naming the
 * place in the app where a value class refused a value.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { replicaBoundErrors, rolloutStepErrors, semanticErrors } from '../../api/crds/semantics.ts';
import { validateGhosteamObject } from '../../api/crds/validate.ts';
import { appPlace } from '../../api/app.ts';
import { Model } from '../../charts/model.ts';
import { validateObjects } from '../../charts/validate.ts';
import { formatIssue } from '../../api/errors.ts';
import { toYaml } from '../../charts/synth.ts';
import type { K8sObject } from '../../api/objects.ts';

const root = join(import.meta.dirname, '..', '..');
const cli = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'ghosteam.mjs'), ...args], { encoding: 'utf8', cwd });

describe('canary steps (rolloutStepErrors)', () => {
  const cases: Array<[string, unknown[], string[]]> = [
    ['increasing, ending at 100', [10, 50, 100], []],
    ['one step of 100', [100], []],
    ['every percent up to 100', [1, 2, 3, 99, 100], []],
    [
      'decreasing',
      [50, 10, 100],
      ['spec.rollout.steps[1]: (10) is not above the step before it (50); canary steps must strictly increase, e.g. [10, 50, 100]'],
    ],
    ['repeated', [10, 10, 100], ['spec.rollout.steps[1]: (10) is not above the step before it (10); canary steps must strictly increase, e.g. [10, 50, 100]']],
    ['not ending at 100', [10, 50], ['spec.rollout.steps[1]: (50) is the last step, but a canary ends at 100; append 100 (e.g. [10, 50, 100])']],
    ['empty', [], ['spec.rollout.steps: is empty; give the canary percentages ending at 100, e.g. [10, 50, 100]']],
    ['zero', [0, 100], ['spec.rollout.steps[0]: (0) must be a whole percent from 1 to 100']],
    ['above 100', [10, 150], ['spec.rollout.steps[1]: (150) must be a whole percent from 1 to 100']],
    ['a fraction', [12.5, 100], ['spec.rollout.steps[0]: (12.5) must be a whole percent from 1 to 100']],
    [
      '100 before the end',
      [10, 100, 50],
      ['spec.rollout.steps[2]: (50) is not above the step before it (100); canary steps must strictly increase, e.g. [10, 50, 100]'],
    ],
  ];
  for (const [name, steps, want] of cases) {
    test(name, () => {
      assert.deepEqual(
        rolloutStepErrors({ strategy: 'canary', steps }).map((e) => `${e.field}: ${e.message}`),
        want,
      );
    });
  }
  test('a direct rollout has no steps to check', () => {
    assert.deepEqual(rolloutStepErrors({ strategy: 'direct', steps: [] }), []);
  });
});

describe('replica bounds (replicaBoundErrors)', () => {
  const cases: Array<[string, { minReplicas: number; maxReplicas: number }, string[]]> = [
    ['min below max', { minReplicas: 1, maxReplicas: 3 }, []],
    ['min equal to max', { minReplicas: 4, maxReplicas: 4 }, []],
    ['scale to zero', { minReplicas: 0, maxReplicas: 1 }, []],
    [
      'min above max',
      { minReplicas: 9, maxReplicas: 4 },
      ['spec.autoscaling.maxReplicas: (4) is below minReplicas (9); raise maxReplicas to at least 9 or lower minReplicas'],
    ],
  ];
  for (const [name, a, want] of cases) {
    test(name, () => {
      assert.deepEqual(
        replicaBoundErrors(a).map((e) => `${e.field}: ${e.message}`),
        want,
      );
    });
  }
});

/** A valid Model object as synth writes it, with overrides of its rollout and autoscaling. */
function model(over: { steps?: number[]; minReplicas?: number; maxReplicas?: number } = {}): K8sObject {
  const m = new Model(new Chart(new App(), 'fraud', { namespace: 'ml' }), 'fraud', { registry: 'fraud@champion', useLockFile: false });
  const obj = structuredClone((m.node.scope as Chart).toJson().find((x: K8sObject) => x.kind === 'Model')) as K8sObject & {
    spec: { rollout: { steps: number[] }; autoscaling: { minReplicas: number; maxReplicas: number } };
  };
  if (over.steps) obj.spec.rollout.steps = over.steps;
  if (over.minReplicas !== undefined) obj.spec.autoscaling.minReplicas = over.minReplicas;
  if (over.maxReplicas !== undefined) obj.spec.autoscaling.maxReplicas = over.maxReplicas;
  return obj;
}

describe('synth, validate and the operator refuse the same objects', () => {
  test('validateGhosteamObject (the local operator applies it) runs the checks after the schema', () => {
    assert.deepEqual(validateGhosteamObject(model()), []);
    assert.deepEqual(
      validateGhosteamObject(model({ steps: [50, 10], minReplicas: 9, maxReplicas: 4 })).map((e) => e.field),
      ['spec.rollout.steps[1]', 'spec.autoscaling.maxReplicas'],
    );
    // A schema error comes alone: the semantic checks need a well-formed object.
    assert.deepEqual(
      validateGhosteamObject(model({ minReplicas: -1, maxReplicas: 0 })).map((e) => e.field),
      ['spec.autoscaling.minReplicas', 'spec.autoscaling.maxReplicas'],
    );
    assert.deepEqual(semanticErrors({ kind: 'DriftMonitor', spec: {} }), []);
  });

  test('validateObjects names the construct path and the fix', () => {
    const issues = validateObjects([{ object: model({ steps: [50, 10], minReplicas: 9, maxReplicas: 4 }), source: 'fraud.yaml' }]).map(formatIssue);
    assert.deepEqual(issues, [
      "fraud/fraud: 'spec.rollout.steps[1]' (10) is not above the step before it (50); canary steps must strictly increase, e.g. [10, 50, 100]",
      "fraud/fraud: 'spec.autoscaling.maxReplicas' (4) is below minReplicas (9); raise maxReplicas to at least 9 or lower minReplicas",
    ]);
  });

  test('ghosteam validate refuses hand-written YAML the operator would refuse, with file and fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-semantics-'));
    try {
      const bad = model({ steps: [10, 50], minReplicas: 9, maxReplicas: 4 });
      delete (bad.metadata.annotations as Record<string, string>)['ghosteam.io/construct-path'];
      writeFileSync(join(dir, 'model.yaml'), toYaml([bad]));
      const r = cli(dir, 'validate', 'model.yaml');
      assert.equal(r.status, 1, r.stdout);
      assert.deepEqual(r.stderr.trim().split('\n').slice(0, 2), [
        "model.yaml:1#Model/fraud: 'spec.rollout.steps[1]' (50) is the last step, but a canary ends at 100; append 100 (e.g. [10, 50, 100])",
        "model.yaml:1#Model/fraud: 'spec.autoscaling.maxReplicas' (4) is below minReplicas (9); raise maxReplicas to at least 9 or lower minReplicas",
      ]);
      writeFileSync(join(dir, 'model.yaml'), toYaml([model()]));
      const ok = cli(dir, 'validate', 'model.yaml');
      assert.equal(ok.status, 0, ok.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ghosteam synth names the line of the app where Rollout.canary or Autoscaling.of refused a value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-semantics-app-'));
    try {
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
      const app = (line: string) => `import { Chart } from '${join(root, 'node_modules/cdk8s/lib/index.js')}';
import { Autoscaling, Model, Rollout } from '${join(root, 'charts/index.ts')}';
export default (app: any) => {
  const c = new Chart(app, 'c', { namespace: 'ml' });
${line}
};
`;
      writeFileSync(join(dir, 'app.ts'), app(`  new Model(c, 'fraud', { registry: 'fraud@champion', rollout: Rollout.canary({ steps: [50, 10] }) });`));
      let r = cli(dir, 'synth', 'app.ts', '--out', 'dist', '--no-source-commit');
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'error: app.ts:5:72: Rollout.canary: steps must increase; step 1 (10) is not above 50\n');
      writeFileSync(
        join(dir, 'app.ts'),
        app(`  new Model(c, 'fraud', { registry: 'fraud@champion', autoscaling: Autoscaling.of({ minReplicas: 9, maxReplicas: 4 }) });`),
      );
      r = cli(dir, 'synth', 'app.ts', '--out', 'dist', '--no-source-commit');
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'error: app.ts:5:80: Autoscaling: maxReplicas (4) is below minReplicas (9); raise maxReplicas\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('appPlace takes the first frame inside the app directory, outside node_modules', () => {
    const stack = [
      'Error: x',
      '    at Function.canary (file:///repo/charts/rollout.ts:31:63)',
      '    at file:///home/u/app/node_modules/lib/x.js:1:1',
      '    at default (file:///home/u/app/src/app.ts:12:5)',
      '    at /home/u/app/app.ts:3:1',
    ].join('\n');
    assert.match(appPlace(stack, '/home/u/app/app.ts') ?? '', /\/home\/u\/app\/src\/app\.ts:12:5$|^src\/app\.ts:12:5$/);
    assert.equal(appPlace(stack, '/elsewhere/app.ts'), undefined);
    assert.equal(appPlace(undefined, '/home/u/app/app.ts'), undefined);
  });
});
