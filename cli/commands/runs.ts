/**
 * `ghosteam runs list|show|artifact`: the records of local pipeline runs (.ghosteam/runs) and what
 * their steps stored; with --cluster, the Argo Workflows runs too (through the Argo Server: live and
 * archived Workflows, step logs).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { table } from '../table.ts';
import { colors as pc } from '../colors.ts';
import { effectiveStatus, formatDuration, RunStore, type RunRecord } from '../../pipelines/local/index.ts';
import { showArtifact, type ArtifactFlags } from './runs-artifact.ts';
import { argoClient, argoRunDetail, argoRunRow, CLUSTER_OPTIONS, findArgoRun, listArgoRuns, stepLogs, type ClusterFlags } from './runs-cluster.ts';

function counts(r: RunRecord): string {
  const ids = r.order.filter((id) => !r.nodes[id]?.children);
  const by = (s: string) => ids.filter((id) => r.nodes[id]?.state === s).length;
  const cached = ids.filter((id) => r.nodes[id]?.cached).length;
  const parts = [`${by('Succeeded')}/${ids.length} succeeded`];
  if (cached) parts.push(`${cached} cached`);
  for (const s of ['Failed', 'Error', 'Skipped', 'Omitted', 'Cancelled']) if (by(s)) parts.push(`${by(s)} ${s.toLowerCase()}`);
  return parts.join(', ');
}

export function register(program: Command): void {
  const runs = program.command('runs').description('List and inspect pipeline runs: local ones, and with --cluster the Argo Workflows runs');
  const list = runs
    .command('list')
    .description('List local runs, newest first; with --cluster, the Argo Workflows runs (live and archived) beside them')
    .option('--json', 'Print the records as JSON')
    .option('--store-dir <dir>', 'Directory of the local state', '.ghosteam')
    .option('--cluster', 'also list the runs of the Argo Server (ARGO_SERVER, with a bearer token from ARGO_TOKEN or --argo-token-file)');
  for (const [flag, help] of CLUSTER_OPTIONS) list.option(flag, help);
  list.action(async (flags: { json?: boolean; storeDir: string; cluster?: boolean } & ClusterFlags) => {
    const all = await new RunStore(resolve(flags.storeDir)).list();
    // The server first: an unreachable one or a missing token fails before anything is printed.
    const argo = flags.cluster ? await argoClient(flags) : undefined;
    const remote = argo ? await listArgoRuns(argo.client, argo.namespace) : [];
    if (flags.json) {
      const local = all.map((r) => ({ ...r, status: effectiveStatus(r) }));
      const out = argo
        ? { local, cluster: { server: argo.client.url, namespace: argo.namespace, runs: remote.map((x) => ({ source: x.source, ...x.wf })) } }
        : local;
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return;
    }
    if (all.length === 0 && !argo) {
      process.stdout.write(`no runs in ${resolve(flags.storeDir, 'runs')}; start one with 'ghosteam run <app>'\n`);
      return;
    }
    const rows = [['RUN', 'PIPELINE', 'STATUS', 'STARTED', 'DURATION', 'COMMIT', 'TASKS', ...(argo ? ['WHERE'] : [])]];
    for (const r of all) {
      rows.push([
        r.id,
        r.pipeline,
        effectiveStatus(r),
        r.startedAt.replace('T', ' ').slice(0, 19),
        r.durationMs !== undefined ? formatDuration(r.durationMs) : '-',
        r.gitCommit?.slice(0, 8) ?? '-',
        counts(r),
        ...(argo ? ['local'] : []),
      ]);
    }
    for (const x of remote) rows.push(argoRunRow(x.wf, x.source));
    process.stdout.write(table(rows) + '\n');
    if (argo && remote.length === 0) process.stdout.write(`no Argo Workflows in namespace ${argo.namespace} at ${argo.client.url}\n`);
  });
  runs
    .command('artifact')
    .description(
      "Show what a step of a local run produced: a dataset's rows, columns and first rows, or a metrics file; --out writes a dataset as CSV, JSON Lines, Parquet or Arrow, or copies any artifact",
    )
    .argument('<run>', 'The run id (see ghosteam runs list)')
    .argument('<artifact>', 'TASK.OUTPUT, as ghosteam runs show lists them (e.g. split.train)')
    .option('--head <n>', 'rows of a dataset to print', '10')
    .option('-o, --out <file>', 'write the artifact to this file: a dataset as .csv, .tsv, .jsonl, .parquet or .arrow (by the extension); others as they are')
    .option('--overwrite', 'replace an existing --out (atomically, once the new file is complete)')
    .option('--json', "print the summary (and a dataset's first rows, or a JSON artifact's content) as JSON")
    .option('--store-dir <dir>', 'Directory of the local state', '.ghosteam')
    .action(async (id: string, ref: string, flags: ArtifactFlags) => showArtifact(id, ref, flags));
  const show = runs
    .command('show')
    .description('Show one run: status, per-task state, timings, artifacts; with --cluster, an Argo Workflow (live or archived) and its step logs')
    .argument('<run>', 'The run id (see ghosteam runs list), or with --cluster the Workflow name')
    .option('--json', 'Print the record as JSON')
    .option('--logs', 'Print each task log too')
    .option('--store-dir <dir>', 'Directory of the local state', '.ghosteam')
    .option('--cluster', 'show an Argo Workflow through the Argo Server instead of a local run');
  for (const [flag, help] of CLUSTER_OPTIONS) show.option(flag, help);
  show.action(async (id: string, flags: { json?: boolean; logs?: boolean; storeDir: string; cluster?: boolean } & ClusterFlags) => {
    if (flags.cluster) return showCluster(id, flags);
    const store = new RunStore(resolve(flags.storeDir));
    const r = await store.load(id);
    if (flags.json) {
      process.stdout.write(JSON.stringify({ ...r, status: effectiveStatus(r) }, null, 2) + '\n');
      return;
    }
    const out: string[] = [];
    out.push(`${pc.bold(r.id)}  pipeline ${r.pipeline} (${r.pipelinePath})`);
    out.push(`status    ${effectiveStatus(r)}${r.message ? ` — ${r.message}` : ''}`);
    out.push(`started   ${r.startedAt}${r.durationMs !== undefined ? `  (${formatDuration(r.durationMs)})` : ''}`);
    if (r.resumedAt?.length) out.push(`resumed   ${r.resumedAt.join(', ')}`);
    out.push(`commit    ${r.gitCommit ?? '-'}`);
    out.push(
      `params    ${
        Object.keys(r.params).length
          ? Object.entries(r.params)
              .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
              .join(' ')
          : '-'
      }`,
    );
    out.push('');
    const rows = [['TASK', 'STATE', 'DURATION', 'ATTEMPTS', 'NOTE']];
    for (const nid of r.order) {
      const n = r.nodes[nid];
      if (!n) continue;
      const note = n.cached ? 'cached' : n.resumed ? 'from resumed run' : (n.message ?? '');
      rows.push([nid, n.state, n.durationMs !== undefined ? formatDuration(n.durationMs) : '-', String(n.attempts.length), note]);
    }
    out.push(table(rows));
    // Remote sources: what identified their content in the step-cache key (components/ingest/sources.ts).
    const sources = r.order.flatMap((nid) =>
      Object.entries(r.nodes[nid]?.sources ?? {}).map(
        ([k, src]) => `  ${nid}.${k}  ${src.uri}  cache key: ${src.identity}${r.nodes[nid]?.cached ? ' (cached)' : ''}`,
      ),
    );
    if (sources.length) out.push('', 'sources', ...sources);
    const arts = r.order.flatMap((nid) => Object.entries(r.nodes[nid]?.outputs ?? {}).map(([k, a]) => `  ${nid}.${k}  ${a.kind}  ${a.digest}  ${a.size} B`));
    if (arts.length) out.push('', 'artifacts', ...arts);
    if (flags.logs) {
      for (const nid of r.order) {
        const n = r.nodes[nid];
        if (!n?.log) continue;
        out.push('', pc.bold(`--- ${nid} (${n.log})`), (await store.readLog(r.id, n.log)).trimEnd());
      }
    }
    process.stdout.write(out.join('\n') + '\n');
  });
}

async function showCluster(name: string, flags: { json?: boolean; logs?: boolean } & ClusterFlags): Promise<void> {
  const { client, namespace } = await argoClient(flags);
  const { wf, source } = await findArgoRun(client, namespace, name);
  // Archived runs have no pods left to read logs from.
  const logs = flags.logs && source === 'argo' ? await stepLogs(client, wf) : undefined;
  if (flags.json) {
    process.stdout.write(JSON.stringify({ source, ...wf, ...(logs ? { logs } : {}) }, null, 2) + '\n');
    return;
  }
  const d = argoRunDetail(wf, source);
  const out = [pc.bold(d.head[0]), ...d.head.slice(1), '', table(d.steps)];
  if (d.outputs.length) out.push('', 'outputs', ...d.outputs);
  if (flags.logs && source === 'archive') out.push('', `(no step logs: ${name} is archived and its pods are gone)`);
  for (const l of logs ?? []) out.push('', pc.bold(`--- ${l.step} (pod ${l.pod})`), l.lines.join('\n').trimEnd());
  process.stdout.write(out.join('\n') + '\n');
}
