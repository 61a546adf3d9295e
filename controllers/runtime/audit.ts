/**
 * The operator's audit trail: every decision it acts on — a promotion, a rollback, a traffic change
 * of a canary, a pause or resume, a retrain it starts, a write-back of a pin — also goes to the
 * audit log (components/security/audit.ts: the model server's format, one fsynced JSON line each,
 * hash-chained) with who (the operator instance), what, when and the outcome. The Kubernetes Events
 * stay as they are: the recorder wraps the Event recorder and records an audit line for the Events
 * that report such a decision, after the status that commits it is written (reconcilers record
 * Events after their commit point), so a line means the decision was taken.
 *
 * Who: the operator acts on its own authority or on a request written into the object (the
 * ghosteam.io/rollout annotation for promote, abort, pause, resume); the API server's own audit log
 * names who wrote that. The line says which (`detail.reason`: ManualPromote, Aborted… for requests).
 */
import type { AuditEntry, AuditLog, AuditOutcome } from '../../components/security/audit.ts';
import type { K8sObject } from '../../api/objects.ts';
import type { EventRecorder } from './events.ts';
import type { Logger } from './log.ts';

/** The audited action an Event reason reports, and its outcome; absent: not an action (pure, table-tested). */
export const AUDITED_EVENTS: Readonly<Record<string, { readonly what: string; readonly outcome: AuditOutcome }>> = {
  Promoted: { what: 'promote', outcome: 'success' },
  RolledBack: { what: 'rollback', outcome: 'success' },
  Paused: { what: 'pause', outcome: 'success' },
  Resumed: { what: 'resume', outcome: 'success' },
  // Traffic changes: a version deployed or replaced, a canary started, moved a step, superseded or withdrawn.
  Deployed: { what: 'traffic', outcome: 'success' },
  RolloutStarted: { what: 'traffic', outcome: 'success' },
  StepPassed: { what: 'traffic', outcome: 'success' },
  RolloutSuperseded: { what: 'traffic', outcome: 'success' },
  RolloutCancelled: { what: 'traffic', outcome: 'success' },
  // Retrains the operator starts: on drift, and on a pipeline's spec change in Git.
  RetrainTriggered: { what: 'retrain', outcome: 'success' },
  GitChange: { what: 'retrain', outcome: 'success' },
  // Write-back of the promoted version's pin to the lock file in Git.
  WrittenBack: { what: 'write-back', outcome: 'success' },
  WriteBackFailed: { what: 'write-back', outcome: 'failure' },
};

/** The audit entry for an Event, or undefined when the Event reports no action (pure). */
export function auditEntryOf(obj: K8sObject, eventType: 'Normal' | 'Warning', reason: string, message: string, who: string): AuditEntry | undefined {
  const a = AUDITED_EVENTS[reason];
  if (!a) return undefined;
  const ns = obj.metadata.namespace;
  return {
    who,
    via: 'operator',
    what: a.what,
    target: ns !== undefined ? `${ns}/${obj.metadata.name}` : obj.metadata.name,
    outcome: a.outcome,
    detail: { kind: obj.kind, reason, message, eventType },
    ...(a.outcome === 'failure' ? { error: message } : {}),
  };
}

/**
 * Records Events as `inner` does and, for an action, its audit line (awaited: fsynced before the
 * reconcile goes on). A failed audit write is logged as an error and does not fail the reconcile:
 * the decision is committed already, and a retry would repeat it.
 */
export function auditingRecorder(inner: EventRecorder, audit: AuditLog, who: string, log: Logger): EventRecorder {
  return {
    async record(obj, eventType, reason, message) {
      await inner.record(obj, eventType, reason, message);
      const e = auditEntryOf(obj, eventType, reason, message, who);
      if (!e) return;
      try {
        await audit.record(e);
      } catch (err) {
        log.error(`AUDIT LOG WRITE FAILED for ${e.what} ${e.target} (${e.outcome}) in ${audit.file}: ${(err as Error).message}`, {
          kind: obj.kind,
          namespace: obj.metadata.namespace,
          name: obj.metadata.name,
        });
      }
    },
    flush: () => inner.flush(),
  };
}
