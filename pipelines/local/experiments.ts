/**
 * Every pipeline run is an experiment run. This file turns the local engine's run records into
 * experiment rows (params, tags, final metrics, per-step metric history, artifacts), logs them to
 * MLflow when a tracking URI is set (components/registry/mlflow/tracking.ts), and renders what
 * `ghosteam experiments list|show|compare` print: a table best-first by a metric, and metric curves
 * as a self-contained HTML page (inline SVG) or a PNG. The pure parts (rows, sorting, table, SVG)
 * take plain data.
 */
import { MlflowTracking, type TrackedRun, type TrackedRunSummary } from '../../components/registry/mlflow/tracking.ts';
import type { ParamValue } from '../../components/component.ts';
import { ArtifactStore } from './store.ts';
import type { RunRecord } from './types.ts';

export interface ExperimentRow {
  readonly runId: string;
  readonly experiment: string;
  readonly status: string;
  readonly startedAt: string;
  readonly params: Record<string, string>;
  readonly tags: Record<string, string>;
  readonly metrics: Record<string, number>;
  readonly history: Record<string, { step: number; value: number }[]>;
}

const text = (v: ParamValue): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** The experiment row of a local run record: params (pipeline params and every task's literal params), tags, metrics, history. */
export function runToRow(rec: RunRecord): ExperimentRow {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec.params)) params[k] = text(v);
  for (const [k, v] of Object.entries(rec.taskParams ?? {})) params[k] = text(v);
  const metrics: Record<string, number> = {};
  const history: Record<string, { step: number; value: number }[]> = {};
  const tags: Record<string, string> = { 'ghosteam.pipeline': rec.pipeline };
  if (rec.gitCommit) tags['mlflow.source.git.commit'] = tags['ghosteam.gitCommit'] = rec.gitCommit;
  if (rec.gitDirty) tags['ghosteam.gitDirty'] = rec.gitDirty;
  if (rec.parent) tags['ghosteam.parent'] = rec.parent;
  for (const id of rec.order) {
    const n = rec.nodes[id];
    if (!n) continue;
    for (const [k, v] of Object.entries(n.outputParams)) if (typeof v === 'number' && Number.isFinite(v)) metrics[`${id}.${k}`] = v;
    for (const [k, pts] of Object.entries(n.history ?? {})) {
      if (!pts.length) continue;
      history[`${id}.${k}`] = pts;
      metrics[`${id}.${k}`] = pts[pts.length - 1].value;
    }
    if (n.task === 'register' || typeof n.outputParams.modelRef === 'string') {
      if (typeof n.outputParams.modelRef === 'string') tags['ghosteam.registered'] = n.outputParams.modelRef;
    }
  }
  return { runId: rec.id, experiment: rec.pipeline, status: rec.status, startedAt: rec.startedAt, params, tags, metrics, history };
}

/** The run's artifacts worth keeping in MLflow (models, metrics, reports), as `<task>/<output>` → local file. */
export function runArtifacts(rec: RunRecord, root: string): Record<string, string> {
  const store = new ArtifactStore(root);
  const out: Record<string, string> = {};
  for (const id of rec.order) {
    const n = rec.nodes[id];
    for (const [name, a] of Object.entries(n?.outputs ?? {})) if (a.kind !== 'dataset') out[`${id.replace(/[()]/g, '_')}/${name}`] = store.pathOf(a.digest);
  }
  return out;
}

export function trackedRun(rec: RunRecord, root: string, reason?: string): TrackedRun {
  const row = runToRow(rec);
  return {
    runId: rec.id,
    experiment: rec.pipeline,
    status: rec.status,
    startTime: Date.parse(rec.startedAt),
    ...(rec.finishedAt ? { endTime: Date.parse(rec.finishedAt) } : {}),
    params: row.params,
    tags: { ...row.tags, ...(reason ? { 'ghosteam.reason': reason } : {}) },
    metrics: row.metrics,
    history: row.history,
    artifacts: runArtifacts(rec, root),
  };
}

/** Logs a finished local run to MLflow (idempotent by run id). */
export async function trackToMlflow(rec: RunRecord, root: string, trackingUri: string, reason?: string): Promise<string> {
  const t = new MlflowTracking({ trackingUri });
  return (await t.logRun(trackedRun(rec, root, reason))).mlflowRunId;
}

/** MLflow runs as rows; with `withHistory`, the per-step history of every metric. */
export async function mlflowRows(trackingUri: string, experiments: readonly string[], withHistory = false): Promise<ExperimentRow[]> {
  const t = new MlflowTracking({ trackingUri });
  const runs: TrackedRunSummary[] = await t.searchRuns(experiments);
  return Promise.all(
    runs.map(async (r) => {
      const history: Record<string, { step: number; value: number }[]> = {};
      if (withHistory) for (const k of Object.keys(r.metrics)) history[k] = await t.metricHistory(r.mlflowRunId, k);
      const statusOf: Record<string, string> = { FINISHED: 'Succeeded', FAILED: 'Failed', KILLED: 'Cancelled', RUNNING: 'Running' };
      return {
        runId: r.runId,
        experiment: r.experiment,
        status: statusOf[r.status] ?? r.status,
        startedAt: new Date(r.startTime).toISOString(),
        params: r.params,
        tags: { ...r.tags, 'mlflow.runId': r.mlflowRunId },
        metrics: r.metrics,
        history: Object.fromEntries(Object.entries(history).filter(([, h]) => h.length > 1)),
      };
    }),
  );
}

/** Minimised unless the name says it is a score (auc, accuracy, f1, precision, recall, r2). */
export function metricDirection(metric: string): 'minimize' | 'maximize' {
  return /(auc|accuracy|f1|precision|recall|r2|score)$/i.test(metric) ? 'maximize' : 'minimize';
}

/** Best first by `metric` (runs without it last, newest first among themselves); without a metric, newest first. */
export function sortRows(rows: readonly ExperimentRow[], metric?: string, direction = metric ? metricDirection(metric) : 'minimize'): ExperimentRow[] {
  return [...rows].sort((a, b) => {
    if (metric) {
      const x = a.metrics[metric];
      const y = b.metrics[metric];
      if (x !== undefined && y !== undefined && x !== y) return direction === 'minimize' ? x - y : y - x;
      if ((x === undefined) !== (y === undefined)) return x === undefined ? 1 : -1;
    }
    return b.startedAt.localeCompare(a.startedAt);
  });
}

const fmt = (v: number | undefined): string => (v === undefined ? '' : Number.isInteger(v) ? String(v) : v.toPrecision(4));

/** The params that differ between the rows (all of them for one row), and every metric: what a comparison shows. */
export function columnsOf(rows: readonly ExperimentRow[]): { params: string[]; metrics: string[] } {
  const pk = [...new Set(rows.flatMap((r) => Object.keys(r.params)))].sort();
  const params = rows.length <= 1 ? pk : pk.filter((k) => new Set(rows.map((r) => r.params[k])).size > 1);
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort();
  return { params, metrics };
}

/** The widest a param's value is printed in a table (a JSON-valued param — a schema, a gate — would fill the screen); --json has it whole. */
const CELL = 40;
const cell = (s: string): string => (s.length > CELL ? `${s.slice(0, CELL - 1)}…` : s);

/** A plain-text table: one row per run, params then metrics. */
export function formatTable(rows: readonly ExperimentRow[], cols = columnsOf(rows)): string {
  const head = ['RUN', 'STATUS', ...cols.params, ...cols.metrics];
  const body = rows.map((r) => [r.runId, r.status, ...cols.params.map((k) => cell(r.params[k] ?? '')), ...cols.metrics.map((k) => fmt(r.metrics[k]))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body]
    .map((line) =>
      line
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** One SVG line chart of a metric's history, one line per run. */
export function curveSvg(metric: string, rows: readonly ExperimentRow[], width = 560, height = 300): string {
  const series = rows.map((r, i) => ({ run: r.runId, color: COLORS[i % COLORS.length], pts: r.history[metric] ?? [] })).filter((s) => s.pts.length);
  const all = series.flatMap((s) => s.pts);
  const [x0, x1] = [Math.min(...all.map((p) => p.step)), Math.max(...all.map((p) => p.step))];
  const [y0, y1] = [Math.min(...all.map((p) => p.value)), Math.max(...all.map((p) => p.value))];
  const L = 60;
  const R = 150;
  const T = 30;
  const B = 40;
  const sx = (x: number): number => L + ((x - x0) / (x1 - x0 || 1)) * (width - L - R);
  const sy = (y: number): number => height - B - ((y - y0) / (y1 - y0 || 1)) * (height - T - B);
  const lines = series.map(
    (s) =>
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.pts.map((p) => `${sx(p.step).toFixed(1)},${sy(p.value).toFixed(1)}`).join(' ')}"/>`,
  );
  const legend = series.map(
    (s, i) =>
      `<rect x="${width - R + 10}" y="${T + i * 16}" width="10" height="10" fill="${s.color}"/><text x="${width - R + 24}" y="${T + i * 16 + 9}" font-size="10">${esc(s.run.slice(-24))}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${L}" y="18" font-size="13" font-weight="bold">${esc(metric)}</text>`,
    `<line x1="${L}" y1="${height - B}" x2="${width - R}" y2="${height - B}" stroke="#444"/><line x1="${L}" y1="${T}" x2="${L}" y2="${height - B}" stroke="#444"/>`,
    `<text x="${L}" y="${height - B + 16}" font-size="10">${fmt(x0)}</text><text x="${width - R}" y="${height - B + 16}" font-size="10" text-anchor="end">step ${fmt(x1)}</text>`,
    `<text x="${L - 4}" y="${height - B}" font-size="10" text-anchor="end">${fmt(y0)}</text><text x="${L - 4}" y="${T + 8}" font-size="10" text-anchor="end">${fmt(y1)}</text>`,
    ...lines,
    ...legend,
    '</svg>',
  ].join('\n');
}

/** The metrics with a history in at least one row. */
export function curveMetrics(rows: readonly ExperimentRow[]): string[] {
  return [...new Set(rows.flatMap((r) => Object.keys(r.history).filter((k) => (r.history[k]?.length ?? 0) > 0)))].sort();
}

/** A self-contained page: the comparison table and one chart per metric with a history. */
export function compareHtml(rows: readonly ExperimentRow[]): string {
  const cols = columnsOf(rows);
  const th = ['run', 'status', ...cols.params, ...cols.metrics].map((h) => `<th>${esc(h)}</th>`).join('');
  const tr = rows
    .map(
      (r) =>
        `<tr><td>${esc(r.runId)}</td><td>${esc(r.status)}</td>${cols.params.map((k) => `<td>${esc(r.params[k] ?? '')}</td>`).join('')}${cols.metrics.map((k) => `<td>${fmt(r.metrics[k])}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const charts = curveMetrics(rows).map((m) => curveSvg(m, rows));
  return `<!doctype html><html><head><meta charset="utf-8"><title>ghosteam experiments: ${rows.length} runs</title>
<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:12px;text-align:left}</style></head>
<body><h1>Compared runs</h1><table><tr>${th}</tr>
${tr}</table>
${charts.join('\n') || '<p>No run reported per-step metrics.</p>'}
</body></html>
`;
}

/** The charts as one PNG (stacked), rendered with resvg. */
export async function comparePng(rows: readonly ExperimentRow[]): Promise<Uint8Array> {
  const metrics = curveMetrics(rows);
  if (!metrics.length) throw new Error('none of these runs reported per-step metrics, so there is no curve to draw; compare them as a table instead');
  const h = 300;
  const inner = metrics
    .map(
      (m, i) =>
        `<g transform="translate(0,${i * h})">${curveSvg(m, rows)
          .replace(/^<svg[^>]*>/, '')
          .replace(/<\/svg>$/, '')}</g>`,
    )
    .join('\n');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="560" height="${h * metrics.length}" font-family="sans-serif">${inner}</svg>`;
  const { Resvg } = await import('@resvg/resvg-js');
  return new Resvg(svg, { font: { loadSystemFonts: true } }).render().asPng();
}
