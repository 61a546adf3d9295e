/**
 * The UI's cluster source (the operator serves the UI with it: `ghosteam install --ui`, or
 * `ghosteam ui --kubeconfig`): Models, TrainingRuns, DriftMonitors and Argo Workflows from the API
 * server through informers — one list, then one watch per kind, so a status patch reaches the
 * pages as a watch event, never by polling — and registered versions from the registry (MLflow or
 * local). Argo Workflows are shown as pipeline runs in the local engine's record shape
 * (`workflowRun`, pure), so the runs, DAG and experiments pages are the same pages.
 */
import type { K8sObject } from '../api/objects.ts';
import { PIPELINE_LABEL } from '../api/objects.ts';
import type { ModelRegistry } from '../components/registry/types.ts';
import { Informer } from '../controllers/runtime/informer.ts';
import { createLogger, type Logger } from '../controllers/runtime/log.ts';
import { TYPES, type ObjectStore, type ResourceType } from '../controllers/runtime/store.ts';
import type { NodeRecord, NodeState, RunRecord, RunStatus } from '../pipelines/local/types.ts';
import type { ParamValue } from '../components/component.ts';
import { argoPodName } from '../pipelines/argo-pods.ts';
import { ApiError } from '../controllers/runtime/store.ts';
import { LogUnavailableError, registryVersions, RunNotFoundError, type UiSource } from './source.ts';

export interface ClusterSourceOptions {
  /** The API server (a KubeStore: in-cluster or a kubeconfig). */
  readonly store: ObjectStore;
  readonly registry?: ModelRegistry;
  /** Only this namespace (the operator's --namespace); absent: every namespace. */
  readonly namespace?: string;
  readonly log?: Logger;
  /**
   * Informers already running over the same store and namespace (the operator's controllers'):
   * their caches are read and their events followed instead of opening a second watch per kind.
   */
  readonly shared?: (t: ResourceType) => Informer | undefined;
}

/** What an Argo Workflow's status holds of one node (the fields read here). */
interface ArgoNode {
  id: string;
  boundaryID?: string;
  templateRef?: { template?: string };
  name?: string;
  displayName?: string;
  type?: string;
  phase?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  children?: string[];
  templateName?: string;
  memoizationStatus?: { hit?: boolean };
  outputs?: { parameters?: { name: string; value?: string }[]; artifacts?: ArgoArtifact[] };
}

/** An output artifact as a node's status records it: where it was stored (one of these), never its size. */
interface ArgoArtifact {
  name: string;
  s3?: { bucket?: string; key?: string };
  gcs?: { bucket?: string; key?: string };
  oss?: { bucket?: string; key?: string };
  azure?: { container?: string; blob?: string };
  http?: { url?: string };
  artifactory?: { url?: string };
  hdfs?: { path?: string };
  git?: { repo?: string };
}

/**
 * Where an Argo output artifact lives (pure): `s3://bucket/key`, or the key alone when the
 * Workflow used its artifact repository's default bucket (Argo records only the key then).
 */
export function artifactLocation(a: ArgoArtifact): { store: string; location: string } | undefined {
  const obj = (store: string, bucket?: string, key?: string) => (key ? { store, location: bucket ? `${store}://${bucket}/${key}` : key } : undefined);
  if (a.s3) return obj('s3', a.s3.bucket, a.s3.key);
  if (a.gcs) return obj('gs', a.gcs.bucket, a.gcs.key);
  if (a.oss) return obj('oss', a.oss.bucket, a.oss.key);
  if (a.azure?.blob) return { store: 'azure', location: a.azure.container ? `${a.azure.container}/${a.azure.blob}` : a.azure.blob };
  if (a.http?.url) return { store: 'http', location: a.http.url };
  if (a.artifactory?.url) return { store: 'artifactory', location: a.artifactory.url };
  if (a.hdfs?.path) return { store: 'hdfs', location: a.hdfs.path };
  if (a.git?.repo) return { store: 'git', location: a.git.repo };
  return undefined;
}

const STEP_TYPES = new Set(['Pod', 'Skipped', 'Suspend']);
const NODE_STATES = new Set<NodeState>(['Pending', 'Running', 'Succeeded', 'Skipped', 'Failed', 'Error', 'Omitted']);

function spanMs(start?: string, end?: string): number | undefined {
  if (!start || !end) return undefined;
  const d = Date.parse(end) - Date.parse(start);
  return Number.isFinite(d) && d >= 0 ? d : undefined;
}

/** An output parameter as the pages show it: a number when it reads as one (a metric), else the text. */
function paramValue(v: string | undefined): ParamValue {
  if (v === undefined) return '';
  const t = v.trim();
  return t !== '' && /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) ? Number(t) : v;
}

/**
 * An Argo Workflow as a run record (pure): its step nodes (pods, skipped, suspended; a retried
 * step's Retry node, its pods the attempts) are the tasks, keyed by display name (a fan-out
 * instance is `task(0:item)`); a node's `children`, followed through group nodes, are the DAG's
 * edges; a memoization hit is a cache hit; output parameters are the task's outputs (numbers as
 * numbers, so metrics compare on the experiments page), output artifacts are listed where they
 * were stored. A step that ran a pod has that pod's name as its `log` (its last attempt's for a
 * retried step): the log lives in the pod, read through the API server (`readLog`).
 */
export function workflowRun(wf: K8sObject, o: { qualified?: boolean } = {}): RunRecord {
  const spec = (wf.spec ?? {}) as { workflowTemplateRef?: { name?: string }; arguments?: { parameters?: { name: string; value?: string }[] } };
  const st = (wf.status ?? {}) as { phase?: string; message?: string; startedAt?: string; finishedAt?: string; nodes?: Record<string, ArgoNode> };
  const pipeline = wf.metadata.labels?.[PIPELINE_LABEL] ?? spec.workflowTemplateRef?.name ?? '-';
  const all = st.nodes ?? {};
  // A retried step is a Retry node over one pod per attempt (`train(0)`, `train(1)`): the step is
  // the Retry node, its pods are its attempts.
  const attemptsOf = new Map<string, ArgoNode[]>();
  const inRetry = new Set<string>();
  for (const n of Object.values(all))
    if (n.type === 'Retry') {
      const pods = (n.children ?? []).map((c) => all[c]).filter((c): c is ArgoNode => c?.type === 'Pod');
      attemptsOf.set(n.id, pods);
      for (const p of pods) inRetry.add(p.id);
    }
  const steps = Object.values(all).filter((n) => (STEP_TYPES.has(n.type ?? '') && !inRetry.has(n.id)) || n.type === 'Retry');
  const key = (n: ArgoNode) => n.startedAt ?? '\uffff';
  steps.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : (a.displayName ?? a.id).localeCompare(b.displayName ?? b.id)));
  const label = (n: ArgoNode) => n.displayName ?? n.name ?? n.id;
  const ids = new Map(steps.map((n) => [n.id, label(n)]));
  // The step nodes each step node leads to, through non-step nodes (a retry node, a group).
  const next = (n: ArgoNode): string[] => {
    const out = new Set<string>();
    const seen = new Set<string>();
    const walk = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      const c = all[id];
      if (!c) return;
      if (ids.has(id)) out.add(ids.get(id)!);
      else for (const g of c.children ?? []) walk(g);
    };
    for (const c of n.children ?? []) walk(c);
    return [...out];
  };
  const dependsOn = new Map<string, Set<string>>();
  for (const n of steps) for (const child of next(n)) (dependsOn.get(child) ?? dependsOn.set(child, new Set()).get(child)!).add(label(n));
  // A Retry node's outputs are its last attempt's where Argo did not copy them up.
  const outputsOf = (n: ArgoNode) => n.outputs ?? attemptsOf.get(n.id)?.at(-1)?.outputs ?? {};
  // The pod that holds a step's log: its own, or a retried step's last attempt's.
  const podOf = (n: ArgoNode): string | undefined => {
    const pod =
      n.type === 'Retry'
        ? attemptsOf
            .get(n.id)
            ?.filter((a) => a.startedAt)
            .at(-1)
        : n;
    return pod?.type === 'Pod' && pod.startedAt ? argoPodName(wf, pod) : undefined;
  };
  const nodes: Record<string, NodeRecord> = {};
  for (const n of steps) {
    const id = label(n);
    const state: NodeState = n.type === 'Skipped' ? 'Skipped' : NODE_STATES.has(n.phase as NodeState) ? (n.phase as NodeState) : 'Pending';
    const durationMs = spanMs(n.startedAt, n.finishedAt);
    nodes[id] = {
      id,
      task: id.replace(/\(.*\)$/, ''),
      path: `${pipeline}/${id}`,
      state,
      ...(n.message ? { message: n.message } : {}),
      ...(n.startedAt ? { startedAt: n.startedAt } : {}),
      ...(n.finishedAt ? { finishedAt: n.finishedAt } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(n.memoizationStatus?.hit || attemptsOf.get(n.id)?.some((a) => a.memoizationStatus?.hit) ? { cached: true } : {}),
      attempts: (attemptsOf.get(n.id) ?? [n])
        .filter((a) => a.startedAt)
        .map((a, i) => ({
          attempt: i,
          startedAt: a.startedAt!,
          ...(a.finishedAt ? { finishedAt: a.finishedAt } : {}),
          ...(a.phase === 'Succeeded' || a.phase === 'Failed' || a.phase === 'Error' ? { outcome: a.phase } : {}),
          ...(a.message ? { message: a.message } : {}),
        })),
      outputs: {},
      outputParams: Object.fromEntries((outputsOf(n).parameters ?? []).map((p) => [p.name, paramValue(p.value)])),
      ...externalOutputs(outputsOf(n).artifacts ?? []),
      ...(podOf(n) ? { log: podOf(n) } : {}),
      dependsOn: [...(dependsOn.get(id) ?? [])].sort(),
    };
  }
  const phase = st.phase ?? '';
  const status: RunStatus = phase === 'Succeeded' ? 'Succeeded' : phase === 'Failed' || phase === 'Error' ? 'Failed' : 'Running';
  const startedAt = st.startedAt ?? wf.metadata.creationTimestamp ?? '';
  const durationMs = spanMs(st.startedAt, st.finishedAt);
  return {
    version: 1,
    id: o.qualified ? qualifiedRunId(wf) : wf.metadata.name,
    pipeline,
    pipelinePath: pipeline,
    status,
    ...(st.message ? { message: st.message } : {}),
    params: Object.fromEntries((spec.arguments?.parameters ?? []).map((p) => [p.name, p.value ?? ''])),
    gitCommit: wf.metadata.annotations?.['ghosteam.io/source-commit'] ?? null,
    startedAt,
    ...(st.finishedAt ? { finishedAt: st.finishedAt } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    pid: 0,
    host: `argo:${wf.metadata.namespace ?? 'default'}`,
    order: steps.map(label),
    nodes,
  };
}

function externalOutputs(artifacts: readonly ArgoArtifact[]): Pick<NodeRecord, 'externalOutputs'> {
  const out: NonNullable<NodeRecord['externalOutputs']> = {};
  for (const a of artifacts) {
    const at = artifactLocation(a);
    if (at) out[a.name] = at;
  }
  return Object.keys(out).length ? { externalOutputs: out } : {};
}

/**
 * A Workflow's run id in a UI over every namespace: `<namespace>:<name>` (two namespaces may each
 * have a `train-x7k2p`; a namespace name holds no ':'). A UI over one namespace uses the name.
 */
export function qualifiedRunId(wf: K8sObject): string {
  return `${wf.metadata.namespace ?? 'default'}:${wf.metadata.name}`;
}

const newestFirst = (a: RunRecord, b: RunRecord) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? 1 : -1);

/**
 * Starts the informers (each lists, then watches; or follows the operator's own, `shared`) and
 * returns the source once every list is in. Workflows are read only where Argo's CRD is served;
 * without it the runs pages are empty.
 */
export async function clusterSource(o: ClusterSourceOptions): Promise<UiSource> {
  const log = o.log ?? createLogger({ level: 'warn' });
  let notify: () => void = () => {};
  const kinds: ResourceType[] = [TYPES.Model, TYPES.TrainingRun, TYPES.DriftMonitor];
  const argo = await o.store.served(TYPES.Workflow).catch(() => false);
  if (argo) kinds.push(TYPES.Workflow);
  const informers = new Map<string, Informer>();
  const own: Informer[] = [];
  for (const t of kinds) {
    const shared = o.shared?.(t);
    if (shared?.hasSynced) {
      shared.addHandler(() => notify());
      informers.set(t.kind, shared);
    } else {
      const i = new Informer(o.store, t, [() => notify()], log, o.namespace !== undefined ? { namespace: o.namespace } : {});
      informers.set(t.kind, i);
      own.push(i);
    }
  }
  try {
    await Promise.all(own.map((i) => i.start()));
  } catch (e) {
    for (const i of own) i.stop();
    throw new Error(`the UI could not list ${kinds.map((k) => k.plural).join(', ')} from the API server: ${(e as Error).message}`);
  }
  const objects = (t: ResourceType) => informers.get(t.kind)?.list() ?? [];
  const qualified = o.namespace === undefined;
  const runs = (): RunRecord[] =>
    objects(TYPES.Workflow)
      .map((wf) => workflowRun(wf, { qualified }))
      .sort(newestFirst);
  const workflowOf = (id: string) => objects(TYPES.Workflow).find((w) => (qualified ? qualifiedRunId(w) : w.metadata.name) === id);
  return {
    target: { store: o.store },
    async read() {
      const models = objects(TYPES.Model);
      return {
        models,
        trainingRuns: objects(TYPES.TrainingRun),
        driftMonitors: objects(TYPES.DriftMonitor),
        versions: await registryVersions(o.registry, models),
      };
    },
    runs: async () => runs(),
    async run(id) {
      const all = runs();
      const found = all.find((r) => r.id === id);
      if (found) return found;
      // A bare Workflow name (a version's lineage names its run so) in a UI over every namespace:
      // the run when one namespace has it.
      const named = qualified && !id.includes(':') ? all.filter((r) => r.id.slice(r.id.indexOf(':') + 1) === id) : [];
      if (named.length === 1) return named[0];
      if (named.length > 1)
        throw new RunNotFoundError(`'${id}' names an Argo Workflow in ${named.length} namespaces; open one of ${named.map((r) => `/runs/${r.id}`).join(', ')}`);
      throw new RunNotFoundError(
        argo
          ? `no Argo Workflow '${id}'${o.namespace ? ` in namespace ${o.namespace}` : ''}; the runs are listed at /runs (archived runs: ghosteam runs list --cluster)`
          : `no run '${id}': Argo Workflows is not installed in this cluster (no workflows.argoproj.io)`,
      );
    },
    async readLog(run, node, bounds) {
      const wf = workflowOf(run.id);
      const pod = node.log;
      if (!wf || !pod) return { text: '', truncated: false };
      const ns = wf.metadata.namespace ?? 'default';
      if (!o.store.podLog) return { text: '', truncated: false };
      try {
        return await o.store.podLog(ns, pod, { container: 'main', ...bounds });
      } catch (e) {
        if (e instanceof ApiError && e.code === 404)
          throw new LogUnavailableError(
            404,
            `the log of step '${node.id}' is gone with its pod ${ns}/${pod} (Argo deleted it: the Workflow's podGC, or the pod was evicted); an archived log is read by \`ghosteam runs show --cluster --logs ${run.id}\``,
          );
        if (e instanceof ApiError && (e.code === 403 || e.code === 401))
          throw new LogUnavailableError(
            403,
            `the UI's identity may not read pod logs in namespace ${ns} (${e.message}); grant it \`get\` on \`pods/log\` there (ghosteam install --ui does)`,
          );
        throw e;
      }
    },
    status: (r) => r.status,
    subscribe(changed) {
      notify = changed;
    },
    async close() {
      notify = () => {};
      for (const i of own) i.stop();
    },
  };
}
