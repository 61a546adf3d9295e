// Pure parts of lock files, retrain decisions, commit filtering, credentials and redaction.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPin, parseLock, serializeLock, writebackMessage, type PinRequest } from '../../gitops/lockfile.ts';
import { decideRetrains, EMPTY_STATE, parseTrailers, planCommits, writebackReason, type CommitInfo } from '../../gitops/retrain.ts';
import { credentialsFromEnv, credentialsFromSecret, isNonFastForward, redact, redactUrl, secretsOf } from '../../gitops/git.ts';
import type { K8sObject } from '../../api/objects.ts';

const req = (over: Partial<PinRequest> = {}): PinRequest => ({
  model: 'fraud',
  version: 4,
  reason: 'drift',
  metrics: { auc: 0.91 },
  promotedAt: '2026-11-23T04:00:00.000Z',
  ...over,
});

describe('models.lock.json', () => {
  test('serialization is stable: sorted models and metrics, fixed field order, trailing newline', () => {
    const lock = parseLock(
      JSON.stringify({
        models: {
          zeta: { metrics: { b: 1, a: 2 }, reason: 'manual', promotedAt: '2026-01-01T00:00:00Z', version: 2 },
          alpha: { version: 1, previous: 1, reason: 'drift', promotedAt: '2026-01-01T00:00:00Z', metrics: {} },
        },
      }),
    );
    const text = serializeLock(lock);
    assert.equal(
      text,
      '{\n  "models": {\n    "alpha": {\n      "version": 1,\n      "previous": 1,\n      "promotedAt": "2026-01-01T00:00:00Z",\n      "reason": "drift",\n      "metrics": {}\n    },\n    "zeta": {\n      "version": 2,\n      "promotedAt": "2026-01-01T00:00:00Z",\n      "reason": "manual",\n      "metrics": {\n        "a": 2,\n        "b": 1\n      }\n    }\n  }\n}\n',
    );
    assert.equal(serializeLock(parseLock(text)), text, 'round trip is byte-identical');
  });

  test('empty or missing file means no pins', () => {
    assert.deepEqual(parseLock(undefined), { models: {} });
    assert.deepEqual(parseLock('  \n'), { models: {} });
  });

  test('errors name the file and the field', () => {
    assert.throws(() => parseLock('{', 'app/models.lock.json'), /^LockFileError: app\/models\.lock\.json is not valid JSON \(.*\); fix or delete it$/);
    assert.throws(() => parseLock('[]'), { message: 'models.lock.json must be an object of the form { "models": { ... } }' });
    assert.throws(() => parseLock('{"models": []}'), { message: "models.lock.json: 'models' must be an object keyed by model name" });
    assert.throws(() => parseLock('{"models": {"fraud": {"version": 0}}}'), {
      message: 'models.lock.json: models.fraud.version must be a positive integer (got 0)',
    });
    assert.throws(() => parseLock('{"models": {"fraud": {"version": 2, "promotedAt": "yesterday", "reason": "drift"}}}'), {
      message: 'models.lock.json: models.fraud.promotedAt must be an ISO-8601 time such as 2026-01-31T12:00:00.000Z (got "yesterday")',
    });
    assert.throws(() => parseLock('{"models": {"fraud": {"version": 2, "promotedAt": "2026-01-01T00:00:00Z", "reason": "whim"}}}'), {
      message: 'models.lock.json: models.fraud.reason must be one of drift, performance, git-change, schedule, manual (got "whim")',
    });
    assert.throws(
      () => parseLock('{"models": {"fraud": {"version": 2, "promotedAt": "2026-01-01T00:00:00Z", "reason": "drift", "metrics": {"auc": "high"}}}}'),
      {
        message: 'models.lock.json: models.fraud.metrics.auc must be a finite number (got "high")',
      },
    );
    assert.throws(() => parseLock('{"models": {"bad name": {}}}'), {
      message: "models.lock.json: 'bad name' is not a model name (letters, digits, '-', '_' and '.')",
    });
  });

  test('applyPin: pins with previous = current, keeps other models, never downgrades', () => {
    const start = parseLock(
      '{"models": {"fraud": {"version": 3, "promotedAt": "2026-01-01T00:00:00Z", "reason": "manual"}, "churn": {"version": 9, "promotedAt": "2026-01-01T00:00:00Z", "reason": "manual"}}}',
    );
    const r = applyPin(start, req());
    assert.equal(r.kind, 'pinned');
    assert.equal(r.kind === 'pinned' && r.previous, 3);
    assert.deepEqual(r.lock.models.fraud, { version: 4, previous: 3, promotedAt: '2026-11-23T04:00:00.000Z', reason: 'drift', metrics: { auc: 0.91 } });
    assert.equal(r.lock.models.churn.version, 9);
    assert.equal(applyPin(r.lock, req()).kind, 'unchanged');
    const older = applyPin(r.lock, req({ version: 2 }));
    assert.deepEqual([older.kind, older.kind === 'superseded' && older.pinned], ['superseded', 4]);
    const fresh = applyPin({ models: {} }, req({ model: 'new' }));
    assert.equal(fresh.kind === 'pinned' && 'previous' in fresh.lock.models.new, false);
    assert.throws(() => applyPin({ models: {} }, req({ version: 1.5 })), { message: 'pin for fraud.version must be a positive integer (got 1.5)' });
  });

  test('the commit message names model, versions, metrics, reason and carries the trailer', () => {
    const m = writebackMessage(req({ metrics: { f1: 0.8, auc: 0.912345678 } }), 3);
    assert.equal(
      m,
      'Pin fraud to v4 (drift)\n\nModel fraud was promoted v3 → v4 on 2026-11-23T04:00:00.000Z because of drift.\nMetrics: auc=0.912346, f1=0.8.\nWritten by ghosteam to models.lock.json; this commit does not trigger retraining.\n\nGhosteam-Writeback: true\nGhosteam-Model: fraud@4\n',
    );
    assert.deepEqual(parseTrailers(m), { 'ghosteam-writeback': 'true', 'ghosteam-model': 'fraud@4' });
  });
});

describe('commit filtering (no write-back loops)', () => {
  const c = (message: string, files: string[]): CommitInfo => ({ sha: 'x'.repeat(40), message, files });

  test('trailer, lock-only and ordinary commits', () => {
    assert.equal(writebackReason(c('Pin fraud\n\nGhosteam-Writeback: true', ['models.lock.json', 'app.ts'])), 'it carries the Ghosteam-Writeback trailer');
    assert.equal(writebackReason(c('bump pin by hand', ['examples/fraud/models.lock.json'])), 'it only changes examples/fraud/models.lock.json');
    assert.equal(writebackReason(c('more epochs', ['app.ts', 'models.lock.json'])), undefined);
    assert.equal(writebackReason(c('Ghosteam-Writeback: true', ['app.ts'])), undefined, 'a subject line is not a trailer');
    assert.equal(writebackReason(c('x\n\nGhosteam-Writeback: false', ['app.ts'])), undefined);
    assert.equal(writebackReason(c('empty', [])), undefined);
    assert.equal(writebackReason(c('x', ['pins.json']), ['pins.json']), 'it only changes pins.json');
  });

  test('trailers are the last paragraph only, and only when every line is a trailer', () => {
    assert.deepEqual(parseTrailers('subject\n\nbody text\n\nSigned-off-by: A <a@b>\nGhosteam-Writeback: true\n'), {
      'signed-off-by': 'A <a@b>',
      'ghosteam-writeback': 'true',
    });
    assert.deepEqual(parseTrailers('subject\n\nnot a trailer line\nKey: v'), {});
    assert.deepEqual(parseTrailers('Key: v'), {});
  });

  test('planCommits skips write-backs and, with latestOnly, all but the newest real change', () => {
    const commits = [c('a', ['app.ts']), c('pin\n\nGhosteam-Writeback: true', ['models.lock.json']), c('b', ['app.ts']), c('pin2', ['models.lock.json'])];
    assert.deepEqual(
      planCommits(commits).map((a) => a.kind),
      ['synthesize', 'skip', 'synthesize', 'skip'],
    );
    assert.deepEqual(
      planCommits([c('pin\n\nGhosteam-Writeback: true', ['models.lock.json'])], { baseline: true }).map((a) => a.kind),
      ['synthesize'],
      'a first poll always has a baseline',
    );
    const latest = planCommits(commits, { latestOnly: true });
    assert.deepEqual(
      latest.map((a) => (a.kind === 'skip' ? a.why : 'synthesize')),
      [
        'superseded by a newer commit in the same fetch',
        'write-back commit: it carries the Ghosteam-Writeback trailer',
        'synthesize',
        'write-back commit: it only changes models.lock.json',
      ],
    );
  });
});

describe('decideRetrains: once per spec hash', () => {
  const pipe = (name: string, hash: string, kind = 'WorkflowTemplate'): K8sObject => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind,
    metadata: { name, namespace: 'ml', annotations: { 'ghosteam.io/spec-hash': hash } },
  });
  const other: K8sObject = { apiVersion: 'ghosteam.io/v1alpha1', kind: 'Model', metadata: { name: 'fraud' } };

  test('new hashes start once; the same hash (or its CronWorkflow twin) never again', () => {
    const first = decideRetrains([pipe('a', 'h1'), pipe('a', 'h1', 'CronWorkflow'), pipe('b', 'h9'), other], EMPTY_STATE, 'c1');
    assert.deepEqual(
      first.start.map((s) => `${s.key}@${s.hash}:${s.reason}:${s.commit}`),
      ['ml/a@h1:git-change:c1', 'ml/b@h9:git-change:c1'],
    );
    assert.deepEqual(
      first.skip.map((s) => s.why),
      ['spec hash h1 was already trained'],
    );
    assert.equal(first.state.lastCommit, 'c1');
    const again = decideRetrains([pipe('a', 'h1'), pipe('b', 'h9')], first.state, 'c2');
    assert.deepEqual(again.start, []);
    const changed = decideRetrains([pipe('a', 'h2'), pipe('b', 'h9')], again.state, 'c3');
    assert.deepEqual(
      changed.start.map((s) => s.key),
      ['ml/a'],
    );
    // Reverting to a hash that was already trained does not retrain it.
    assert.deepEqual(decideRetrains([pipe('a', 'h1')], changed.state, 'c4').start, []);
    assert.deepEqual(changed.state.trained['ml/a'], ['h1', 'h2']);
  });
});

describe('credentials and redaction', () => {
  test('from the environment', () => {
    assert.deepEqual(credentialsFromEnv({ GHOSTEAM_GIT_TOKEN: 't0k' }), { username: 'x-access-token', password: 't0k' });
    assert.deepEqual(credentialsFromEnv({ GHOSTEAM_GIT_USERNAME: 'me', GHOSTEAM_GIT_PASSWORD: 'pw' }), { username: 'me', password: 'pw' });
    assert.equal(credentialsFromEnv({}), undefined);
  });

  test('from a Secret (data is base64, stringData is plain); a missing key names the Secret', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    assert.deepEqual(credentialsFromSecret({ data: { username: b64('bot'), token: b64('abc') } }), { username: 'bot', password: 'abc' });
    assert.deepEqual(credentialsFromSecret({ stringData: { password: 'pw' } }), { username: 'x-access-token', password: 'pw' });
    assert.throws(() => credentialsFromSecret({ metadata: { name: 'git', namespace: 'ghosteam' }, data: { username: b64('x') } }), {
      message: "Secret ghosteam/git has neither a 'password' nor a 'token' key; add one (kubectl create secret generic … --from-literal=token=…)",
    });
  });

  test('URLs, Authorization headers and known secrets are redacted', () => {
    assert.equal(redactUrl('fatal: unable to access https://bot:s3cr3t@git.example.com/x.git/'), 'fatal: unable to access https://***@git.example.com/x.git/');
    assert.equal(redactUrl('ssh://git@host/x'), 'ssh://***@host/x');
    assert.equal(redact('Authorization: Basic Ym90OnMzY3IzdA== sent'), 'Authorization: Basic *** sent');
    const creds = { username: 'bot', password: 'hunter2-long' };
    const text = `pw hunter2-long and header ${Buffer.from('bot:hunter2-long').toString('base64')}`;
    assert.equal(redact(text, secretsOf(creds)), 'pw *** and header ***');
  });

  test('non-fast-forward detection', () => {
    assert.equal(isNonFastForward(new Error(' ! [rejected]        HEAD -> main (fetch first)')), true);
    assert.equal(
      isNonFastForward(
        new Error('error: failed to push some refs\nhint: Updates were rejected because the tip of your current branch is behind (non-fast-forward)'),
      ),
      true,
    );
    assert.equal(isNonFastForward(new Error('fatal: Authentication failed')), false);
  });
});

describe('registeredModelOf', () => {
  test('reads the register task’s model name from the synthesized WorkflowTemplate', async () => {
    const { registeredModelOf } = await import('../../gitops/runtimes.ts');
    const wt = (name: string, value: string): K8sObject => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'WorkflowTemplate',
      metadata: { name, namespace: 'ml' },
      spec: {
        templates: [
          {
            name: 'dag',
            dag: {
              tasks: [
                { name: 'train', template: 'train' },
                { name: 'register', template: 'register', arguments: { parameters: [{ name: 'name', value }] } },
              ],
            },
          },
        ],
      },
    });
    assert.equal(registeredModelOf([wt('a-train', 'fraud')], 'a-train'), 'fraud');
    assert.equal(registeredModelOf([wt('a-train', 'fraud')], 'a-train', 'other'), undefined);
    assert.equal(registeredModelOf([wt('a-train', '{{workflow.parameters.model}}')], 'a-train'), undefined, 'a templated name is not known before the run');
    assert.equal(registeredModelOf([], 'a-train'), undefined);
  });
});
