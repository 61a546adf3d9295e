/**
 * TrainingRun planning: submit one pipeline run (an Argo Workflow from the pipeline's
 * WorkflowTemplate, or a local engine run), follow its phase, and on success register the model
 * version with lineage. The submission's name is the TrainingRun's name, and the registration is
 * found again by its lineage run id, so neither is ever done twice.
 */
import type { NodeAffinity, Toleration } from './placement.ts';
import { dnsName } from './names.ts';
import { MODEL_LABEL, REASON_LABEL, TRAINING_RUN_LABEL } from '../../api/objects.ts';
import { classifyExit, type FailureClass } from '../../api/failure.ts';

// Defined once with the TrainingRun CRD (api/crds/types.ts): the run's reason is the version's lineage reason.
export { TRAINING_REASONS, type TrainingReason } from '../../api/crds/types.ts';
import type { TrainingReason } from '../../api/crds/types.ts';

export type TrainingPhase = 'Pending' | 'Queued' | 'Running' | 'Registering' | 'Succeeded' | 'Failed';

export interface TrainingRunState {
  readonly phase: TrainingPhase;
  /** The submitted Workflow (or local run); equal to the TrainingRun's name. */
  readonly workflowName?: string;
  readonly workflowPhase?: string;
  readonly node?: string;
  readonly queuePosition?: number;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly registeredVersion?: number;
  readonly message?: string;
  /** Set when the run's quality gate rejected the model: the run succeeded and registered nothing. */
  readonly gate?: { readonly passed: boolean; readonly reasons: readonly string[] };
  /** A Failed run: why, and whether retrying cannot change it (api/failure.ts). */
  readonly failure?: FailureClass;
}

/** The run as the pipeline backend reports it. */
export interface WorkflowObserved {
  /** Argo phases: Pending, Running, Succeeded, Failed, Error. */
  readonly phase?: string;
  readonly message?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Where the trained ONNX model landed (an output artifact's URI or a local path). */
  readonly modelSource?: string;
  readonly datasetDigest?: string;
  /**
   * The pipeline's quality gate, when it has one (a node with the output param `passed`): a run whose
   * gate rejected the model succeeds without a model to register, and nothing is registered.
   */
  readonly gate?: { readonly passed: boolean; readonly reasons: readonly string[] };
  /** A failed run: why, and whether a retry could change it (the engine's record, or the failed pods' exit codes). */
  readonly failure?: FailureClass;
}

export type GpuDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'placed'; readonly node: string; readonly affinity: NodeAffinity; readonly tolerations: Toleration[] }
  | { readonly kind: 'queued'; readonly position: number; readonly reason: string }
  | { readonly kind: 'kueue'; readonly labels: Record<string, string> };

export interface TrainingRunObserved {
  readonly namespace: string;
  readonly name: string;
  readonly model: string;
  readonly pipeline: string;
  readonly reason: TrainingReason;
  readonly gitCommit?: string;
  readonly parameters: Readonly<Record<string, string>>;
  readonly state: TrainingRunState;
  readonly templateFound: boolean;
  /** undefined: no workflow exists (yet). */
  readonly workflow?: WorkflowObserved;
  readonly gpu: GpuDecision;
  /** A registry version whose lineage.runId is this run's workflow; found by the reconciler. */
  readonly registeredVersion?: number;
}

export interface WorkflowSubmission {
  readonly name: string;
  readonly namespace: string;
  readonly template: string;
  readonly parameters: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly affinity?: NodeAffinity;
  readonly tolerations?: Toleration[];
}

export type TrainingAction =
  | { readonly type: 'submit'; readonly workflow: WorkflowSubmission }
  | {
      readonly type: 'register';
      readonly model: string;
      readonly source: string;
      readonly lineage: { runId: string; pipeline: string; gitCommit?: string; reason: TrainingReason; datasetDigest?: string };
    }
  | { readonly type: 'event'; readonly eventType: 'Normal' | 'Warning'; readonly reason: string; readonly message: string };

export interface TrainingPlan {
  readonly actions: TrainingAction[];
  readonly status: TrainingRunState;
  readonly requeueAfterMs?: number;
}

export const TEMPLATE_POLL_MS = 30_000;
export const QUEUE_POLL_MS = 30_000;

export function gitChangeRunName(template: string, specHash: string): string {
  return dnsName([template, 'git', specHash.replace(/^sha256:/, '').slice(0, 12)]);
}

export function planTrainingRun(o: TrainingRunObserved, now: number): TrainingPlan {
  const actions: TrainingAction[] = [];
  const s = o.state;
  const ev = (eventType: 'Normal' | 'Warning', reason: string, message: string) => actions.push({ type: 'event', eventType, reason, message });
  const at = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
  if (s.phase === 'Succeeded' || s.phase === 'Failed') return { actions, status: s };

  if (s.workflowName === undefined) {
    // Not submitted yet.
    if (!o.templateFound) {
      return {
        actions,
        status: { phase: 'Pending', message: `WorkflowTemplate ${o.namespace}/${o.pipeline} not found; waiting for it to be synced` },
        requeueAfterMs: TEMPLATE_POLL_MS,
      };
    }
    if (o.gpu.kind === 'queued') {
      if (s.phase !== 'Queued') ev('Normal', 'Queued', o.gpu.reason);
      return { actions, status: { phase: 'Queued', queuePosition: o.gpu.position, message: o.gpu.reason }, requeueAfterMs: QUEUE_POLL_MS };
    }
    const labels: Record<string, string> = {
      [TRAINING_RUN_LABEL]: o.name,
      [MODEL_LABEL]: o.model,
      [REASON_LABEL]: o.reason,
      ...(o.gpu.kind === 'kueue' ? o.gpu.labels : {}),
    };
    const workflow: WorkflowSubmission = {
      name: o.name,
      namespace: o.namespace,
      template: o.pipeline,
      parameters: { ...o.parameters },
      labels,
      ...(o.gpu.kind === 'placed' ? { affinity: o.gpu.affinity, tolerations: o.gpu.tolerations } : {}),
    };
    actions.push({ type: 'submit', workflow });
    ev('Normal', 'Submitted', `Workflow ${o.name} submitted from WorkflowTemplate ${o.pipeline} (reason ${o.reason})`);
    return {
      actions,
      status: {
        phase: 'Running',
        workflowName: o.name,
        startedAt: at,
        ...(o.gpu.kind === 'placed' ? { node: o.gpu.node } : {}),
        message: `Workflow ${o.name} submitted`,
      },
      requeueAfterMs: 5_000,
    };
  }

  // Submitted: follow it.
  const wf = o.workflow;
  if (!wf) {
    // Status says submitted but the Workflow is gone (crash before create, or deleted): submit again.
    actions.push({
      type: 'submit',
      workflow: {
        name: s.workflowName,
        namespace: o.namespace,
        template: o.pipeline,
        parameters: { ...o.parameters },
        labels: { [TRAINING_RUN_LABEL]: o.name, [MODEL_LABEL]: o.model, [REASON_LABEL]: o.reason },
      },
    });
    return { actions, status: s, requeueAfterMs: 5_000 };
  }
  const phase = wf.phase ?? 'Pending';
  if (phase === 'Failed' || phase === 'Error') {
    const f = wf.failure;
    const message = `Workflow ${s.workflowName} ${phase.toLowerCase()}: ${wf.message ?? 'no message'}${f?.terminal ? ` (${f.reason}: retrying cannot change this; fix the spec or the data and push again)` : ''}`;
    ev('Warning', f?.terminal ? f.reason : 'TrainingFailed', message);
    return { actions, status: { ...s, phase: 'Failed', workflowPhase: phase, finishedAt: wf.finishedAt ?? at, message, ...(f ? { failure: f } : {}) } };
  }
  if (phase !== 'Succeeded') {
    return { actions, status: { ...s, phase: 'Running', workflowPhase: phase, message: `Workflow ${s.workflowName} is ${phase}` }, requeueAfterMs: 10_000 };
  }
  if (o.registeredVersion !== undefined) {
    if (s.registeredVersion !== o.registeredVersion)
      ev('Normal', 'Registered', `version ${o.registeredVersion} of ${o.model} registered from ${s.workflowName}`);
    return {
      actions,
      status: {
        ...s,
        phase: 'Succeeded',
        workflowPhase: phase,
        finishedAt: wf.finishedAt ?? s.finishedAt ?? at,
        registeredVersion: o.registeredVersion,
        message: `registered ${o.model} version ${o.registeredVersion}`,
      },
    };
  }
  if (wf.gate && !wf.gate.passed) {
    // The gate said no: nothing is registered, whatever artifacts the run left behind.
    const message = `gate rejected the model: ${wf.gate.reasons.join('; ') || 'no reason given'}; nothing was registered`;
    if (s.gate?.passed !== false) ev('Warning', 'GateRejected', message);
    return {
      actions,
      status: {
        ...s,
        phase: 'Succeeded',
        workflowPhase: phase,
        finishedAt: wf.finishedAt ?? at,
        gate: { passed: false, reasons: [...wf.gate.reasons] },
        message,
      },
    };
  }
  if (!wf.modelSource) {
    const message = `Workflow ${s.workflowName} succeeded but produced no model artifact; give the pipeline an ONNX output artifact named 'onnx' (export-onnx) or a register step`;
    ev('Warning', 'NoModelArtifact', message);
    return { actions, status: { ...s, phase: 'Failed', workflowPhase: phase, finishedAt: wf.finishedAt ?? at, message } };
  }
  actions.push({
    type: 'register',
    model: o.model,
    source: wf.modelSource,
    lineage: {
      runId: s.workflowName,
      pipeline: o.pipeline,
      reason: o.reason,
      ...(o.gitCommit ? { gitCommit: o.gitCommit } : {}),
      ...(wf.datasetDigest ? { datasetDigest: wf.datasetDigest } : {}),
    },
  });
  return {
    actions,
    status: { ...s, phase: 'Registering', workflowPhase: phase, message: `registering ${o.model} from ${s.workflowName}` },
    requeueAfterMs: 1_000,
  };
}

/**
 * Why an Argo Workflow failed, from its failed pod nodes' exit codes (api/failure.ts `classifyExit`):
 * terminal only when every failed pod exited with a terminal code; undefined when no pod failed.
 */
export function failureFromWorkflow(status: Record<string, unknown> | undefined): FailureClass | undefined {
  const nodes = (status?.nodes ?? {}) as Record<string, { type?: string; phase?: string; outputs?: { exitCode?: string } }>;
  const failed = Object.keys(nodes)
    .sort()
    .map((k) => nodes[k])
    .filter((n) => n.type === 'Pod' && (n.phase === 'Failed' || n.phase === 'Error'));
  if (failed.length === 0) return undefined;
  const classes = failed.map((n) => classifyExit(n.outputs?.exitCode !== undefined && n.outputs.exitCode !== '' ? Number(n.outputs.exitCode) : null));
  const transient = classes.find((c) => !c.terminal);
  return transient ?? classes[0];
}

/**
 * The quality gate of an Argo Workflow: a node's output parameter `passed` (the gate component's),
 * with its `reasons`. undefined when no node has one.
 */
export function gateFromWorkflow(status: Record<string, unknown> | undefined): { passed: boolean; reasons: string[] } | undefined {
  const nodes = (status?.nodes ?? {}) as Record<string, { outputs?: { parameters?: Array<{ name: string; value?: string }> } }>;
  let out: { passed: boolean; reasons: string[] } | undefined;
  for (const k of Object.keys(nodes).sort()) {
    const params = nodes[k].outputs?.parameters ?? [];
    const passed = params.find((p) => p.name === 'passed')?.value;
    if (passed === undefined) continue;
    let reasons: string[] = [];
    try {
      const r = JSON.parse(params.find((p) => p.name === 'reasons')?.value ?? '[]') as unknown;
      if (Array.isArray(r)) reasons = r.map(String);
    } catch {
      // not JSON: no reasons
    }
    if (passed.trim() === 'false') return { passed: false, reasons };
    out = { passed: true, reasons };
  }
  return out;
}

/**
 * Finds the trained ONNX model in an Argo Workflow's status: an output parameter 'model-uri', else an
 * output artifact named 'onnx' (export-onnx's), else one named 'model'.
 */
export function modelSourceFromWorkflow(status: Record<string, unknown> | undefined): string | undefined {
  const nodes = (status?.nodes ?? {}) as Record<
    string,
    { outputs?: { artifacts?: Array<Record<string, unknown>>; parameters?: Array<{ name: string; value?: string }> } }
  >;
  const outputs = [
    status?.outputs as (typeof nodes)[string]['outputs'],
    ...Object.keys(nodes)
      .sort()
      .map((k) => nodes[k].outputs),
  ];
  for (const out of outputs) for (const p of out?.parameters ?? []) if ((p.name === 'model-uri' || p.name === 'model') && p.value) return p.value;
  for (const name of ['onnx', 'model'])
    for (const out of outputs) {
      for (const a of out?.artifacts ?? []) {
        if (a.name !== name) continue;
        for (const [scheme, loc] of Object.entries(a)) {
          const l = loc as { bucket?: string; key?: string; path?: string } | undefined;
          if (scheme === 's3' && l?.key) return `s3://${l.bucket ? `${l.bucket}/` : ''}${l.key}`;
          if (scheme === 'gcs' && l?.key) return `gs://${l.bucket ? `${l.bucket}/` : ''}${l.key}`;
          if (scheme === 'http' && (l as { url?: string })?.url) return (l as { url: string }).url;
        }
      }
    }
  return undefined;
}
