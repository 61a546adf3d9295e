/**
 * The TrainingRun reconciler: submits the pipeline (an Argo Workflow from its WorkflowTemplate, or a
 * local engine run), follows it, and on success registers the model version with lineage.
 */
import type { ModelRegistry } from '../../components/registry/types.ts';
import type { TrainingRunSpec, TrainingRunStatus } from '../../api/crds/index.ts';
import { planTrainingRun, type GpuDecision, type TrainingRunState } from '../planners/training-run.ts';
import { getCondition, setConditions, type ConditionInput } from '../planners/conditions.ts';
import { TYPES } from '../runtime/store.ts';
import type { PipelineBackend } from '../backends/types.ts';
import { ADMITTED_CONDITION, admittedNode } from './gpu.ts';
import { coords, writeStatus, type ReconcileContext } from './common.ts';
import { clean } from '../../api/json.ts';
import { type K8sObject, REASON_LABEL, TRAINING_RUN_LABEL } from '../../api/objects.ts';
import { TerminalError, type ReconcileResult, type Request } from '../runtime/reconcile.ts';
import { asFailureReason } from '../../api/failure.ts';

/** lineage.task of a version a TrainingRun registers: with the run id, its exactly-once key in the registry. */
export const TRAINING_RUN_TASK = 'training-run';

export type TrainingRunObject = K8sObject & { spec: TrainingRunSpec; status?: TrainingRunStatus };

export interface TrainingRunDeps extends ReconcileContext {
  readonly pipelines: PipelineBackend;
  readonly registry?: ModelRegistry;
  readonly gpu?: (run: TrainingRunObject) => Promise<GpuDecision> | GpuDecision;
  readonly cached?: (namespace: string, name: string) => K8sObject | undefined;
  /** Called after a version is registered (the Model reconciler then picks it up at once). */
  readonly onRegistered?: (model: string, version: number) => void;
}

function stateOf(st: TrainingRunStatus | undefined): TrainingRunState {
  if (!st?.phase) return { phase: 'Pending' };
  // Older status kept the queue only in the Progressing condition's reason.
  const queued = st.gpu ? st.gpu.queuePosition !== undefined : getCondition(st.conditions, 'Progressing')?.reason === 'Queued';
  return clean({
    phase: st.phase === 'Pending' && queued ? 'Queued' : st.phase,
    queuePosition: st.gpu?.queuePosition,
    node: admittedNode(st),
    workflowName: st.workflowName,
    startedAt: st.startedAt,
    finishedAt: st.finishedAt,
    registeredVersion: st.registeredVersion,
    message: st.message,
    gate: st.gate,
    failure: st.failureReason ? { terminal: st.terminal === true, reason: asFailureReason(st.failureReason) } : undefined,
  });
}

export function trainingRunStatus(prev: TrainingRunStatus | undefined, s: TrainingRunState, gpu: GpuDecision, gen: number, now: number): TrainingRunStatus {
  const phase: TrainingRunStatus['phase'] = s.phase === 'Queued' ? 'Pending' : s.phase === 'Registering' ? 'Running' : s.phase;
  const done = s.phase === 'Succeeded' || s.phase === 'Failed';
  const rejected = s.gate?.passed === false;
  const conds: ConditionInput[] = [
    {
      type: 'Ready',
      status: s.phase === 'Succeeded' && !rejected ? 'True' : 'False',
      reason: rejected ? 'GateRejected' : s.phase === 'Succeeded' ? 'Registered' : s.phase === 'Failed' ? 'Failed' : s.phase,
      message: s.message ?? '',
    },
    { type: 'Progressing', status: done ? 'False' : 'True', reason: s.phase === 'Queued' ? 'Queued' : done ? 'Finished' : s.phase, message: s.message ?? '' },
    {
      type: 'Degraded',
      status: s.phase === 'Failed' ? 'True' : 'False',
      // A known failure reason (InvalidParam, Network, …; api/failure.ts) reports itself.
      reason: s.phase === 'Failed' ? (s.failure && s.failure.reason !== 'Unknown' ? s.failure.reason : 'TrainingFailed') : 'AsExpected',
      message: s.phase === 'Failed' ? (s.message ?? '') : '',
    },
  ];
  if (gpu.kind === 'placed') conds.push({ type: ADMITTED_CONDITION, status: 'True', reason: 'Placed', message: gpu.node });
  else if (done && getCondition(prev?.conditions, ADMITTED_CONDITION))
    conds.push({ type: ADMITTED_CONDITION, status: 'False', reason: 'Released', message: '' });
  // The state itself: where the GPUs are reserved, or the place in the queue; nothing once done.
  const node = gpu.kind === 'placed' ? gpu.node : done ? undefined : admittedNode(prev);
  const gpuStatus: TrainingRunStatus['gpu'] = done
    ? undefined
    : s.phase === 'Queued'
      ? clean({ queuePosition: s.queuePosition, queueReason: s.message })
      : node !== undefined
        ? { admittedNode: node }
        : undefined;
  return clean({
    phase,
    observedGeneration: gen,
    workflowName: s.workflowName,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    registeredVersion: s.registeredVersion,
    gate: s.gate,
    ...(s.phase === 'Failed' && s.failure ? { failureReason: s.failure.reason, terminal: s.failure.terminal } : {}),
    gpu: gpuStatus,
    message: s.message,
    conditions: setConditions(prev?.conditions, conds, now, gen),
  }) as TrainingRunStatus;
}

export async function reconcileTrainingRun(d: TrainingRunDeps, req: Request): Promise<ReconcileResult> {
  const t = TYPES.TrainingRun;
  let obj = (d.cached?.(req.namespace!, req.name) ?? (await d.store.get(t, req.namespace, req.name))) as TrainingRunObject | undefined;
  if (!obj || obj.metadata.deletionTimestamp) return {};
  const log = d.log.with(coords(obj));
  const now = d.now();
  const s = obj.spec;
  const state = stateOf(obj.status);
  if (state.phase === 'Succeeded' || state.phase === 'Failed') return {};
  const model = s.model ?? s.pipeline;
  const ns = obj.metadata.namespace!;

  // Gather.
  const [templateFound, workflow] = await Promise.all([
    state.workflowName ? Promise.resolve(true) : d.pipelines.templateExists(ns, s.pipeline),
    state.workflowName ? d.pipelines.observe(ns, state.workflowName) : Promise.resolve(undefined),
  ]);
  let gpu: GpuDecision = { kind: 'none' };
  if (d.gpu && (!state.workflowName || admittedNode(obj.status) !== undefined)) gpu = await d.gpu(obj);
  let registeredVersion: number | undefined;
  if (workflow?.phase === 'Succeeded' && d.registry && state.workflowName) {
    const versions = await d.registry.listVersions(model).catch(() => []);
    registeredVersion = versions.find((v) => v.lineage.runId === state.workflowName)?.version;
  }

  const plan = planTrainingRun(
    {
      namespace: ns,
      name: obj.metadata.name,
      model,
      pipeline: s.pipeline,
      reason: s.reason,
      ...(s.gitCommit ? { gitCommit: s.gitCommit } : {}),
      parameters: s.params ?? {},
      state,
      templateFound,
      ...(workflow ? { workflow } : {}),
      gpu,
      ...(registeredVersion !== undefined ? { registeredVersion } : {}),
    },
    now,
  );

  const status = trainingRunStatus(obj.status, plan.status, gpu, obj.metadata.generation ?? 1, now);
  obj = (await writeStatus(d.store, t, obj, status)).obj as TrainingRunObject;

  for (const a of plan.actions) {
    if (a.type === 'event') await d.events.record(obj, a.eventType, a.reason, a.message);
    else if (a.type === 'submit') {
      const r = await d.pipelines.submit(a.workflow, obj);
      if (r === 'created') log.info(`Workflow ${ns}/${a.workflow.name} has been created from WorkflowTemplate ${s.pipeline}`);
    } else if (a.type === 'register') {
      if (!d.registry)
        throw new TerminalError(
          `TrainingRun ${ns}/${obj.metadata.name}: no model registry configured; cannot register ${a.model}; start the operator with a registry (--registry-dir or --mlflow-uri)`,
        );
      const mv = await d.registry.registerVersion(a.model, {
        artifactPath: a.source,
        lineage: {
          runId: a.lineage.runId,
          // With runId the registry's exactly-once key: a retry after a crash between the
          // registration and the status write (or after a failed listVersions) gets the same version back.
          task: TRAINING_RUN_TASK,
          pipeline: a.lineage.pipeline,
          reason: a.lineage.reason,
          ...(a.lineage.gitCommit ? { gitCommit: a.lineage.gitCommit } : {}),
          ...(a.lineage.datasetDigest ? { datasetDigest: a.lineage.datasetDigest } : {}),
        },
        tags: { [TRAINING_RUN_LABEL]: `${ns}/${obj.metadata.name}`, [REASON_LABEL]: a.lineage.reason },
      });
      log.info(
        mv.reused === 'run'
          ? `model ${a.model} version ${mv.version} was already registered from ${a.lineage.runId}`
          : `model ${a.model} version ${mv.version} has been registered from ${a.lineage.runId}`,
      );
      d.onRegistered?.(a.model, mv.version);
    }
  }
  return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
}
