/**
 * The cluster half of `ghosteam runs list|show --cluster`: Argo Workflows runs, read through the
 * Argo Server (live Workflows and the workflow archive) with the typed client, and shown in the
 * same shape as local runs. The formatting is pure (table-tested); the I/O is the client's.
 */
import { formatDuration } from '../../pipelines/local/index.ts';
import { PIPELINE_LABEL } from '../../api/objects.ts';
import { podOfNode } from '../../pipelines/argo-pods.ts';
import { ArgoServerClient, ArgoServerError, resolveArgoServer, type ArgoNodeStatus, type ArgoWorkflow } from '../../pipelines/argo-server/client.ts';

export interface ClusterFlags {
  argoServer?: string;
  argoTokenFile?: string;
  argoNamespace?: string;
}

/** The options every `--cluster` subcommand takes. */
export const CLUSTER_OPTIONS: readonly [string, string][] = [
  ['--argo-server <url>', 'with --cluster: the Argo Server (default: ARGO_SERVER, host:port or a URL)'],
  ['--argo-token-file <file>', 'with --cluster: file holding the bearer token (default: ARGO_TOKEN_FILE, else ARGO_TOKEN)'],
  ['--argo-namespace <ns>', 'with --cluster: namespace of the Workflows (default: ARGO_NAMESPACE, else default)'],
];

export async function argoClient(f: ClusterFlags, env: NodeJS.ProcessEnv = process.env): Promise<{ client: ArgoServerClient; namespace: string }> {
  const s = await resolveArgoServer({ server: f.argoServer, tokenFile: f.argoTokenFile, env });
  return { client: new ArgoServerClient({ url: s.url, token: s.token }), namespace: f.argoNamespace ?? env.ARGO_NAMESPACE ?? 'default' };
}

/** A run where it lives: `argo` (a live Workflow) or `archive` (only in the workflow archive). */
export type ArgoRunSource = 'argo' | 'archive';

/** Milliseconds between two RFC 3339 times; undefined when either is missing or unparsable. */
export function spanMs(start?: string, end?: string): number | undefined {
  if (!start || !end) return undefined;
  const a = Date.parse(start);
  const b = Date.parse(end);
  return Number.isFinite(a) && Number.isFinite(b) && b >= a ? b - a : undefined;
}

export function pipelineOf(wf: ArgoWorkflow): string {
  return wf.metadata.labels?.[PIPELINE_LABEL] ?? wf.spec.workflowTemplateRef?.name ?? '-';
}

/** The step nodes of a workflow (the ones that ran or would run a pod), in start order. */
export function stepNodes(wf: ArgoWorkflow): ArgoNodeStatus[] {
  const nodes = Object.values(wf.status?.nodes ?? {}).filter((n) => n.type === 'Pod' || n.type === 'Skipped' || n.type === 'Suspend');
  // Not started (skipped, pending) last; RFC 3339 UTC times sort as strings.
  const key = (n: ArgoNodeStatus) => n.startedAt ?? '\uffff';
  return nodes.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : (a.displayName ?? a.name).localeCompare(b.displayName ?? b.name)));
}

/** `3/5 succeeded, 1 failed`: the TASKS column, as for local runs. */
export function stepCounts(wf: ArgoWorkflow): string {
  const steps = stepNodes(wf).filter((n) => n.type !== 'Skipped');
  const by = (p: string) => steps.filter((n) => n.phase === p).length;
  const parts = [`${by('Succeeded')}/${steps.length} succeeded`];
  const skipped = stepNodes(wf).filter((n) => n.type === 'Skipped' || n.phase === 'Skipped' || n.phase === 'Omitted').length;
  if (skipped) parts.push(`${skipped} skipped`);
  for (const p of ['Running', 'Pending', 'Failed', 'Error']) if (by(p)) parts.push(`${by(p)} ${p.toLowerCase()}`);
  return parts.join(', ');
}

/** One row of `runs list`: RUN, PIPELINE, STATUS, STARTED, DURATION, COMMIT, TASKS, WHERE. */
export function argoRunRow(wf: ArgoWorkflow, source: ArgoRunSource): string[] {
  const st = wf.status ?? {};
  const d = spanMs(st.startedAt, st.finishedAt);
  return [
    wf.metadata.name ?? '-',
    pipelineOf(wf),
    st.phase || 'Pending',
    (st.startedAt ?? wf.metadata.creationTimestamp ?? '-').replace('T', ' ').replace('Z', '').slice(0, 19),
    d !== undefined ? formatDuration(d) : '-',
    (wf.metadata.annotations?.['ghosteam.io/source-commit'] ?? '-').slice(0, 8),
    stepCounts(wf),
    `${source}:${wf.metadata.namespace ?? '-'}`,
  ];
}

/** The detail of `runs show --cluster`, as lines (without logs). */
export function argoRunDetail(wf: ArgoWorkflow, source: ArgoRunSource): { head: string[]; steps: string[][]; outputs: string[] } {
  const st = wf.status ?? {};
  const d = spanMs(st.startedAt, st.finishedAt);
  const params = wf.spec.arguments?.parameters ?? [];
  const head = [
    `${wf.metadata.name}  pipeline ${pipelineOf(wf)} (${source === 'archive' ? 'archived ' : ''}Argo Workflow in ${wf.metadata.namespace})`,
    `status    ${st.phase || 'Pending'}${st.message ? ` — ${st.message}` : ''}`,
    `started   ${st.startedAt ?? '-'}${d !== undefined ? `  (${formatDuration(d)})` : ''}`,
    `template  ${wf.spec.workflowTemplateRef?.name ?? '-'}`,
    `params    ${params.length ? params.map((p) => `${p.name}=${JSON.stringify(p.value ?? '')}`).join(' ') : '-'}`,
  ];
  const steps = [['STEP', 'STATE', 'DURATION', 'NODE', 'NOTE']];
  const outputs: string[] = [];
  for (const n of stepNodes(wf)) {
    const dur = spanMs(n.startedAt, n.finishedAt);
    steps.push([
      n.displayName ?? n.name,
      n.type === 'Skipped' ? 'Skipped' : n.phase || 'Pending',
      dur !== undefined ? formatDuration(dur) : '-',
      n.id,
      n.message ?? '',
    ]);
    for (const p of n.outputs?.parameters ?? []) outputs.push(`  ${n.displayName}.${p.name}  = ${JSON.stringify(p.value ?? '')}`);
    for (const a of n.outputs?.artifacts ?? []) outputs.push(`  ${n.displayName}.${a.name}  artifact ${a.s3?.key ? `s3 ${a.s3.key}` : (a.path ?? '')}`);
  }
  return { head, steps, outputs };
}

/** Live Workflows of the namespace, then archived ones whose Workflow is gone (by uid). */
export async function listArgoRuns(client: ArgoServerClient, namespace: string): Promise<{ wf: ArgoWorkflow; source: ArgoRunSource }[]> {
  const live = await client.listWorkflows(namespace);
  const uids = new Set(live.map((w) => w.metadata.uid));
  const archived = (await client.listArchivedWorkflows({ namespace })).filter((w) => !uids.has(w.metadata.uid));
  return [...live.map((wf) => ({ wf, source: 'argo' as const })), ...archived.map((wf) => ({ wf, source: 'archive' as const }))];
}

/** A run by name: the live Workflow, else the newest archived one of that name. */
export async function findArgoRun(client: ArgoServerClient, namespace: string, name: string): Promise<{ wf: ArgoWorkflow; source: ArgoRunSource }> {
  try {
    return { wf: await client.getWorkflow(namespace, name), source: 'argo' };
  } catch (e) {
    if (!(e instanceof ArgoServerError && e.code === 'not-found')) throw e;
  }
  const hit = (await client.listArchivedWorkflows({ namespace, namePrefix: name })).find((w) => w.metadata.name === name);
  // The list carries no node status: read the whole record.
  if (hit?.metadata.uid) return { wf: await client.getArchivedWorkflow(hit.metadata.uid), source: 'archive' };
  throw new ArgoServerError(
    'not-found',
    `no Argo Workflow '${name}' in namespace ${namespace} (live or archived) at ${client.url}; see \`ghosteam runs list --cluster\``,
  );
}

/** Each step's log, grouped by step (in step order), read from the server in one stream. */
export async function stepLogs(client: ArgoServerClient, wf: ArgoWorkflow): Promise<{ step: string; pod: string; lines: string[] }[]> {
  const byPod = new Map<string, string[]>();
  for await (const e of client.logs(wf.metadata.namespace!, wf.metadata.name!)) {
    if (!e.podName) continue;
    const l = byPod.get(e.podName) ?? [];
    l.push(e.content ?? '');
    byPod.set(e.podName, l);
  }
  const out: { step: string; pod: string; lines: string[] }[] = [];
  const seen = new Set<string>();
  for (const n of stepNodes(wf)) {
    for (const [pod, lines] of byPod) {
      if (seen.has(pod) || !podOfNode(wf, n, pod)) continue;
      seen.add(pod);
      out.push({ step: n.displayName ?? n.name, pod, lines });
    }
  }
  for (const [pod, lines] of byPod) if (!seen.has(pod)) out.push({ step: pod, pod, lines });
  return out;
}
