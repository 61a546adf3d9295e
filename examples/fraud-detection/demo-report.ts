/**
 * demo-report.html: one self-contained file (inline CSS and SVG, no scripts, no network). The
 * per-feature drift charts are components/drift's own (`featureChartSvg`); the two time-series
 * charts (traffic by version, drift share per window) are drawn here in the same style. Pure:
 * a DemoRecord in, HTML out.
 */
import { featureChartSvg } from '../../components/drift/index.ts';
import { escapeXml, fmt } from '../../components/drift/report.ts';
import type { ColumnDrift } from '../../components/drift/index.ts';
import type { ModelVersion } from '../../components/registry/types.ts';
import type { AnalysisResult, FeatureDriftResult } from '../../api/crds/index.ts';

export interface TimelineEntry {
  /** Wall-clock ms. */
  readonly t: number;
  /** Demo-clock ms. */
  readonly demoT: number;
  readonly step: string;
  readonly text: string;
}

export interface DriftCheckRecord {
  /** ms since the demo started (when the check was seen). */
  t: number;
  /** The check's scheduled slot (demo time, ISO). */
  readonly at: string;
  readonly samples: number;
  readonly datasetDrift: boolean;
  readonly share: number;
  readonly drifted: readonly string[];
  readonly features: readonly FeatureDriftResult[];
  readonly message: string;
}

export interface RolloutRecord {
  readonly version: number;
  readonly outcome: 'promoted' | 'rolled back';
  readonly reason: string;
  readonly message?: string;
  readonly analysis: readonly AnalysisResult[];
}

export interface TrafficPoint {
  /** ms since the demo started. */
  readonly t: number;
  readonly ok: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly phase: string;
}

/** An alert that fired or resolved, as the operator's local evaluation of the model's rules sent it. */
export interface DemoAlert {
  /** ms since the demo started. */
  readonly t: number;
  readonly demoTime: string;
  readonly alert: string;
  readonly state: 'pending' | 'firing' | 'resolved';
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly value: number;
}

export interface DemoRecord {
  readonly startedAt: string;
  readonly speed: number;
  readonly rows: number;
  readonly seed: number;
  readonly rate: number;
  readonly repo: string;
  readonly firstCommit: string;
  readonly features: readonly string[];
  readonly timeline: TimelineEntry[];
  versions: ModelVersion[];
  readonly driftChecks: DriftCheckRecord[];
  readonly rollouts: RolloutRecord[];
  traffic: TrafficPoint[];
  /** ms since the start when traffic switched to the drifted period. */
  driftedFrom?: number;
  driftSeries: Array<{ t: number; share: number; rows: number; drifted: boolean }>;
  driftCharts: ColumnDrift[];
  /** Moments to mark on the charts (ms since the start). */
  readonly markers: Array<{ t: number; label: string }>;
  gitLog: Array<{ hash: string; author: string; subject: string; trailers: string }>;
  /** Alerts the operator's local rule evaluation fired or resolved (console, webhook and here). */
  readonly alerts: DemoAlert[];
  /** The stable version's quality from the labels that arrived (the model server's stats). */
  quality?: { readonly version: number; readonly samples?: number; readonly metrics?: Readonly<Record<string, number | undefined>> };
  plan: string;
  readonly checks: ReadonlyArray<{ name: string; ok: boolean; detail: string }>;
  wallMs: number;
  cpuMs: number;
  operatorLogLines?: number;
}

const VERSION_COLORS = ['#4C78A8', '#F58518', '#54A24B', '#B279A2', '#9D755D'];
const ERROR_COLOR = '#C0392B';
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

const e = (s: unknown) => escapeXml(String(s));

function axisTicks(max: number, n = 5): number[] {
  if (max <= 0) return [0];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/** Requests per second answered by each version (stacked), errors on top, phases shaded. */
export function trafficChartSvg(points: readonly TrafficPoint[], markers: ReadonlyArray<{ t: number; label: string }>, width = 1180, height = 300): string {
  const pad = { l: 54, r: 16, t: 34, b: 40 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const versions = [...new Set(points.flatMap((p) => Object.keys(p.ok)))].sort((a, b) => Number(a) - Number(b));
  const t0 = points.length ? points[0].t : 0;
  const t1 = points.length ? points[points.length - 1].t + 1000 : 1000;
  const x = (t: number) => pad.l + ((t - t0) / Math.max(1, t1 - t0)) * w;
  const total = (p: TrafficPoint) => Object.values(p.ok).reduce((a, b) => a + b, 0) + Object.values(p.errors).reduce((a, b) => a + b, 0);
  const ymax = Math.max(1, ...points.map(total)) * 1.1;
  const y = (v: number) => pad.t + h - (v / ymax) * h;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  // Phase bands.
  let start = 0;
  for (let i = 1; i <= points.length; i++) {
    if (i === points.length || points[i].phase !== points[start].phase) {
      const p = points[start];
      const xa = x(p.t);
      const xb = i === points.length ? x(t1) : x(points[i].t);
      parts.push(
        `<rect x="${xa.toFixed(1)}" y="${pad.t}" width="${Math.max(0, xb - xa).toFixed(1)}" height="${h}" fill="${p.phase === 'drifted' ? '#FDF2E9' : '#EEF4FA'}"/>`,
      );
      start = i;
    }
  }
  for (const v of axisTicks(ymax)) {
    parts.push(
      `<line x1="${pad.l}" x2="${pad.l + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e3e3e3"/>`,
      `<text x="${pad.l - 6}" y="${(y(v) + 3).toFixed(1)}" font-size="10" text-anchor="end" fill="#555">${v}</text>`,
    );
  }
  const bw = Math.max(1, w / Math.max(1, (t1 - t0) / 1000) - 1);
  for (const p of points) {
    let acc = 0;
    const stack: Array<[number, string]> = versions.map((v, i) => [p.ok[v] ?? 0, VERSION_COLORS[i % VERSION_COLORS.length]]);
    stack.push([Object.values(p.errors).reduce((a, b) => a + b, 0), ERROR_COLOR]);
    for (const [n, color] of stack) {
      if (n <= 0) continue;
      parts.push(
        `<rect x="${x(p.t).toFixed(1)}" y="${y(acc + n).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(acc) - y(acc + n)).toFixed(1)}" fill="${color}"/>`,
      );
      acc += n;
    }
  }
  parts.push(...markerSvg(markers, x, pad.t, h, t0, t1));
  const span = (t1 - t0) / 1000;
  for (const s of axisTicks(span, 10))
    parts.push(
      `<text x="${x(t0 + s * 1000).toFixed(1)}" y="${pad.t + h + 14}" font-size="10" text-anchor="middle" fill="#555">${Math.round(t0 / 1000 + s)}s</text>`,
    );
  parts.push(`<text x="${pad.l}" y="18" font-size="13" font-weight="bold" fill="#222">Live traffic: answers per second by version</text>`);
  let lx = pad.l + 330;
  for (const [i, v] of versions.entries()) {
    parts.push(
      `<rect x="${lx}" y="9" width="10" height="10" fill="${VERSION_COLORS[i % VERSION_COLORS.length]}"/><text x="${lx + 14}" y="18" font-size="11" fill="#333">v${e(v)}</text>`,
    );
    lx += 50;
  }
  parts.push(`<rect x="${lx}" y="9" width="10" height="10" fill="${ERROR_COLOR}"/><text x="${lx + 14}" y="18" font-size="11" fill="#333">errors</text>`);
  lx += 70;
  parts.push(
    `<rect x="${lx}" y="9" width="10" height="10" fill="#EEF4FA" stroke="#ccc"/><text x="${lx + 14}" y="18" font-size="11" fill="#333">reference-period traffic</text>`,
  );
  lx += 160;
  parts.push(
    `<rect x="${lx}" y="9" width="10" height="10" fill="#FDF2E9" stroke="#ccc"/><text x="${lx + 14}" y="18" font-size="11" fill="#333">drifted-period traffic</text>`,
  );
  parts.push(`<text x="${pad.l + w / 2}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#555">seconds since the demo started (wall clock)</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Share of drifted features per 3-second window of live traffic, with the monitor's threshold. */
export function driftSeriesSvg(
  series: ReadonlyArray<{ t: number; share: number; rows: number; drifted: boolean }>,
  threshold: number,
  checks: ReadonlyArray<{ t: number; label: string }>,
  tRange: [number, number],
  width = 1180,
  height = 220,
): string {
  const pad = { l: 54, r: 16, t: 34, b: 40 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const [t0, t1] = tRange;
  const x = (t: number) => pad.l + ((t - t0) / Math.max(1, t1 - t0)) * w;
  const y = (v: number) => pad.t + h - v * h;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  for (const v of [0, 0.25, 0.5, 0.75, 1])
    parts.push(
      `<line x1="${pad.l}" x2="${pad.l + w}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e3e3"/><text x="${pad.l - 6}" y="${y(v) + 3}" font-size="10" text-anchor="end" fill="#555">${v * 100}%</text>`,
    );
  parts.push(
    `<line x1="${pad.l}" x2="${pad.l + w}" y1="${y(threshold)}" y2="${y(threshold)}" stroke="${ERROR_COLOR}" stroke-dasharray="6,4"/><text x="${pad.l + w - 4}" y="${y(threshold) - 4}" font-size="10" text-anchor="end" fill="${ERROR_COLOR}">driftShare threshold ${threshold * 100}%</text>`,
  );
  if (series.length) {
    const d = series.map((p, i) => `${i ? 'L' : 'M'}${x(p.t + 1500).toFixed(1)},${y(p.share).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="#4C78A8" stroke-width="2"/>`);
    for (const p of series)
      parts.push(`<circle cx="${x(p.t + 1500).toFixed(1)}" cy="${y(p.share).toFixed(1)}" r="3" fill="${p.drifted ? ERROR_COLOR : '#4C78A8'}"/>`);
  }
  parts.push(...markerSvg(checks, x, pad.t, h, t0, t1));
  for (const s of axisTicks((t1 - t0) / 1000, 10))
    parts.push(
      `<text x="${x(t0 + s * 1000).toFixed(1)}" y="${pad.t + h + 14}" font-size="10" text-anchor="middle" fill="#555">${Math.round(t0 / 1000 + s)}s</text>`,
    );
  parts.push(
    `<text x="${pad.l}" y="18" font-size="13" font-weight="bold" fill="#222">Share of drifted features per 3-second window of live traffic (payload log vs reference period)</text>`,
  );
  parts.push(
    `<text x="${pad.l + w / 2}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#555">seconds since the demo started; dashed lines: the DriftMonitor's scheduled checks</text>`,
  );
  parts.push('</svg>');
  return parts.join('');
}

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>, cls = ''): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** Dashed vertical lines with labels on a white backing, staggered so that close ones don't overlap. */
function markerSvg(markers: ReadonlyArray<{ t: number; label: string }>, x: (t: number) => number, top: number, h: number, t0: number, t1: number): string[] {
  const out: string[] = [];
  const rows: number[] = [];
  for (const m of [...markers].sort((a, b) => a.t - b.t)) {
    if (m.t < t0 || m.t > t1) continue;
    const xm = x(m.t);
    const wLabel = m.label.length * 5.8 + 6;
    const anchorEnd = xm + wLabel > x(t1);
    const [a, b] = anchorEnd ? [xm - wLabel, xm] : [xm, xm + wLabel];
    let row = rows.findIndex((end) => end < a);
    if (row < 0) row = rows.length;
    rows[row] = b + 2;
    const ty = top + 24 + row * 14;
    out.push(`<line x1="${xm.toFixed(1)}" x2="${xm.toFixed(1)}" y1="${top}" y2="${top + h}" stroke="#333" stroke-dasharray="3,3"/>`);
    out.push(
      `<rect x="${(anchorEnd ? xm - wLabel : xm + 1).toFixed(1)}" y="${ty - 10}" width="${wLabel.toFixed(1)}" height="13" fill="#fff" fill-opacity="0.85"/>`,
    );
    out.push(
      `<text x="${(anchorEnd ? xm - 3 : xm + 3).toFixed(1)}" y="${ty}" font-size="10" fill="#222"${anchorEnd ? ' text-anchor="end"' : ''}>${e(m.label)}</text>`,
    );
  }
  return out;
}

const pct = (v: number | undefined) => (v === undefined ? '–' : `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)}%`);

export function renderDemoReport(r: DemoRecord): string {
  const t0 = Date.parse(r.startedAt);
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const ok = r.checks.length > 0 && r.checks.every((c) => c.ok);
  const tEnd = r.traffic.length ? r.traffic[r.traffic.length - 1].t + 1000 : r.wallMs;
  const tStart = r.traffic.length ? r.traffic[0].t : 0;
  const markers = r.markers;
  const checkMarks = r.driftChecks.map((c) => ({
    t: c.t,
    label: c.samples < 500 ? 'check: too few rows' : c.datasetDrift ? 'check: drift' : 'check: no drift',
  }));
  const versionsRows = r.versions.map((v) => [
    `v${v.version}`,
    e(v.lineage.reason ?? '–'),
    e(v.lineage.runId ?? '–'),
    fmt(v.metrics.rocAuc, 3),
    fmt(v.metrics.f1, 3),
    fmt(v.metrics.logLoss, 3),
    fmt(v.metrics.ece, 3),
    pct(v.metrics.positiveRate),
    e(v.params.rows ?? '–'),
    e(v.params.kind ?? (v.tags['demo.ghosteam.io/broken'] ? 'v2 + broken lookup' : '–')),
    e(v.tags['demo.ghosteam.io/broken'] ?? (v.lineage.datasetDigest ? `data ${v.lineage.datasetDigest.slice(7, 19)}` : '')),
  ]);
  const rollouts = r.rollouts
    .map(
      (ro) => `
    <h3>v${ro.version}: ${ro.outcome === 'promoted' ? '<span class="ok">promoted</span>' : '<span class="bad">rolled back</span>'} <small>(${e(ro.reason)})</small></h3>
    ${ro.message ? `<p class="reason">${e(ro.message)}</p>` : ''}
    ${table(
      ['step', 'traffic', 'checked (demo clock)', 'requests', 'error rate', 'p99 latency', 'prediction drift (PSI)', 'verdict', 'message'],
      ro.analysis.map((a) => [
        String(a.step + 1),
        `${a.trafficPercent}%`,
        e(a.checkedAt.slice(11, 19)),
        String(a.requests ?? '–'),
        pct(a.errorRate),
        a.p99LatencyMs === undefined ? '–' : `${a.p99LatencyMs.toFixed(1)} ms`,
        a.predictionDrift === undefined ? '–' : a.predictionDrift.toFixed(3),
        a.passed ? '<span class="ok">passed</span>' : '<span class="bad">failed</span>',
        e(a.message ?? ''),
      ]),
    )}`,
    )
    .join('');
  const driftRows = r.driftChecks.map((c) => [
    e(c.at.slice(11, 16)),
    sec(c.t),
    String(c.samples),
    c.samples < 500
      ? 'no verdict (fewer than 500 rows)'
      : c.datasetDrift
        ? `<span class="bad">drift</span> (${pct(c.share)} of features)`
        : `<span class="ok">no drift</span> (${pct(c.share)})`,
    e(c.drifted.join(', ') || '–'),
  ]);
  const lastDrift = r.driftChecks.filter((c) => c.datasetDrift).at(-1);
  const featureRows = (lastDrift?.features ?? []).map((f) => [
    e(f.name),
    e(f.test),
    fmt(f.statistic),
    f.pValue === undefined ? '–' : fmt(f.pValue),
    fmt(f.threshold),
    f.drifted ? '<span class="bad">drifted</span>' : 'ok',
  ]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ghosteam demo report</title>
<style>
body{font-family:${FONT};margin:24px 32px;color:#222;max-width:1200px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
.sub{color:#555;margin:0 0 14px}.ok{color:#2E7D32;font-weight:bold}.bad{color:#C0392B;font-weight:bold}.reason{background:#FDEDEC;border-left:4px solid #C0392B;padding:6px 10px;margin:6px 0}
table{border-collapse:collapse;font-size:12px;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f4f6f8}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:8px;font-size:11px;overflow-x:auto;white-space:pre-wrap}
.checks li{list-style:none;margin:2px 0}.grid{display:flex;flex-wrap:wrap;gap:8px}.kpis{display:flex;gap:14px;margin:10px 0}.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}.kpi b{display:block;font-size:20px}
small{color:#666;font-weight:normal}
</style></head><body>
<h1>ghosteam demo ${ok ? '<span class="ok">✓ every step happened</span>' : '<span class="bad">✗ incomplete</span>'}</h1>
<p class="sub">${e(r.startedAt)} · embedded default (local engine, local registry, local OIP server, local operator) · the demo clock ran ${r.speed}x (1-minute canary steps took ${(60 / r.speed).toFixed(1)} s; the 10-minute drift schedule ${(600 / r.speed).toFixed(0)} s) · wall ${sec(r.wallMs)}, CPU ${sec(r.cpuMs)}</p>
<div class="kpis">
${r.versions.map((v) => (v.tags['demo.ghosteam.io/broken'] ? `<div class="kpi">v${v.version}<b class="bad">broken</b><small>rolled back</small></div>` : `<div class="kpi">v${v.version} ROC AUC<b>${fmt(v.metrics.rocAuc, 3)}</b><small>trained: ${e(v.lineage.reason ?? '')}</small></div>`)).join('')}
<div class="kpi">requests<b>${r.traffic.reduce((a, p) => a + Object.values(p.ok).reduce((x, y) => x + y, 0) + Object.values(p.errors).reduce((x, y) => x + y, 0), 0).toLocaleString('en')}</b><small>${r.rate}/s over HTTP</small></div>
<div class="kpi">drift checks<b>${r.driftChecks.length}</b><small>${r.driftChecks.filter((c) => c.datasetDrift).length} found drift</small></div>
</div>
<ul class="checks">${r.checks.map((c) => `<li>${c.ok ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>'} ${e(c.name)} <small>${e(c.detail)}</small></li>`).join('')}</ul>

<h2>Canary rollouts</h2>
${trafficChartSvg(r.traffic, markers)}
${rollouts}

<h2>Drift</h2>
${driftSeriesSvg(r.driftSeries, 0.3, checkMarks, [tStart, tEnd])}
${table(['check slot (demo clock)', 'seen at', 'rows in window', 'verdict', 'drifted features'], driftRows)}
<h3>Reference period vs drifted-period traffic <small>(components/drift charts)</small></h3>
<div class="grid">${r.driftCharts.map((c) => featureChartSvg(c, 580, 220)).join('')}</div>
${lastDrift ? `<h3>Per-feature results of the check that triggered retraining</h3>${table(['feature', 'test', 'statistic', 'p-value', 'threshold', 'verdict'], featureRows)}` : ''}

<h2>Quality from late labels, and alerts</h2>
<p>Labels reach <code>POST /v2/models/{name}/feedback</code> after the answers; the model server joins them to its
answers by request id. The operator evaluates the model's alert rules (<code>Alerts.of</code>: the same rules a
<code>PrometheusRule</code> carries to Prometheus) over the server's series and sends what fires or resolves to its log,
a webhook (Alertmanager's payload) and this report.</p>
${
  r.quality
    ? table(
        ['version', 'labelled answers', ...Object.keys(r.quality.metrics ?? {})],
        [[`v${r.quality.version}`, String(r.quality.samples ?? 0), ...Object.values(r.quality.metrics ?? {}).map((v) => fmt(v, 3))]],
      )
    : ''
}
${table(
  ['wall', 'demo clock', 'alert', 'state', 'version', 'value', 'summary'],
  r.alerts.map((a) => [
    sec(a.t),
    e(a.demoTime.slice(11, 19)),
    e(a.alert),
    a.state === 'resolved' ? 'resolved' : '<span class="bad">firing</span>',
    e(a.labels.version ?? ''),
    fmt(a.value, 3),
    e(a.annotations.summary ?? ''),
  ]),
)}

<h2>Training metrics per version</h2>
${table(['version', 'reason', 'run', 'ROC AUC', 'F1', 'log loss', 'ECE', 'positive rate', 'train rows', 'model', 'notes'], versionsRows)}

<h2>Timeline</h2>
${table(
  ['wall', 'demo clock', 'step', 'what happened'],
  r.timeline.map((x) => [sec(x.t - t0), e(new Date(x.demoT).toISOString().slice(11, 19)), e(x.step), e(x.text.replace(/\u001b\[[0-9;]*m/g, ''))]),
)}

<h2>Git: the demo repository <small>${e(r.repo)}</small></h2>
${table(
  ['commit', 'author', 'subject', 'trailers'],
  r.gitLog.map((g) => [`<code>${e(g.hash)}</code>`, e(g.author), e(g.subject), e(g.trailers)]),
)}
<h3>ghosteam plan ${e(r.firstCommit.slice(0, 7))}..HEAD</h3>
<pre>${e(r.plan.replace(/\u001b\[[0-9;]*m/g, ''))}</pre>
</body></html>
`;
}
