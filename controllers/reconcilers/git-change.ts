/**
 * git-change trigger: when a synced WorkflowTemplate carries a `ghosteam.io/spec-hash` (set by
 * `ghosteam synth`) that no TrainingRun has been started for, start one with reason git-change.
 * The run's name is derived from the template and the hash, so it is created once per hash, across
 * restarts and concurrent workers. Templates opt in with the label `ghosteam.io/retrain-on-change: "true"`.
 */
import { isAlreadyExists, TYPES } from '../runtime/store.ts';
import { gitChangeRunName } from '../planners/training-run.ts';
import type { ReconcileContext } from './common.ts';
import { PIPELINE_LABEL, REASON_LABEL, SPEC_HASH_ANNOTATION } from '../../api/objects.ts';
import type { K8sObject } from '../../api/objects.ts';
import type { ReconcileResult, Request } from '../runtime/reconcile.ts';

export const RETRAIN_ON_CHANGE_LABEL = 'ghosteam.io/retrain-on-change';
export const MODEL_ANNOTATION = 'ghosteam.io/model';
export const GIT_COMMIT_ANNOTATION = 'ghosteam.io/git-commit';

/** The TrainingRun a template's current hash calls for, or undefined. Pure. */
export function planGitChange(wt: K8sObject): K8sObject | undefined {
  const hash = wt.metadata.annotations?.[SPEC_HASH_ANNOTATION];
  if (!hash || wt.metadata.labels?.[RETRAIN_ON_CHANGE_LABEL] !== 'true' || !/^sha256:[0-9a-f]{64}$/.test(hash)) return undefined;
  const commit = wt.metadata.annotations?.[GIT_COMMIT_ANNOTATION];
  const model = wt.metadata.annotations?.[MODEL_ANNOTATION];
  return {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'TrainingRun',
    metadata: {
      name: gitChangeRunName(wt.metadata.name, hash),
      namespace: wt.metadata.namespace,
      labels: { [REASON_LABEL]: 'git-change', [PIPELINE_LABEL]: wt.metadata.name },
    },
    spec: {
      pipeline: wt.metadata.name,
      reason: 'git-change',
      specHash: hash,
      ...(model ? { model } : {}),
      ...(commit && /^[0-9a-f]{7,64}$/.test(commit) ? { gitCommit: commit } : {}),
    },
  };
}

export async function reconcileGitChange(d: ReconcileContext, req: Request): Promise<ReconcileResult> {
  const wt = await d.store.get(TYPES.WorkflowTemplate, req.namespace, req.name);
  if (!wt) return {};
  const run = planGitChange(wt);
  if (!run) return {};
  try {
    await d.store.create(TYPES.TrainingRun, run);
    d.log.info(
      `TrainingRun ${run.metadata.namespace}/${run.metadata.name} has been created (git-change, ${wt.metadata.annotations?.[SPEC_HASH_ANNOTATION]?.slice(0, 19)})`,
      { kind: 'WorkflowTemplate', namespace: req.namespace, name: req.name },
    );
    await d.events.record(
      run.metadata.namespace ? { ...run, metadata: { ...run.metadata } } : run,
      'Normal',
      'GitChange',
      `pipeline ${wt.metadata.name} changed; training started`,
    );
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  return {};
}
