/**
 * The actions a person takes on running models, in one place for the CLI (`ghosteam rollout`,
 * `ghosteam retrain`) and the web UI: pause, resume, promote or abort a Model's rollout, and start
 * a TrainingRun by hand. Each goes where the operator reads it — the local operator's inbox
 * (embedded default; the one process that owns the state applies it) or the cluster's API server —
 * so the same reconcilers act on it. A rollout action is the `ghosteam.io/rollout` annotation
 * (what `kubectl annotate model fraud ghosteam.io/rollout=promote` does); the Model's spec is left alone.
 *
 * Checks that need no I/O are pure (`checkRolloutAction`, `manualTrainingRun`) and table-tested;
 * errors name the object and the fix.
 */
import { randomBytes } from 'node:crypto';
import { SPEC_HASH_ANNOTATION, type K8sObject } from '../api/objects.ts';
import { ROLLOUT_ANNOTATION } from './reconcilers/model.ts';
import type { ManualAction } from './planners/canary.ts';
import { readStateObjects, writeInboxEntry } from './runtime/inbox.ts';
import { isConflict, TYPES, type ObjectStore, type ResourceType } from './runtime/store.ts';

export const ROLLOUT_ACTIONS: readonly ManualAction[] = ['pause', 'resume', 'promote', 'abort'];

/** Where an action goes: the local operator's state directory, or a cluster. */
export type ActionTarget = { readonly stateDir: string } | { readonly store: ObjectStore };

export class ActionError extends Error {
  /** 400: the request is wrong; 404: no such object; 409: not now (e.g. nothing to promote). */
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/** Why `action` cannot be taken on this Model now, or undefined when it can (pure). */
export function checkRolloutAction(model: K8sObject, action: string): ActionError | undefined {
  const id = `Model ${model.metadata.namespace ?? 'default'}/${model.metadata.name}`;
  if (!(ROLLOUT_ACTIONS as readonly string[]).includes(action))
    return new ActionError(400, `'${action}' is not a rollout action; use one of ${ROLLOUT_ACTIONS.join(', ')}`);
  const st = (model.status ?? {}) as { canaryVersion?: number; stableVersion?: number };
  const current = model.metadata.annotations?.[ROLLOUT_ANNOTATION];
  if ((action === 'promote' || action === 'abort') && st.canaryVersion === undefined)
    return new ActionError(
      409,
      `${id} has no rollout in progress${st.stableVersion !== undefined ? ` (it serves version ${st.stableVersion})` : ''}: ${action} acts on a canary; register a new version or retrain to start one`,
    );
  if (action === 'pause' && current === 'pause') return new ActionError(409, `${id} is paused already; resume it with the resume action`);
  if (action === 'resume' && current !== 'pause') return new ActionError(409, `${id} is not paused; nothing to resume`);
  return undefined;
}

function modelNotFound(namespace: string, name: string, models: readonly K8sObject[]): ActionError {
  const known = models.map((m) => `${m.metadata.namespace ?? 'default'}/${m.metadata.name}`);
  return new ActionError(404, `no Model ${namespace}/${name}; ${known.length ? `the Models are ${known.join(', ')}` : 'there are no Models yet'}`);
}

/**
 * Sets (or, with null, removes) annotations on an object through the API: read, change, replace
 * with the read resourceVersion, again on a 409 conflict (someone wrote in between).
 */
export async function annotate(
  store: ObjectStore,
  t: ResourceType,
  namespace: string,
  name: string,
  set: Readonly<Record<string, string | null>>,
): Promise<K8sObject> {
  for (let attempt = 0; ; attempt++) {
    const cur = await store.get(t, namespace, name);
    if (!cur) throw new ActionError(404, `no ${t.kind} ${namespace}/${name}`);
    const annotations = { ...cur.metadata.annotations };
    for (const [k, v] of Object.entries(set)) {
      if (v === null) delete annotations[k];
      else annotations[k] = v;
    }
    try {
      return await store.replace(t, { ...cur, metadata: { ...cur.metadata, annotations } });
    } catch (e) {
      if (!isConflict(e) || attempt >= 4) throw e;
    }
  }
}

export interface ActionOutcome {
  /** One line for a person: what was asked of whom. */
  readonly message: string;
  /** The local operator's inbox entry id (it applies the entry within a second while it runs). */
  readonly inboxEntry?: string;
}

/** Asks the operator to pause/resume/promote/abort a Model's rollout. */
export async function rolloutAction(target: ActionTarget, namespace: string, name: string, action: string, source: string): Promise<ActionOutcome> {
  if ('stateDir' in target) {
    const models = readStateObjects(target.stateDir, 'Model');
    const model = models.find((m) => m.metadata.name === name && (m.metadata.namespace ?? 'default') === namespace);
    if (!model) throw modelNotFound(namespace, name, models);
    const bad = checkRolloutAction(model, action);
    if (bad) throw bad;
    const id = await writeInboxEntry(target.stateDir, {
      source,
      objects: [],
      annotate: [{ kind: 'Model', namespace, name, annotations: { [ROLLOUT_ANNOTATION]: action } }],
    });
    return { message: `${action} of Model ${namespace}/${name} handed to the local operator (inbox entry ${id})`, inboxEntry: id };
  }
  const model = await target.store.get(TYPES.Model, namespace, name);
  if (!model) throw modelNotFound(namespace, name, (await target.store.list(TYPES.Model, namespace)).items);
  const bad = checkRolloutAction(model, action);
  if (bad) throw bad;
  await annotate(target.store, TYPES.Model, namespace, name, { [ROLLOUT_ANNOTATION]: action });
  return { message: `Model ${namespace}/${name} annotated ${ROLLOUT_ANNOTATION}=${action}` };
}

/**
 * The manual TrainingRun (pure but for the default nonce): named by pipeline, time to the
 * millisecond and a random suffix, so two retrains in the same second (two users, a script) never
 * collide. At most 62 characters: its Workflow takes the name, and Argo puts it in a label value (≤ 63).
 */
export function manualTrainingRun(
  pipeline: string,
  namespace: string,
  now: Date,
  params: Record<string, string>,
  specHash: string,
  model?: string,
  nonce: string = randomBytes(4).readUInt32BE(0).toString(36).padStart(4, '0').slice(-4),
): K8sObject {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(pipeline))
    throw new ActionError(
      400,
      `'${pipeline}' is not a pipeline name (lowercase letters, digits and '-'); \`ghosteam status\` lists the TrainingRuns and their pipelines`,
    );
  const stamp = now.toISOString().replace(/[-:TZ.]/g, '');
  return {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'TrainingRun',
    metadata: {
      name: `${pipeline.slice(0, 32)}-manual-${stamp}-${nonce}`,
      namespace,
      labels: { 'ghosteam.io/pipeline': pipeline, 'ghosteam.io/reason': 'manual' },
    },
    spec: { pipeline, reason: 'manual', specHash, ...(Object.keys(params).length ? { params } : {}), ...(model ? { model } : {}) },
  };
}

export interface RetrainRequest {
  readonly pipeline: string;
  /** Default: where the pipeline's earlier TrainingRuns are (local), else `default`. */
  readonly namespace?: string;
  /** Default: the registered model of the pipeline's earlier TrainingRuns. */
  readonly model?: string;
  readonly params?: Readonly<Record<string, string>>;
}

/** Starts one TrainingRun of a pipeline now, with reason `manual`. */
export async function retrain(target: ActionTarget, r: RetrainRequest, source: string, now: Date = new Date()): Promise<ActionOutcome & { run: K8sObject }> {
  const params = { ...r.params };
  if ('stateDir' in target) {
    const earlier = readStateObjects(target.stateDir, 'TrainingRun').filter((x) => (x.spec as { pipeline?: string }).pipeline === r.pipeline);
    const namespace = r.namespace ?? earlier[0]?.metadata.namespace ?? 'default';
    const model = r.model ?? (earlier.find((x) => (x.spec as { model?: string }).model)?.spec as { model?: string } | undefined)?.model;
    // The pipeline as the operator last got it: the spec hash of its newest TrainingRun.
    const newest = [...earlier].sort((a, b) => String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')))[0];
    const hash = (newest?.spec as { specHash?: string } | undefined)?.specHash;
    if (!hash)
      throw new ActionError(
        404,
        `the local operator in ${target.stateDir} has never run pipeline ${r.pipeline}; let \`ghosteam watch\` apply the app first (\`ghosteam status\` lists the TrainingRuns)`,
      );
    const run = manualTrainingRun(r.pipeline, namespace, now, params, hash, model);
    const id = await writeInboxEntry(target.stateDir, { source, objects: [run] });
    return { run, inboxEntry: id, message: `TrainingRun ${namespace}/${run.metadata.name} (manual) handed to the local operator (inbox entry ${id})` };
  }
  const ns = r.namespace ?? 'default';
  const wt = await target.store.get(TYPES.WorkflowTemplate, ns, r.pipeline);
  const hash = wt?.metadata.annotations?.[SPEC_HASH_ANNOTATION];
  if (!hash)
    throw new ActionError(
      404,
      `WorkflowTemplate ${ns}/${r.pipeline} ${wt ? 'has no ghosteam.io/spec-hash annotation' : 'does not exist'}; sync the app first (Argo CD or \`ghosteam watch --apply\`), or give the pipeline's namespace`,
    );
  const run = manualTrainingRun(r.pipeline, ns, now, params, hash, r.model);
  await target.store.create(TYPES.TrainingRun, run);
  return { run, message: `TrainingRun ${ns}/${run.metadata.name} created (manual)` };
}
