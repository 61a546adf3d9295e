/**
 * The local evaluator of ghosteam's alert rules (api/alert-rules.ts): the same conditions Prometheus
 * evaluates from the PrometheusRule, evaluated over the local model server's series, with Prometheus'
 * semantics where they decide the outcome — rate() extrapolated as Prometheus does over its window
 * ([t - w, t] as in Prometheus 2.x, Debian's; 3.x leaves the start out), histogram_quantile's interpolation, an alert pending until its condition has held `for`,
 * then firing, then resolved — so the same series fire the same alerts in both (tested side by side
 * with promtool in test/controllers/alerts-local.test.ts). Pure: the caller scrapes and notifies.
 */
import { ALERT_CONDITIONS_ANNOTATION, promql, renderAnnotation, type AlertCondition, type AlertRule } from '../../api/alert-rules.ts';
import { parseDuration } from '../../api/names.ts';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The series at one time (ms). */
export interface Scrape {
  readonly t: number;
  readonly samples: readonly Sample[];
}

/** One active (pending or firing) alert, or a resolved one. */
export interface LocalAlert {
  readonly alert: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly value: number;
  readonly state: 'pending' | 'firing' | 'resolved';
  /** When the condition began to hold (ms). */
  readonly activeAt: number;
  readonly firedAt?: number;
  readonly resolvedAt?: number;
}

export type AlertsState = ReadonlyMap<string, LocalAlert>;

export interface AlertsPlan {
  readonly state: AlertsState;
  /** Alerts that began firing or were resolved at this evaluation (what notifications carry). */
  readonly changes: readonly LocalAlert[];
}

/** Prometheus' lookback for an instant vector: a series without a sample in the last 5 minutes is gone. */
const LOOKBACK_MS = 5 * 60_000;

/** The rules a PrometheusRule object carries, checked: every rule's expression must still render from its condition. */
export function rulesFromPrometheusRule(obj: {
  readonly metadata: { readonly name: string; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec?: unknown;
}): AlertRule[] {
  const where = `PrometheusRule ${obj.metadata.name}`;
  const raw = obj.metadata.annotations?.[ALERT_CONDITIONS_ANNOTATION];
  if (!raw) throw new Error(`${where}: no ${ALERT_CONDITIONS_ANNOTATION} annotation; the local evaluator runs the rules Alerts.of synthesizes`);
  let conditions: Array<{ alert: string; condition: AlertCondition }>;
  try {
    conditions = JSON.parse(raw) as typeof conditions;
  } catch (e) {
    throw new Error(`${where}: annotation ${ALERT_CONDITIONS_ANNOTATION} is not JSON (${(e as Error).message}); synthesize it again`);
  }
  const groups = (obj.spec as { groups?: Array<{ rules?: Array<Record<string, unknown>> }> } | undefined)?.groups ?? [];
  const out: AlertRule[] = [];
  groups.forEach((g, gi) =>
    (g.rules ?? []).forEach((r, ri) => {
      const at = `${where}: spec.groups[${gi}].rules[${ri}] (${String(r.alert)})`;
      const c = conditions.find((x) => x.alert === r.alert);
      if (!c) throw new Error(`${at} has no condition in ${ALERT_CONDITIONS_ANNOTATION}; it was added by hand, and only Prometheus can evaluate it`);
      const labels = (r.labels ?? {}) as Record<string, string>;
      const rule: AlertRule = {
        alert: String(r.alert),
        model: labels.model ?? '',
        condition: c.condition,
        for: String(r.for ?? '0s'),
        labels,
        annotations: (r.annotations ?? {}) as Record<string, string>,
      };
      if (promql(rule) !== r.expr)
        throw new Error(
          `${at}: expr '${String(r.expr)}' is not the one its condition renders ('${promql(rule)}'); it was edited by hand: change Alerts.of instead`,
        );
      out.push(rule);
    }),
  );
  return out;
}

function key(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function matches(s: Sample, name: string, model: string, match: Readonly<Record<string, string>> = {}): boolean {
  return s.name === name && s.labels.model === model && Object.entries(match).every(([k, v]) => s.labels[k] === v);
}

function withoutName(labels: Readonly<Record<string, string>>): Record<string, string> {
  const { __name__: _, ...rest } = labels;
  return rest;
}

/** The latest sample of every series of `name` within the lookback. */
function instant(history: readonly Scrape[], now: number, name: string, model: string, match?: Readonly<Record<string, string>>): Sample[] {
  const latest = new Map<string, Sample>();
  for (const s of history) {
    if (s.t > now || s.t <= now - LOOKBACK_MS) continue;
    for (const x of s.samples) if (matches(x, name, model, match)) latest.set(key(x.labels), x);
  }
  return [...latest.values()];
}

/** rate() of every series of `name` over [now - windowMs, now], extrapolated as Prometheus' extrapolatedRate does. */
function rates(
  history: readonly Scrape[],
  now: number,
  windowMs: number,
  name: string,
  model: string,
): Array<{ labels: Record<string, string>; value: number }> {
  const points = new Map<string, { labels: Readonly<Record<string, string>>; pts: Array<[number, number]> }>();
  for (const s of history) {
    if (s.t > now || s.t < now - windowMs) continue;
    for (const x of s.samples) {
      if (!matches(x, name, model)) continue;
      const k = key(x.labels);
      const e = points.get(k) ?? { labels: x.labels, pts: [] };
      e.pts.push([s.t, x.value]);
      points.set(k, e);
    }
  }
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const { labels, pts } of points.values()) {
    if (pts.length < 2) continue;
    pts.sort((a, b) => a[0] - b[0]);
    const [t0, v0] = pts[0];
    const [t1, v1] = pts[pts.length - 1];
    let result = v1 - v0;
    for (let i = 1; i < pts.length; i++) if (pts[i][1] < pts[i - 1][1]) result += pts[i - 1][1];
    const rangeStart = now - windowMs;
    let toStart = (t0 - rangeStart) / 1000;
    const toEnd = (now - t1) / 1000;
    const sampled = (t1 - t0) / 1000;
    const avg = sampled / (pts.length - 1);
    if (result > 0 && v0 >= 0) toStart = Math.min(toStart, sampled * (v0 / result));
    const threshold = avg * 1.1;
    let interval = sampled;
    interval += toStart < threshold ? toStart : avg / 2;
    interval += toEnd < threshold ? toEnd : avg / 2;
    out.push({ labels: withoutName(labels), value: (result * (interval / sampled)) / (windowMs / 1000) });
  }
  return out;
}

function sumBy(
  xs: Array<{ labels: Record<string, string>; value: number }>,
  by: readonly string[],
): Map<string, { labels: Record<string, string>; value: number }> {
  const out = new Map<string, { labels: Record<string, string>; value: number }>();
  for (const x of xs) {
    const labels: Record<string, string> = {};
    for (const b of by) if (x.labels[b] !== undefined) labels[b] = x.labels[b];
    const k = key(labels);
    const e = out.get(k);
    if (e) e.value += x.value;
    else out.set(k, { labels, value: x.value });
  }
  return out;
}

/** Prometheus' histogram_quantile over cumulative buckets (upper bound, count). */
export function histogramQuantile(q: number, buckets: Array<[number, number]>): number {
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const b = [...buckets].sort((x, y) => x[0] - y[0]);
  if (b.length < 2 || b[b.length - 1][0] !== Infinity) return NaN;
  for (let i = 1; i < b.length; i++) if (b[i][1] < b[i - 1][1]) b[i] = [b[i][0], b[i - 1][1]];
  const total = b[b.length - 1][1];
  if (!(total > 0)) return NaN;
  let rank = q * total;
  let i = b.findIndex(([, c]) => c >= rank);
  if (i < 0) i = b.length - 1;
  if (i === b.length - 1) return b[b.length - 2][0];
  if (i === 0 && b[0][0] <= 0) return b[0][0];
  let start = 0;
  const end = b[i][0];
  let count = b[i][1];
  if (i > 0) {
    start = b[i - 1][0];
    count -= b[i - 1][1];
    rank -= b[i - 1][1];
  }
  return start + (end - start) * (rank / count);
}

/** The series (labels, value) where the rule's condition holds at `now`. */
export function evaluateCondition(rule: AlertRule, history: readonly Scrape[], now: number): Array<{ labels: Record<string, string>; value: number }> {
  const c = rule.condition;
  const cmp = (v: number, op: '<' | '>', t: number) => (op === '<' ? v < t : v > t);
  if (c.kind === 'gauge') {
    const guarded = c.guard
      ? new Set(
          instant(history, now, c.guard.metric, rule.model)
            .filter((g) => g.value >= c.guard!.min)
            .map((g) => key({ model: g.labels.model, version: g.labels.version ?? '' })),
        )
      : undefined;
    return instant(history, now, c.metric, rule.model, c.match)
      .filter((s) => cmp(s.value, c.op, c.threshold))
      .filter((s) => !guarded || guarded.has(key({ model: s.labels.model, version: s.labels.version ?? '' })))
      .map((s) => ({ labels: withoutName(s.labels), value: s.value }));
  }
  const windowMs = parseDuration(c.window) * 1000;
  if (c.kind === 'ratio') {
    const num = sumBy(rates(history, now, windowMs, c.numerator, rule.model), ['model', 'version']);
    const den = sumBy(rates(history, now, windowMs, c.denominator, rule.model), ['model', 'version']);
    const out: Array<{ labels: Record<string, string>; value: number }> = [];
    for (const [k, n] of num) {
      const d = den.get(k);
      if (!d) continue;
      const v = n.value / d.value;
      if (v > c.threshold) out.push({ labels: n.labels, value: v });
    }
    return out;
  }
  // quantile: from the histogram's buckets when the source has them, else from a summary-style
  // sample `histogram{quantile="q"}` (the local model server reports its p99 over its own recent window).
  const buckets = sumBy(rates(history, now, windowMs, `${c.histogram}_bucket`, rule.model), ['model', 'version', 'le']);
  const byVersion = new Map<string, { labels: Record<string, string>; buckets: Array<[number, number]> }>();
  for (const b of buckets.values()) {
    const labels = { model: b.labels.model, version: b.labels.version };
    const k = key(labels);
    const e = byVersion.get(k) ?? { labels, buckets: [] as Array<[number, number]> };
    e.buckets.push([b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), b.value]);
    byVersion.set(k, e);
  }
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  if (byVersion.size > 0) {
    for (const { labels, buckets: bs } of byVersion.values()) {
      const v = histogramQuantile(c.quantile, bs);
      if (v > c.threshold) out.push({ labels, value: v });
    }
    return out;
  }
  for (const s of instant(history, now, c.histogram, rule.model, { quantile: String(c.quantile) })) {
    const { quantile: _, ...labels } = withoutName(s.labels);
    if (s.value > c.threshold) out.push({ labels, value: s.value });
  }
  return out;
}

/**
 * One evaluation of every rule: new alerts are pending, pending ones fire once their condition has
 * held `for`, alerts whose condition no longer holds are resolved (firing) or dropped (pending).
 */
export function planAlerts(rules: readonly AlertRule[], history: readonly Scrape[], state: AlertsState, now: number): AlertsPlan {
  const next = new Map<string, LocalAlert>();
  const changes: LocalAlert[] = [];
  for (const rule of rules) {
    const forMs = parseDuration(rule.for) * 1000;
    for (const { labels: seriesLabels, value } of evaluateCondition(rule, history, now)) {
      const labels = { ...seriesLabels, ...rule.labels, alertname: rule.alert };
      const k = key(labels);
      const before = state.get(k);
      const activeAt = before && before.state !== 'resolved' ? before.activeAt : now;
      const annotations: Record<string, string> = {};
      for (const [name, t] of Object.entries(rule.annotations)) annotations[name] = renderAnnotation(t, labels, value);
      const firing = now - activeAt >= forMs;
      const alert: LocalAlert = {
        alert: rule.alert,
        labels,
        annotations,
        value,
        state: firing ? 'firing' : 'pending',
        activeAt,
        ...(firing ? { firedAt: before?.firedAt ?? now } : {}),
      };
      if (firing && before?.state !== 'firing') changes.push(alert);
      next.set(k, alert);
    }
  }
  for (const [k, a] of state)
    if (!next.has(k) && a.state === 'firing') {
      const resolved: LocalAlert = { ...a, state: 'resolved', resolvedAt: now };
      changes.push(resolved);
    }
  return { state: next, changes };
}
