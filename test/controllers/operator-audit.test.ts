// Which operator Events are audited, and how (pure): the table is the contract for the audit log's
// `what` values of the operator (promote, rollback, traffic, pause, resume, retrain, write-back).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditEntryOf, auditingRecorder } from '../../controllers/runtime/audit.ts';
import type { AuditEntry, AuditLog } from '../../components/security/audit.ts';
import type { EventRecorder } from '../../controllers/runtime/events.ts';
import { silentLogger, type Logger } from '../../controllers/runtime/log.ts';
import type { K8sObject } from '../../api/objects.ts';

const model: K8sObject = { apiVersion: 'ghosteam.io/v1alpha1', kind: 'Model', metadata: { name: 'fraud', namespace: 'ml' } };

test('each decision Event maps to its audited action; other Events are not audited', () => {
  const cases: Array<[string, 'Normal' | 'Warning', string | undefined, string | undefined]> = [
    ['Promoted', 'Normal', 'promote', 'success'],
    ['RolledBack', 'Warning', 'rollback', 'success'],
    ['Paused', 'Normal', 'pause', 'success'],
    ['Resumed', 'Normal', 'resume', 'success'],
    ['Deployed', 'Normal', 'traffic', 'success'],
    ['RolloutStarted', 'Normal', 'traffic', 'success'],
    ['StepPassed', 'Normal', 'traffic', 'success'],
    ['RolloutSuperseded', 'Normal', 'traffic', 'success'],
    ['RolloutCancelled', 'Normal', 'traffic', 'success'],
    ['RetrainTriggered', 'Warning', 'retrain', 'success'],
    ['GitChange', 'Normal', 'retrain', 'success'],
    ['WrittenBack', 'Normal', 'write-back', 'success'],
    ['WriteBackFailed', 'Warning', 'write-back', 'failure'],
    ['Ready', 'Normal', undefined, undefined],
    ['Placed', 'Normal', undefined, undefined],
  ];
  for (const [reason, type, what, outcome] of cases) {
    const e = auditEntryOf(model, type, reason, `m ${reason}`, 'op@pod-1');
    assert.equal(e?.what, what, reason);
    assert.equal(e?.outcome, outcome, reason);
    if (e) {
      assert.equal(e.who, 'op@pod-1');
      assert.equal(e.via, 'operator');
      assert.equal(e.target, 'ml/fraud');
      assert.deepEqual(e.detail, { kind: 'Model', reason, message: `m ${reason}`, eventType: type });
      assert.equal(e.error, outcome === 'failure' ? `m ${reason}` : undefined);
    }
  }
});

test('the recorder keeps the Events, audits the actions, and a failing audit write is logged, not thrown', async () => {
  const events: string[] = [];
  const inner: EventRecorder = {
    record: async (_o, _t, reason) => void events.push(reason),
    flush: async () => {},
  };
  const lines: AuditEntry[] = [];
  let fail = false;
  const audit: AuditLog = {
    file: '/x/audit.jsonl',
    record: async (e) => {
      if (fail) throw new Error('disk full');
      lines.push(e);
    },
    close: async () => {},
  };
  const errors: string[] = [];
  const log: Logger = { ...silentLogger, error: (m) => void errors.push(m) };
  const r = auditingRecorder(inner, audit, 'op@pod-1', log);
  await r.record(model, 'Normal', 'Ready', 'ready');
  await r.record(model, 'Normal', 'Promoted', 'version 3 promoted');
  fail = true;
  await r.record(model, 'Warning', 'RolledBack', 'version 4 rolled back');
  assert.deepEqual(events, ['Ready', 'Promoted', 'RolledBack']);
  assert.deepEqual(
    lines.map((l) => l.what),
    ['promote'],
  );
  assert.equal(errors.length, 1);
  assert.match(errors[0], /AUDIT LOG WRITE FAILED for rollback ml\/fraud \(success\) in \/x\/audit\.jsonl: disk full/);
});
