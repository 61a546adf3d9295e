/**
 * The drift-and-quality and experiments pages, rendered from the API's objects (ui/monitors.ts).
 * Charts are inline SVG built here (no chart library, no script): a reference-vs-current histogram
 * per feature, the drift share of every kept check against its threshold, and the quality metric's
 * history against its threshold.
 */
import type { DriftHistogram, DriftMonitorStatus } from '../api/crds/types.ts';
import { curveMetrics, curveSvg } from '../pipelines/local/experiments.ts';
import { html, Html, layout, modelHref, runHref } from './html.ts';
import type { DriftMonitorResponse, DriftMonitorSummary, ExperimentsResponse } from './monitors.ts';

const enc = encodeURIComponent;
export const driftHref = (ns: string, name: string): string => `/drift/${enc(ns)}/${enc(name)}`;
const num = (x: number | undefined, digits = 4): string => (x === undefined ? '—' : String(Number(x.toPrecision(digits))));
const pct = (x: number | undefined): string => (x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);
const badge = (s: string): Html =>
  html`<span class="badge ${s === 'Drift' || s === 'QualityBreached' || s === 'CheckFailed' ? 'Failed' : s === 'NoDrift' ? 'Ready' : 'Running'}">${s}</span>`;
/** A number as SVG attribute text: finite, two decimals. */
const c = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '0');

/** Reference (blue) vs current (orange) shares per bin or category, side by side. */
export function histogramSvg(h: DriftHistogram, width = 320, height = 120): Html {
  const n = h.reference.length;
  if (!n) return html`<span class="muted">no histogram</span>`;
  const max = Math.max(...h.reference, ...h.current, 1e-9);
  const L = 4;
  const B = 18;
  const slot = (width - 2 * L) / n;
  const bw = Math.max(1, slot / 2 - 1);
  const y = (v: number) => height - B - (v / max) * (height - B - 6);
  const bars: Html[] = [];
  for (let i = 0; i < n; i++) {
    const x = L + i * slot;
    const label = h.kind === 'categorical' ? (h.categories?.[i] ?? '') : `${num(h.edges?.[i], 3)} – ${num(h.edges?.[i + 1], 3)}`;
    bars.push(
      html`<rect x="${c(x)}" y="${c(y(h.reference[i]))}" width="${c(bw)}" height="${c(height - B - y(h.reference[i]))}" fill="#4c78a8"
        ><title>${label}: reference ${pct(h.reference[i])}</title></rect
      >`,
    );
    bars.push(
      html`<rect x="${c(x + bw + 1)}" y="${c(y(h.current[i] ?? 0))}" width="${c(bw)}" height="${c(height - B - y(h.current[i] ?? 0))}" fill="#f58518"
        ><title>${label}: current ${pct(h.current[i])}</title></rect
      >`,
    );
  }
  const left = h.kind === 'categorical' ? (h.categories?.[0] ?? '') : num(h.edges?.[0], 3);
  const right = h.kind === 'categorical' ? (h.categories?.[n - 1] ?? '') : num(h.edges?.[n], 3);
  return html`<svg class="hist" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">
    <line x1="${L}" y1="${height - B}" x2="${width - L}" y2="${height - B}" stroke="#999" />
    ${bars}
    <text x="${L}" y="${height - 4}" font-size="10">${left}</text>
    <text x="${width - L}" y="${height - 4}" font-size="10" text-anchor="end">${right}</text>
  </svg>`;
}

/** A value per check over time, with its threshold as a dashed line (drift share, or a quality metric). */
export function historySvg(
  points: readonly { time: string; value: number; flagged: boolean }[],
  threshold: number | undefined,
  label: string,
  width = 640,
  height = 160,
): Html {
  if (!points.length) return html`<p class="muted">No checks recorded yet.</p>`;
  const L = 48;
  const R = 12;
  const T = 18;
  const B = 22;
  const t = points.map((p) => Date.parse(p.time));
  const [t0, t1] = [Math.min(...t), Math.max(...t)];
  const vals = points.map((p) => p.value).concat(threshold ?? []);
  let [v0, v1] = [Math.min(0, ...vals), Math.max(...vals)];
  if (v1 === v0) v1 = v0 + 1;
  const sx = (x: number) => L + ((x - t0) / (t1 - t0 || 1)) * (width - L - R);
  const sy = (v: number) => height - B - ((v - v0) / (v1 - v0)) * (height - T - B);
  const line = points.map((p, i) => `${c(sx(t[i]))},${c(sy(p.value))}`).join(' ');
  return html`<svg
    class="history"
    xmlns="http://www.w3.org/2000/svg"
    width="${width}"
    height="${height}"
    viewBox="0 0 ${width} ${height}"
    role="img"
    aria-label="${label}"
  >
    <text x="${L}" y="12" font-size="11" font-weight="600">${label}</text>
    <line x1="${L}" y1="${height - B}" x2="${width - R}" y2="${height - B}" stroke="#999" />
    <line x1="${L}" y1="${T}" x2="${L}" y2="${height - B}" stroke="#999" />
    <text x="${L - 4}" y="${c(sy(v1) + 4)}" font-size="10" text-anchor="end">${num(v1, 3)}</text>
    <text x="${L - 4}" y="${c(sy(v0) + 4)}" font-size="10" text-anchor="end">${num(v0, 3)}</text>
    ${threshold !== undefined ? html`<line class="threshold" x1="${L}" x2="${width - R}" y1="${c(sy(threshold))}" y2="${c(sy(threshold))}" stroke="#d62728" stroke-dasharray="4 3"><title>threshold ${num(threshold)}</title></line>` : html``}
    <polyline fill="none" stroke="#4c78a8" stroke-width="2" points="${line}" />
    ${points.map((p, i) => html`<circle cx="${c(sx(t[i]))}" cy="${c(sy(p.value))}" r="3" fill="${p.flagged ? '#d62728' : '#4c78a8'}"><title>${p.time}: ${num(p.value)}</title></circle>`)}
    <text x="${L}" y="${height - 6}" font-size="10">${points[0].time.slice(0, 19).replace('T', ' ')}</text>
    <text x="${width - R}" y="${height - 6}" font-size="10" text-anchor="end">${points[points.length - 1].time.slice(0, 19).replace('T', ' ')}</text>
  </svg>`;
}

/** The DriftMonitors table's rows: the fragment the live script refreshes. */
export function driftRows(monitors: readonly DriftMonitorSummary[]): Html {
  if (!monitors.length)
    return html`<tr>
      <td colspan="7" class="muted">No DriftMonitors. Declare one beside a Model (<code>DriftMonitor</code> in ghosteam/charts) and apply it.</td>
    </tr>`;
  return html`${monitors.map(
    (m) =>
      html`<tr data-monitor="${m.namespace}/${m.name}">
        <td>
          <a href="${driftHref(m.namespace, m.name)}">${m.name}</a>
          <div class="muted">${m.namespace}</div>
        </td>
        <td><a href="${modelHref(m.namespace, m.model)}">${m.model}</a></td>
        <td>
          ${badge(m.state)}
          <div class="muted">${m.message}</div>
        </td>
        <td>
          ${m.driftShare !== undefined ? html`${pct(m.driftShare)} <span class="muted">(${m.driftedFeatures}/${m.features}; threshold ${pct(m.driftShareThreshold)})</span>` : '—'}
        </td>
        <td>
          ${m.qualityMetric ? html`${m.qualityMetric} ${num(m.qualityValue)} <span class="muted">(threshold ${num(m.qualityThreshold)})</span>` : html`<span class="muted">—</span>`}
        </td>
        <td>
          ${m.lastCheckTime ?? '—'}
          <div class="muted">${m.samples !== undefined ? `${m.samples} samples` : ''}</div>
        </td>
        <td>${m.lastTriggeredRun ?? '—'}</td>
      </tr>`,
  )}`;
}

export function driftMonitorsPage(monitors: readonly DriftMonitorSummary[]): string {
  return layout(
    'Drift and quality',
    html`<h1>Drift and quality</h1>
      <table>
        <thead>
          <tr>
            <th>Monitor</th>
            <th>Model</th>
            <th>Last check</th>
            <th>Drift share</th>
            <th>Quality</th>
            <th>Checked</th>
            <th>Last retraining</th>
          </tr>
        </thead>
        <tbody id="live" data-fragment="/fragments/drift">
          ${driftRows(monitors)}
        </tbody>
      </table>`,
    { live: '/fragments/drift' },
  );
}

function historyPoints(st: DriftMonitorStatus): {
  drift: { time: string; value: number; flagged: boolean }[];
  quality: { time: string; value: number; flagged: boolean }[];
} {
  const h = st.history ?? [];
  return {
    drift: h.filter((e) => e.driftShare !== undefined).map((e) => ({ time: e.time, value: e.driftShare!, flagged: e.datasetDrift === true })),
    quality: h.filter((e) => e.quality !== undefined).map((e) => ({ time: e.time, value: e.quality!, flagged: e.qualityBreached === true })),
  };
}

/** The live part of a monitor page: the last check, its per-feature results with histograms, and the histories. */
export function driftMonitorLive(r: DriftMonitorResponse): Html {
  const m = r.monitor;
  const st = r.status;
  const { drift, quality } = historyPoints(st);
  const q = st.quality;
  return html`<dl>
      <dt>Last check</dt>
      <dd>${badge(m.state)} ${m.lastCheckTime ?? 'not yet'} <span class="muted">${m.message}</span></dd>
      <dt>Samples</dt>
      <dd>${m.samples ?? '—'}${st.skippedLines ? html` <span class="muted">(${st.skippedLines} unreadable log lines skipped)</span>` : ''}</dd>
      <dt>Drift share</dt>
      <dd>${pct(m.driftShare)} of ${m.features} features <span class="muted">(dataset drift at ${pct(m.driftShareThreshold)})</span></dd>
      <dt>Quality</dt>
      <dd>
        ${
          q
            ? html`${q.metric} of v${q.version ?? '—'}: ${num(q.value)} over ${q.samples} labelled predictions (threshold
              ${num(q.threshold)})${q.breached ? html` — <b>breached</b> since ${q.breachedSince ?? ''}` : ''}`
            : html`<span class="muted">no quality policy, or no labels yet</span>`
        }
      </dd>
      <dt>Next check</dt>
      <dd>${m.nextCheckTime ?? '—'}</dd>
      <dt>Last retraining</dt>
      <dd>${m.lastTriggeredRun ? html`${m.lastTriggeredRun} <span class="muted">${m.lastTriggeredAt ?? ''}</span>` : '—'}</dd>
    </dl>
    <h2>History</h2>
    ${historySvg(drift, m.driftShareThreshold, 'drift share per check')}
    ${quality.length ? historySvg(quality, q?.threshold, `${q?.metric ?? 'quality'} per check`) : html``}
    <h2>Features</h2>
    <table class="features">
      <thead>
        <tr>
          <th>Feature</th>
          <th>Test</th>
          <th>Statistic</th>
          <th>p-value</th>
          <th>Threshold</th>
          <th>Verdict</th>
          <th>Reference <span style="color:#4c78a8">■</span> vs current <span style="color:#f58518">■</span></th>
        </tr>
      </thead>
      <tbody>
        ${(st.features ?? []).map(
          (f) =>
            html`<tr data-feature="${f.name}">
              <td>${f.name}</td>
              <td>${f.test}</td>
              <td>${num(f.statistic)}</td>
              <td>${num(f.pValue)}</td>
              <td>${num(f.threshold)}</td>
              <td>${f.drifted ? html`<span class="badge Failed">drift</span>` : html`<span class="badge Ready">ok</span>`}</td>
              <td>${f.histogram ? histogramSvg(f.histogram) : html`<span class="muted">—</span>`}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

export function driftMonitorPage(r: DriftMonitorResponse): string {
  const m = r.monitor;
  return layout(
    `${m.name} drift`,
    html`<h1>${m.name} <span class="muted">${m.namespace}</span></h1>
      <p>
        Watches <a href="${modelHref(m.namespace, m.model)}">${m.model}</a>: ${m.features} features, test ${r.spec.test}, window ${r.spec.window.seconds} s (at
        least ${r.spec.window.minSamples} samples), schedule
        <code>${r.spec.schedule}</code
        >${r.spec.action.retrain ? html`, retrains with pipeline <code>${r.spec.action.retrain.pipeline}</code>` : ', report only'}.
      </p>
      <div id="live" data-fragment="/fragments/drift/${enc(m.namespace)}/${enc(m.name)}">${driftMonitorLive(r)}</div>`,
    { live: `/fragments/drift/${enc(m.namespace)}/${enc(m.name)}` },
  );
}

// --- experiments -------------------------------------------------------------------------------

const fmt = (v: number | undefined): string => (v === undefined ? '' : Number.isInteger(v) ? String(v) : v.toPrecision(4));

/** The runs side by side: differing params, then every metric; a checkbox per run feeds the comparison form. */
export function experimentsTable(e: ExperimentsResponse, compare: boolean): Html {
  if (!e.runs.length) return html`<p class="muted">No runs yet. Run a pipeline with <code>ghosteam run</code>.</p>`;
  return html`<form method="get" action="/experiments">
    ${e.metric ? html`<input type="hidden" name="metric" value="${e.metric}" />` : ''}
    <table class="experiments">
      <thead>
        <tr>
          ${compare ? html`` : html`<th></th>`}
          <th>Run</th>
          <th>Status</th>
          ${e.params.map((p) => html`<th>${p}</th>`)}
          ${e.metrics.map((m) => html`<th><a href="?metric=${enc(m)}">${m}</a>${m === e.metric ? (e.direction === 'minimize' ? ' ↑' : ' ↓') : ''}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${e.runs.map(
          (r) =>
            html`<tr data-run="${r.runId}">
              ${compare ? html`` : html`<td><input type="checkbox" name="run" value="${r.runId}" aria-label="compare ${r.runId}" /></td>`}
              <td>
                <a href="${runHref(r.runId)}">${r.runId}</a>
                <div class="muted">${r.experiment} · ${r.startedAt.slice(0, 19).replace('T', ' ')}</div>
              </td>
              <td><span class="badge ${r.status}">${r.status}</span></td>
              ${e.params.map((p) => html`<td>${r.params[p] ?? ''}</td>`)} ${e.metrics.map((m) => html`<td>${fmt(r.metrics[m])}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
    ${compare ? html`` : html`<p><button type="submit">Compare the selected runs</button></p>`}
  </form>`;
}

export function experimentsPage(e: ExperimentsResponse, opts: { experiment?: string; compare: boolean }): string {
  const charts = opts.compare ? curveMetrics(e.runs).map((m) => new Html(`<div class="curve">${curveSvg(m, e.runs)}</div>`)) : [];
  return layout(
    opts.compare ? 'Compared runs' : 'Experiments',
    html`<h1>${opts.compare ? `${e.runs.length} run${e.runs.length === 1 ? '' : 's'} compared` : 'Experiments'}</h1>
      <p>
        ${e.experiments.map((x) => html`<a class="badge${x === opts.experiment ? ' Ready' : ''}" href="/experiments?experiment=${enc(x)}">${x}</a> `)}
        ${opts.experiment || opts.compare ? html`<a href="/experiments">all</a>` : ''}
      </p>
      ${experimentsTable(e, opts.compare)}
      ${
        opts.compare
          ? charts.length
            ? html`<h2>Curves</h2>
                ${charts}`
            : html`<p class="muted">No run reported per-step metrics.</p>`
          : html``
      }`,
  );
}
