/**
 * The drift report: one self-contained HTML file (inline CSS and SVG, no scripts, no network) with the
 * dataset verdict on top and, per feature, the reference and current distributions overlaid plus the
 * test, statistic, p-value or distance, threshold and verdict. The same SVG charts render to PNG.
 */
import type { ColumnDrift, DriftResult } from './types.ts';

const REF_COLOR = '#4C78A8';
const CUR_COLOR = '#F58518';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Compact number formatting for tables and charts. */
export function fmt(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined) return '–';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e6) return x.toExponential(2);
  return Number(x.toPrecision(digits)).toString();
}

function testLabel(c: ColumnDrift): string {
  const names: Record<string, string> = {
    ks: 'Kolmogorov-Smirnov',
    chisquare: 'chi-square',
    wasserstein: 'Wasserstein (normed)',
    psi: 'PSI',
    jensenshannon: 'Jensen-Shannon',
  };
  return c.test ? (names[c.test] ?? c.test) : '–';
}

/** One feature's chart: overlaid reference and current shares, as standalone SVG. */
export function featureChartSvg(c: ColumnDrift, width = 560, height = 240): string {
  const h = c.histogram;
  const pad = { l: 44, r: 12, t: 30, b: 46 };
  const w = width - pad.l - pad.r;
  const ht = height - pad.t - pad.b;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  const verdictColor = c.drifted ? '#C0392B' : '#2E7D32';
  parts.push(`<text x="${pad.l}" y="18" font-size="13" font-weight="bold" fill="#222">${escapeXml(c.name)}</text>`);
  parts.push(`<text x="${width - pad.r}" y="18" font-size="12" text-anchor="end" fill="${verdictColor}">${escapeXml(c.verdict)}</text>`);
  if (!h || h.reference.length === 0) {
    parts.push(
      `<text x="${width / 2}" y="${height / 2}" font-size="12" text-anchor="middle" fill="#666">${escapeXml(c.note ?? 'no data to chart')}</text></svg>`,
    );
    return parts.join('');
  }
  const k = h.reference.length;
  const maxY = Math.max(1e-12, ...h.reference, ...h.current);
  const y = (v: number): number => pad.t + ht - (v / maxY) * ht;
  // axes
  parts.push(`<line x1="${pad.l}" y1="${pad.t + ht}" x2="${pad.l + w}" y2="${pad.t + ht}" stroke="#888"/>`);
  parts.push(`<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + ht}" stroke="#888"/>`);
  for (const f of [0, 0.5, 1]) {
    const yy = y(maxY * f);
    parts.push(`<text x="${pad.l - 4}" y="${yy + 4}" font-size="10" text-anchor="end" fill="#555">${(maxY * f * 100).toFixed(maxY < 0.1 ? 1 : 0)}%</text>`);
    if (f > 0) parts.push(`<line x1="${pad.l}" y1="${yy}" x2="${pad.l + w}" y2="${yy}" stroke="#eee"/>`);
  }
  const bw = w / k;
  if (h.kind === 'numeric') {
    for (const [series, color] of [
      [h.reference, REF_COLOR],
      [h.current, CUR_COLOR],
    ] as const) {
      for (let i = 0; i < k; i++) {
        if (series[i] <= 0) continue;
        parts.push(
          `<rect x="${(pad.l + i * bw).toFixed(2)}" y="${y(series[i]).toFixed(2)}" width="${Math.max(0.5, bw - 0.5).toFixed(2)}" height="${(pad.t + ht - y(series[i])).toFixed(2)}" fill="${color}" fill-opacity="0.5"/>`,
        );
      }
    }
    const e = h.edges!;
    for (const i of [0, Math.floor(k / 2), k]) {
      parts.push(
        `<text x="${(pad.l + i * bw).toFixed(2)}" y="${pad.t + ht + 14}" font-size="10" text-anchor="middle" fill="#555">${escapeXml(fmt(e[i], 3))}</text>`,
      );
    }
  } else {
    const cats = h.categories!;
    for (let i = 0; i < k; i++) {
      const x0 = pad.l + i * bw;
      parts.push(
        `<rect x="${(x0 + bw * 0.1).toFixed(2)}" y="${y(h.reference[i]).toFixed(2)}" width="${(bw * 0.4).toFixed(2)}" height="${(pad.t + ht - y(h.reference[i])).toFixed(2)}" fill="${REF_COLOR}" fill-opacity="0.85"/>`,
      );
      parts.push(
        `<rect x="${(x0 + bw * 0.5).toFixed(2)}" y="${y(h.current[i]).toFixed(2)}" width="${(bw * 0.4).toFixed(2)}" height="${(pad.t + ht - y(h.current[i])).toFixed(2)}" fill="${CUR_COLOR}" fill-opacity="0.85"/>`,
      );
      const label = cats[i].length > 10 ? `${cats[i].slice(0, 9)}…` : cats[i];
      parts.push(`<text x="${(x0 + bw / 2).toFixed(2)}" y="${pad.t + ht + 14}" font-size="10" text-anchor="middle" fill="#555">${escapeXml(label)}</text>`);
    }
  }
  // legend
  const ly = height - 12;
  parts.push(
    `<rect x="${pad.l}" y="${ly - 9}" width="10" height="10" fill="${REF_COLOR}" fill-opacity="0.6"/><text x="${pad.l + 14}" y="${ly}" font-size="11" fill="#333">reference (n=${c.count.reference})</text>`,
  );
  parts.push(
    `<rect x="${pad.l + 170}" y="${ly - 9}" width="10" height="10" fill="${CUR_COLOR}" fill-opacity="0.6"/><text x="${pad.l + 184}" y="${ly}" font-size="11" fill="#333">current (n=${c.count.current})</text>`,
  );
  const stat = c.pValue !== null ? `p=${fmt(c.adjustedPValue ?? c.pValue)}` : `d=${fmt(c.statistic)}`;
  parts.push(
    `<text x="${width - pad.r}" y="${ly}" font-size="11" text-anchor="end" fill="#333">${escapeXml(`${c.test ?? ''} ${stat} (thr ${fmt(c.threshold)})`)}</text>`,
  );
  parts.push('</svg>');
  return parts.join('');
}

export interface ReportMeta {
  readonly title?: string;
  readonly reference?: string;
  readonly current?: string;
  readonly generatedAt?: string;
}

/** The whole report as one HTML string. */
export function renderHtmlReport(result: DriftResult, meta: ReportMeta = {}): string {
  const title = meta.title ?? 'Data drift report';
  const verdict = result.status === 'empty' ? 'No current data' : result.datasetDrift ? 'Dataset drift detected' : 'No dataset drift';
  const vclass = result.status === 'empty' ? 'empty' : result.datasetDrift ? 'drift' : 'ok';
  const rows = result.columns
    .map((c) => {
      const p = c.pValue === null ? '–' : fmt(c.pValue);
      const adj = result.correction !== 'none' ? `<td>${fmt(c.adjustedPValue ?? null)}</td>` : '';
      return `<tr class="${c.drifted ? 'drift' : ''}"><td><a href="#f-${escapeXml(c.name)}">${escapeXml(c.name)}</a></td><td>${c.type}</td><td>${escapeXml(testLabel(c))}</td><td>${fmt(c.statistic)}</td><td>${p}</td>${adj}<td>${fmt(c.threshold)}</td><td class="v ${c.verdict}">${c.verdict}</td><td>${c.missing.reference} / ${c.missing.current}</td></tr>`;
    })
    .join('\n');
  const cards = result.columns
    .map((c) => {
      const details = [
        `<b>test</b> ${escapeXml(testLabel(c))}`,
        `<b>statistic</b> ${fmt(c.statistic)}`,
        c.pValue !== null ? `<b>p-value</b> ${fmt(c.pValue)}` : `<b>distance</b> ${fmt(c.statistic)}`,
        c.adjustedPValue !== undefined ? `<b>adjusted p</b> ${fmt(c.adjustedPValue)}` : '',
        `<b>threshold</b> ${c.pValue !== null ? 'p &lt; ' : 'd &ge; '}${fmt(c.threshold)}`,
        `<b>missing</b> ${c.missing.reference} ref / ${c.missing.current} cur`,
        c.errorBound ? `<b>sketch error</b> ±${fmt(c.errorBound)}` : '',
      ].filter(Boolean);
      const unseen = c.unseen
        ? `<p class="note">Unseen in reference: ${escapeXml(
            Object.entries(c.unseen)
              .slice(0, 10)
              .map(([k, n]) => `${k} (${n})`)
              .join(', '),
          )}</p>`
        : '';
      const note = c.note ? `<p class="note">${escapeXml(c.note)}</p>` : '';
      return `<section class="card" id="f-${escapeXml(c.name)}">${featureChartSvg(c)}<p class="facts">${details.join(' · ')}</p>${unseen}${note}</section>`;
    })
    .join('\n');
  const mv = result.multivariate;
  const mvHtml = mv
    ? `<h2>Multivariate</h2><ul>${mv.mmd ? `<li>MMD (RBF, bandwidth ${fmt(mv.mmd.bandwidth)}): ${fmt(mv.mmd.statistic)}, permutation p = ${fmt(mv.mmd.pValue)} (${mv.mmd.permutations} permutations, ${mv.mmd.sampleSize} rows each) — ${mv.mmd.drifted ? 'drift' : 'no drift'}</li>` : ''}${mv.pca ? `<li>PCA reconstruction error (${mv.pca.components} components): reference ${fmt(mv.pca.referenceError)}, current ${fmt(mv.pca.currentError)}, ratio ${fmt(mv.pca.ratio)}, KS p = ${fmt(mv.pca.ks.pValue)} — ${mv.pca.drifted ? 'drift' : 'no drift'}</li>` : ''}</ul>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px;color:#222;max-width:1240px}
h1{margin:0 0 8px;font-size:22px}.sub{color:#666;font-size:13px;margin-bottom:16px}
.summary{display:flex;gap:16px;flex-wrap:wrap;margin-bottom:20px}
.tile{border:1px solid #ddd;border-radius:8px;padding:10px 16px;min-width:140px}.tile .n{font-size:22px;font-weight:600}.tile .l{font-size:12px;color:#666}
.verdict.drift{background:#fdecea;border-color:#e57373}.verdict.ok{background:#edf7ed;border-color:#81c784}.verdict.empty{background:#f5f5f5}
table{border-collapse:collapse;font-size:13px;margin-bottom:24px;width:100%}th,td{border-bottom:1px solid #eee;padding:5px 8px;text-align:left}th{background:#fafafa}
tr.drift td{background:#fff5f5}.v.drift{color:#c0392b;font-weight:600}.v.no-drift,.v.constant{color:#2e7d32}.v.empty{color:#888}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:16px}
.card svg{width:100%;height:auto;display:block}
.card{border:1px solid #e3e3e3;border-radius:8px;padding:8px}.facts{font-size:12px;color:#333;margin:4px 6px}.note{font-size:12px;color:#8a6d3b;margin:4px 6px}
</style></head><body>
<h1>${escapeXml(title)}</h1>
<div class="sub">${meta.reference ? `reference <code>${escapeXml(meta.reference)}</code> · ` : ''}${meta.current ? `current <code>${escapeXml(meta.current)}</code> · ` : ''}generated ${escapeXml(meta.generatedAt ?? new Date().toISOString())}</div>
<div class="summary">
<div class="tile verdict ${vclass}"><div class="n">${verdict}</div><div class="l">drifted share ${fmt(result.driftShare)} vs threshold ${fmt(result.driftShareThreshold)}</div></div>
<div class="tile"><div class="n">${result.driftedColumns} / ${result.testedColumns}</div><div class="l">columns drifted</div></div>
<div class="tile"><div class="n">${result.rows.reference.toLocaleString('en-US')}</div><div class="l">reference rows</div></div>
<div class="tile"><div class="n">${result.rows.current.toLocaleString('en-US')}</div><div class="l">current rows</div></div>
<div class="tile"><div class="n">${result.correction}</div><div class="l">multiple-testing correction</div></div>
</div>
<table><thead><tr><th>feature</th><th>type</th><th>test</th><th>statistic</th><th>p-value</th>${result.correction !== 'none' ? '<th>adjusted p</th>' : ''}<th>threshold</th><th>verdict</th><th>missing (ref / cur)</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${mvHtml}
<div class="grid">
${cards}
</div>
</body></html>
`;
}

/** Renders one chart SVG to PNG bytes with resvg (system fonts). */
export async function svgToPng(svg: string): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const r = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } });
  return r.render().asPng();
}
