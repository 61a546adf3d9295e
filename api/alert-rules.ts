/**
 * One definition of an alert rule, two evaluators. `Alerts.of` (charts/alerts.ts) builds these; a rule's
 * PromQL expression is rendered from its condition here (what Prometheus evaluates from the
 * PrometheusRule), and the embedded operator evaluates the same condition over the local model
 * server's series (controllers/planners/alerts.ts). The PrometheusRule carries the conditions in its
 * `ghosteam.io/alert-conditions` annotation, and the local evaluator refuses a rule whose expression no
 * longer renders from its condition (edited by hand), so the two cannot drift apart silently.
 *
 * The conditions are the three shapes ghosteam's rules need, each per (model, version):
 * - `gauge`: a gauge compared with a threshold, guarded by a minimum of another gauge (quality and its
 *   labelled samples; the CBPE estimate and the predictions it covers);
 * - `quantile`: a latency quantile over a rate window from a histogram's buckets;
 * - `ratio`: the ratio of two counters' rates (errors per request).
 */

export const ALERT_CONDITIONS_ANNOTATION = 'ghosteam.io/alert-conditions';

export type AlertCondition =
  | {
      readonly kind: 'gauge';
      readonly metric: string;
      /** Label matchers besides the model's (e.g. metric="accuracy"). */
      readonly match?: Readonly<Record<string, string>>;
      readonly op: '<' | '>';
      readonly threshold: number;
      /** Active only where this gauge of the same (model, version) is at least min. */
      readonly guard?: { readonly metric: string; readonly min: number };
    }
  | { readonly kind: 'quantile'; readonly histogram: string; readonly quantile: number; readonly window: string; readonly threshold: number }
  | { readonly kind: 'ratio'; readonly numerator: string; readonly denominator: string; readonly window: string; readonly threshold: number };

export interface AlertRule {
  readonly alert: string;
  /** The registered model the rule watches (the `model` label of its series). */
  readonly model: string;
  readonly condition: AlertCondition;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** The PromQL expression of a rule's condition, as the PrometheusRule carries it. */
export function promql(rule: Pick<AlertRule, 'model' | 'condition'>): string {
  const c = rule.condition;
  const sel = `model=${JSON.stringify(rule.model)}`;
  switch (c.kind) {
    case 'gauge': {
      const match = Object.entries(c.match ?? {})
        .map(([k, v]) => `,${k}=${JSON.stringify(v)}`)
        .join('');
      const base = `${c.metric}{${sel}${match}} ${c.op} ${c.threshold}`;
      return c.guard ? `${base} and on (model, version) ${c.guard.metric}{${sel}} >= ${c.guard.min}` : base;
    }
    case 'quantile':
      return `histogram_quantile(${c.quantile}, sum by (model, version, le) (rate(${c.histogram}_bucket{${sel}}[${c.window}]))) > ${c.threshold}`;
    case 'ratio':
      return `sum by (model, version) (rate(${c.numerator}{${sel}}[${c.window}])) / sum by (model, version) (rate(${c.denominator}{${sel}}[${c.window}])) > ${c.threshold}`;
  }
}

/** The series names a condition reads. */
export function seriesOf(c: AlertCondition): string[] {
  if (c.kind === 'gauge') return c.guard ? [c.metric, c.guard.metric] : [c.metric];
  if (c.kind === 'quantile') return [`${c.histogram}_bucket`, c.histogram];
  return [c.numerator, c.denominator];
}

/**
 * Prometheus' alert templating for what ghosteam's annotations use: `{{ $labels.NAME }}`, `{{ $value }}`
 * and `{{ $value | humanize }}`, `humanizePercentage`, `humanizeDuration` (the same formatting as
 * Prometheus' template functions, so a local alert reads as Prometheus' does). Anything else is an error
 * naming it, not silently left in.
 */
export function renderAnnotation(template: string, labels: Readonly<Record<string, string>>, value: number): string {
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (whole, inner: string) => {
    const m = /^\$labels\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(inner);
    if (m) return labels[m[1]] ?? '';
    const v = /^\$value(?:\s*\|\s*(humanize|humanizePercentage|humanizeDuration))?$/.exec(inner);
    if (!v)
      throw new Error(`annotation template ${whole}: the local evaluator renders $labels.NAME and $value (| humanize, humanizePercentage, humanizeDuration)`);
    if (v[1] === 'humanizePercentage') return `${g4(value * 100)}%`;
    if (v[1] === 'humanizeDuration') return humanizeDuration(value);
    if (v[1] === 'humanize') return humanize(value);
    return formatGo(value);
  });
}

/** Go's strconv.FormatFloat(v, 'g', -1, 64) as Prometheus prints $value. */
function formatGo(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const s = String(v);
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (v !== 0 && (exp < -4 || exp >= 21)) return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return s;
}

/** Go's fmt "%.4g". */
function g4(v: number): string {
  if (v === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(4)))));
  if (exp < -4 || exp >= 4) {
    const [mant, e] = v.toExponential(3).split('e');
    const sign = e.startsWith('-') ? '-' : '+';
    const digits = e.replace(/^[+-]/, '').padStart(2, '0');
    return `${trimZeros(mant)}e${sign}${digits}`;
  }
  return trimZeros(v.toFixed(Math.max(0, 3 - exp)));
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** Prometheus' humanize: SI prefixes with %.4g. */
function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return formatGo(v);
  const a = Math.abs(v);
  if (a >= 1) {
    const prefixes = ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
    let i = 0;
    let x = v;
    while (Math.abs(x) >= 1000 && i < prefixes.length - 1) {
      x /= 1000;
      i++;
    }
    return `${g4(x)}${prefixes[i]}`;
  }
  const prefixes = ['', 'm', 'u', 'n', 'p', 'f', 'a', 'z', 'y'];
  let i = 0;
  let x = v;
  while (Math.abs(x) < 1 && i < prefixes.length - 1) {
    x *= 1000;
    i++;
  }
  return `${g4(x)}${prefixes[i]}`;
}

/** Prometheus' humanizeDuration. */
function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return formatGo(v);
  if (v === 0) return '0s';
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? '-' : '';
    const a = Math.abs(v);
    const d = Math.floor(a / 86400);
    const h = Math.floor(a / 3600) % 24;
    const m = Math.floor(a / 60) % 60;
    const s = Math.floor(a) % 60;
    const ms = Math.floor(a * 1000) % 1000;
    if (d !== 0) return `${sign}${d}d ${h}h ${m}m ${s}s`;
    if (h !== 0) return `${sign}${h}h ${m}m ${s}s`;
    if (m !== 0) return `${sign}${m}m ${s}s`;
    return `${sign}${g4(s + ms / 1000)}s`;
  }
  const prefixes = ['', 'm', 'u', 'n', 'p', 'f', 'a', 'z', 'y'];
  let i = 0;
  let x = v;
  while (Math.abs(x) < 1 && i < prefixes.length - 1) {
    x *= 1000;
    i++;
  }
  return `${g4(x)}${prefixes[i]}s`;
}
