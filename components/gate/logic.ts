/**
 * Pure gate logic: thresholds on metrics decide whether a model may be registered.
 * A gate is `{ metric: rule }` where a rule is '>= 0.8', '<= 0.4', '> x', '< x', '== x', or a bare
 * number (read as '>= number'): { "rocAuc": ">= 0.85", "logLoss": "<= 0.45" }.
 */
export type Gate = Readonly<Record<string, string | number>>;

export interface GateCheck {
  readonly metric: string;
  readonly op: '>=' | '<=' | '>' | '<' | '==';
  readonly threshold: number;
  readonly value: number | null;
  readonly passed: boolean;
}

export interface GateResult {
  readonly passed: boolean;
  readonly checks: readonly GateCheck[];
  /** One line per failed check, e.g. "rocAuc 0.71 < 0.8 required". */
  readonly reasons: readonly string[];
}

const RULE = /^\s*(>=|<=|>|<|==)?\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

export function parseRule(metric: string, rule: string | number): { op: GateCheck['op']; threshold: number } {
  if (typeof rule === 'number') return { op: '>=', threshold: rule };
  const m = RULE.exec(rule);
  if (!m) throw new Error(`gate: rule for '${metric}' is '${rule}'; write '>= 0.8', '<= 0.4' (or a bare number for >=)`);
  return { op: (m[1] ?? '>=') as GateCheck['op'], threshold: Number(m[2]) };
}

export function checkGate(metrics: Readonly<Record<string, number>>, gate: Gate): GateResult {
  const checks: GateCheck[] = Object.entries(gate).map(([metric, rule]) => {
    const { op, threshold } = parseRule(metric, rule);
    if (!(metric in metrics)) throw new Error(`gate: unknown metric '${metric}'; the metrics are ${Object.keys(metrics).join(', ')}`);
    const v = metrics[metric];
    const value = typeof v === 'number' && Number.isFinite(v) ? v : null;
    const passed =
      value !== null &&
      (op === '>='
        ? value >= threshold
        : op === '<='
          ? value <= threshold
          : op === '>'
            ? value > threshold
            : op === '<'
              ? value < threshold
              : value === threshold);
    return { metric, op, threshold, value, passed };
  });
  const reasons = checks
    .filter((c) => !c.passed)
    .map((c) => `${c.metric} is ${c.value === null ? 'undefined' : +c.value.toFixed(6)}; required ${c.op} ${c.threshold}`);
  return { passed: reasons.length === 0, checks, reasons };
}
