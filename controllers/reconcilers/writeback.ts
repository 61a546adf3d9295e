/**
 * The write-back reconciler: commits a Model's promoted stable version to the lock file in Git
 * (opt-in: `ghosteam operator --git-repo`). A controller of its own over Models, so a slow or
 * unreachable remote never holds up canaries. Level-triggered: re-read the Model, plan
 * (planners/writeback.ts), write the pin (gitops/writeback.ts: idempotent, so a retry after a
 * crash finds the pin and makes no second commit), then record the outcome in status.writeBack and
 * the WrittenBack condition.
 */
import type { ModelRegistry } from '../../components/registry/types.ts';
import { PROMOTION_REASONS, type PinRequest, type PromotionReason } from '../../gitops/lockfile.ts';
import { gitError, redactUrl, type GitCredentials } from '../../gitops/git.ts';
import { writeBack } from '../../gitops/writeback.ts';
import { DEFAULT_BACKOFF, planWriteBack, writeBackStatus, type WriteBackBackoff, type WriteBackOutcome, type WriteBackTarget } from '../planners/writeback.ts';
import { ApiError, TYPES } from '../runtime/store.ts';
import { coords, type ReconcileContext } from './common.ts';
import type { ModelObject } from './model.ts';
import type { ReconcileResult, Request } from '../runtime/reconcile.ts';

/** Commits one pin; resolves with writeBack's outcome. */
export interface PinWriter {
  readonly target: WriteBackTarget;
  write(pin: PinRequest): Promise<WriteBackOutcome>;
}

export interface GitWriteBackOptions {
  /** Remote URL (https://, ssh, file://) or a path to a repository. */
  readonly repo: string;
  /** @default 'main' */
  readonly branch?: string;
  /** The lock file's path inside the repository. @default 'models.lock.json' */
  readonly lockFile?: string;
  /** @default - none (public remotes, file paths, an SSH agent) */
  readonly credentials?: GitCredentials;
  /** Backoff between failed attempts. @default DEFAULT_BACKOFF (5 s doubling to 5 min) */
  readonly backoff?: WriteBackBackoff;
}

/** A PinWriter over gitops/writeback.ts (a private clone per attempt; the user's checkout is never touched). */
export function gitPinWriter(o: GitWriteBackOptions, log?: (line: string) => void): PinWriter {
  const target: WriteBackTarget = { repo: redactUrl(o.repo), branch: o.branch ?? 'main', lockFile: o.lockFile ?? 'models.lock.json' };
  return {
    target,
    async write(pin) {
      try {
        const r = await writeBack({ repo: o.repo, branch: target.branch, lockFile: target.lockFile, credentials: o.credentials, pin, ...(log ? { log } : {}) });
        if (r.outcome === 'pushed') return { kind: 'pushed', commit: r.commit!, ...(r.previous !== undefined ? { previous: r.previous } : {}) };
        if (r.outcome === 'superseded') return { kind: 'superseded', pinned: r.pinned };
        return { kind: 'unchanged' };
      } catch (e) {
        // writeBack's own errors are redacted already; gitError redacts anything else.
        return { kind: 'failed', error: gitError('write-back', e, o.credentials).message.replace(/^write-back: /, '') };
      }
    },
  };
}

export interface WriteBackDeps extends ReconcileContext {
  readonly writer: PinWriter;
  readonly registry?: ModelRegistry;
  readonly backoff?: WriteBackBackoff;
}

/** Why the pinned version exists (the registry's lineage), and its metrics; 'manual' and none when unknown. */
async function provenance(
  registry: ModelRegistry | undefined,
  name: string,
  version: number,
): Promise<{ reason: PromotionReason; metrics: Record<string, number> }> {
  if (!registry) return { reason: 'manual', metrics: {} };
  try {
    const v = await registry.getVersion(name, version);
    const reason = (PROMOTION_REASONS as readonly string[]).includes(v.lineage.reason ?? '') ? (v.lineage.reason as PromotionReason) : 'manual';
    const metrics = Object.fromEntries(Object.entries(v.metrics).filter(([, x]) => typeof x === 'number' && Number.isFinite(x)));
    return { reason, metrics };
  } catch {
    return { reason: 'manual', metrics: {} };
  }
}

export async function reconcileWriteBack(d: WriteBackDeps, req: Request): Promise<ReconcileResult> {
  const t = TYPES.Model;
  const obj = (await d.store.get(t, req.namespace, req.name)) as ModelObject | undefined;
  if (!obj || obj.metadata.deletionTimestamp) return {};
  const backoff = d.backoff ?? DEFAULT_BACKOFF;
  const plan = planWriteBack(obj.status, d.now(), backoff);
  if (plan.kind === 'none') return {};
  if (plan.kind === 'wait') return { requeueAfterMs: plan.requeueAfterMs };
  const log = d.log.with(coords(obj));
  const model = obj.spec.modelRef.name;
  // The version this promotion replaced, while the Model still says so (else the lock's current pin).
  const previous = obj.status?.stableVersion === plan.version ? obj.status.promotedFrom : undefined;
  const pin: PinRequest = {
    model,
    version: plan.version,
    promotedAt: plan.promotedAt,
    ...(previous !== undefined ? { previous } : {}),
    ...(await provenance(d.registry, model, plan.version)),
  };
  const outcome = await d.writer.write(pin);
  if (outcome.kind === 'failed') log.warn(`write-back of ${model} v${plan.version} to ${d.writer.target.repo} failed: ${outcome.error}`);
  else log.info(`write-back of ${model} v${plan.version}: ${outcome.kind}${outcome.kind === 'pushed' ? ` (${outcome.commit.slice(0, 7)})` : ''}`);

  // Record the outcome on the freshest Model: the Model reconciler may have written status while
  // git ran. Our fields merge onto its status; a conflict re-reads and merges again.
  for (let attempt = 1; ; attempt++) {
    const cur = (attempt === 1 ? obj : await d.store.get(t, req.namespace, req.name)) as ModelObject | undefined;
    if (!cur) return {};
    const now = d.now();
    const up = writeBackStatus(cur.status, plan.version, outcome, d.writer.target, now, cur.metadata.generation ?? 1, backoff);
    try {
      const stored = await d.store.replaceStatus(t, { ...cur, status: { ...(cur.status ?? {}), writeBack: up.writeBack, conditions: up.conditions } });
      if (up.event) await d.events.record(stored, up.event.type, up.event.reason, up.event.message);
      return up.requeueAfterMs !== undefined ? { requeueAfterMs: up.requeueAfterMs } : {};
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409) || attempt >= 5) throw e;
    }
  }
}
