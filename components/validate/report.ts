/**
 * The data report: one self-contained HTML page per validation (inline CSS and SVG, no scripts,
 * no external resources; it opens offline from a file or an artifact store). It shows the
 * verdict, each failed expectation and schema check with its counts and sample failing values or
 * rows, and the profile of every column (missing share, distinct count, range, quantiles, top
 * values, histogram).
 */
import type { Cell } from '../dataset/index.ts';
import type { SuiteResult } from './expectations.ts';
import type { ColumnProfile, DataProfile } from './profile.ts';

export interface DataReportInput {
  readonly title: string;
  /** What was validated (a path, a URI or an artifact name). */
  readonly source: string;
  readonly passed: boolean;
  readonly profile: DataProfile;
  readonly expectations?: SuiteResult;
  readonly schema?: {
    readonly failingRows: number;
    readonly failureRate: number;
    readonly maxFailureRate: number;
    readonly violations: readonly {
      readonly column?: string;
      readonly check: string;
      readonly count: number;
      readonly rows: readonly number[];
      readonly message: string;
    }[];
  };
  /** The first failing rows whole (1-based row numbers). */
  readonly failingRows?: readonly { readonly row: number; readonly values: Readonly<Record<string, Cell>> }[];
  /** When it ran (left out when absent, so equal inputs give equal bytes). */
  readonly generatedAt?: string;
}

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function num(x: unknown): string {
  if (typeof x !== 'number') return x === undefined || x === null ? '—' : esc(x);
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  return Math.abs(x) >= 1e6 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(4) : String(Number(x.toPrecision(6)));
}
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

function histogramSvg(h: NonNullable<ColumnProfile['histogram']>): string {
  const w = 240;
  const ht = 60;
  const max = Math.max(1, ...h.map((b) => b.count));
  const bw = w / h.length;
  const bars = h
    .map(
      (b, i) =>
        `<rect x="${(i * bw).toFixed(2)}" y="${(ht - (b.count / max) * ht).toFixed(2)}" width="${Math.max(bw - 1, 0.5).toFixed(2)}" height="${((b.count / max) * ht).toFixed(2)}"><title>[${num(b.lo)}, ${num(b.hi)}): ${num(b.count)}</title></rect>`,
    )
    .join('');
  return `<svg class="hist" width="${w}" height="${ht}" viewBox="0 0 ${w} ${ht}" role="img" aria-label="histogram">${bars}</svg>`;
}

function columnCard(c: ColumnProfile): string {
  const rows: [string, string][] = [
    ['type', esc(c.type)],
    ['missing', `${num(c.missing)} (${pct(c.missingShare)})`],
    ['distinct', `${c.distinctExact ? '' : '≈'}${num(c.distinct)}${c.distinctExact ? '' : ' (HyperLogLog, ±2.5%)'}`],
  ];
  if (c.min !== undefined) rows.push(['min / max', `${num(c.min)} / ${num(c.max)}`]);
  if (c.mean !== undefined) rows.push(['mean / std', `${num(c.mean)} / ${num(c.std)}`]);
  if (c.length) rows.push(['length min / mean / max', `${num(c.length.min)} / ${num(c.length.mean)} / ${num(c.length.max)}`]);
  if (c.quantiles)
    rows.push([`quantiles${c.quantilesExact ? '' : ' (sampled)'}`, c.quantiles.map((q) => `p${Math.round(q.q * 100)} ${num(q.value)}`).join(' · ')]);
  const top = c.top.length
    ? `<table class="top"><tr><th>top value${c.topValuesExact ? '' : ' (partial)'}</th><th>rows</th></tr>${c.top
        .map((t) => `<tr><td>${esc(t.value)}</td><td class="n">${num(t.count)}</td></tr>`)
        .join('')}</table>`
    : '';
  return `<section class="col"><h3>${esc(c.name)}</h3><table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>${c.histogram ? histogramSvg(c.histogram) : ''}${top}</section>`;
}

function valueList(xs: readonly unknown[] | undefined): string {
  if (!xs || xs.length === 0) return '';
  return xs.map((x) => `<code>${esc(JSON.stringify(x))}</code>`).join(' ');
}

export function renderDataReport(r: DataReportInput): string {
  const failed = r.expectations?.results.filter((x) => !x.success) ?? [];
  const passedExp = r.expectations?.results.filter((x) => x.success) ?? [];
  const expSection = r.expectations
    ? `<h2>Expectations: ${r.expectations.statistics.successful_expectations} of ${r.expectations.statistics.evaluated_expectations} met</h2>
${
  failed.length
    ? `<table class="list"><tr><th>failed expectation</th><th>column(s)</th><th>unexpected</th><th>message</th><th>sample unexpected values (rows, 1-based)</th></tr>${failed
        .map((x) => {
          const k = x.expectation_config.kwargs;
          const cols = k.column ?? k.column_list ?? (k.column_A ? `${String(k.column_A)}, ${String(k.column_B)}` : '');
          const res = x.result;
          const count =
            res.unexpected_count !== undefined
              ? `${num(res.unexpected_count)} of ${num((res.element_count ?? 0) - (res.missing_count ?? 0))}${res.missing_count ? ' non-missing' : ''}${res.unexpected_percent != null ? ` (${res.unexpected_percent.toFixed(2)}%)` : ''}`
              : `observed ${esc(JSON.stringify(res.observed_value ?? null))}`;
          const rows = res.partial_unexpected_index_list?.length
            ? ` <span class="rows">rows ${res.partial_unexpected_index_list.map((i) => i + 1).join(', ')}</span>`
            : '';
          return `<tr class="bad"><td><code>${esc(x.expectation_config.type)}</code></td><td>${esc(cols)}</td><td>${count}</td><td>${esc(x.message)}</td><td>${valueList(res.partial_unexpected_list)}${rows}</td></tr>`;
        })
        .join('')}</table>`
    : '<p class="ok">Every expectation was met.</p>'
}
${passedExp.length ? `<details><summary>${passedExp.length} met</summary><ul>${passedExp.map((x) => `<li><code>${esc(x.expectation_config.type)}</code> ${esc(JSON.stringify(x.expectation_config.kwargs))}</li>`).join('')}</ul></details>` : ''}`
    : '';
  const schemaSection = r.schema
    ? `<h2>Schema checks: ${num(r.schema.failingRows)} failing rows (${pct(r.schema.failureRate)}, allowed ${pct(r.schema.maxFailureRate)})</h2>
${
  r.schema.violations.length
    ? `<table class="list"><tr><th>check</th><th>column</th><th>rows</th><th>message</th><th>example rows</th></tr>${r.schema.violations
        .map(
          (v) =>
            `<tr class="bad"><td>${esc(v.check)}</td><td>${esc(v.column ?? '')}</td><td class="n">${num(v.count)}</td><td>${esc(v.message)}</td><td>${v.rows.slice(0, 10).join(', ')}</td></tr>`,
        )
        .join('')}</table>`
    : '<p class="ok">No violations.</p>'
}`
    : '';
  const names = r.profile.columns.map((c) => c.name);
  const failingRows =
    r.failingRows && r.failingRows.length
      ? `<h2>Sample failing rows</h2><div class="scroll"><table class="list"><tr><th>row</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr>${r.failingRows
          .map((f) => `<tr><td class="n">${f.row}</td>${names.map((n) => `<td>${esc(f.values[n] ?? '∅')}</td>`).join('')}</tr>`)
          .join('')}</table></div>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1d232a;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}h3{font-size:14px;margin:0 0 6px}
.verdict{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;color:#fff}
.pass{background:#2e7d32}.fail{background:#c62828}.ok{color:#2e7d32}
table{border-collapse:collapse}th,td{text-align:left;padding:3px 8px;vertical-align:top;border-bottom:1px solid #e3e6ea}
th{font-weight:600;color:#4a5560}td.n{text-align:right;font-variant-numeric:tabular-nums}
table.list{width:100%;background:#fff}tr.bad td:first-child{border-left:3px solid #c62828}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f4;padding:0 3px;border-radius:3px}
.rows{color:#6b7680;font-size:12px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.col{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:10px}.col table{font-size:12px;width:100%}
.hist{display:block;margin:8px 0}.hist rect{fill:#5c7cfa}.top{margin-top:4px}.scroll{overflow-x:auto}.meta{color:#6b7680}
</style></head><body>
<h1>${esc(r.title)} <span class="verdict ${r.passed ? 'pass">passed' : 'fail">FAILED'}</span></h1>
<p class="meta">${esc(r.source)} · ${num(r.profile.rows)} rows × ${r.profile.columns.length} columns${r.generatedAt ? ` · ${esc(r.generatedAt)}` : ''}</p>
${expSection}
${schemaSection}
${failingRows}
<h2>Profile</h2>
<p class="meta">Computed in the validation pass. Distinct counts are exact up to 10,000 values, then HyperLogLog (±2.5%); quantiles past 8,192 values come from a seeded sample (±1.7% of rank); histograms have exact counts.</p>
<div class="grid">${r.profile.columns.map(columnCard).join('\n')}</div>
</body></html>
`;
}
