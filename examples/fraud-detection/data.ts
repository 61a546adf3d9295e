/**
 * A seeded synthetic card-fraud dataset for the example and the demo: a reference period, and a
 * later period whose feature distributions shift (higher amounts, more night-time and foreign
 * transactions, a new merchant mix). Labels come from a fixed logistic ground truth, so a model
 * trained on the reference period is measurably worse on the drifted one and a retrain helps.
 * Pure (but for `ensureExampleData`): the same seed gives byte-identical CSV.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** mulberry32: a small, fast, well-distributed 32-bit PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** The numeric features, in the order the model's input tensor uses. */
export const FEATURES = [
  'amount_log',
  'hour_sin',
  'hour_cos',
  'account_age_days_log',
  'tx_count_24h',
  'avg_amount_7d_log',
  'amount_to_avg_ratio',
  'distance_from_home_km_log',
  'is_foreign',
  'is_online',
  'card_present',
  'merchant_risk',
  'device_trust',
  'failed_logins_24h',
  'velocity_1h',
  'chargebacks_90d',
] as const;

export type Period = 'reference' | 'drifted';

export interface FraudRow {
  readonly values: number[];
  readonly label: 0 | 1;
}

/** Ground-truth log-odds: fraud rises with amount ratio, night hours, foreign/online, risk and velocity. */
function logit(v: number[]): number {
  const [amountLog, hourSin, , ageLog, tx24, , ratio, distLog, foreign, online, present, risk, trust, failed, vel1h, cb] = v;
  return (
    -4.2 +
    0.35 * (amountLog - 4) +
    0.9 * Math.max(0, ratio - 1.5) -
    0.6 * hourSin +
    -0.25 * (ageLog - 5) +
    0.08 * tx24 +
    0.25 * (distLog - 2) +
    0.9 * foreign +
    0.5 * online -
    0.4 * present +
    2.2 * risk -
    1.6 * trust +
    0.45 * failed +
    0.35 * vel1h +
    0.7 * cb
  );
}

export function generate(period: Period, rows: number, seed: number): FraudRow[] {
  const r = rng(seed);
  const drift = period === 'drifted';
  const out: FraudRow[] = [];
  for (let i = 0; i < rows; i++) {
    const hour = drift ? (r() < 0.45 ? 22 + r() * 6 : r() * 24) % 24 : (8 + normal(r) * 4 + 24) % 24;
    const avg = Math.exp(3.6 + normal(r) * 0.7);
    const amount = avg * Math.exp(normal(r) * 0.6 + (drift ? 0.15 : 0));
    const foreign = r() < (drift ? 0.12 : 0.08) ? 1 : 0;
    const online = r() < (drift ? 0.7 : 0.45) ? 1 : 0;
    const present = online ? 0 : r() < 0.9 ? 1 : 0;
    const v = [
      Math.log1p(amount),
      Math.sin((2 * Math.PI * hour) / 24),
      Math.cos((2 * Math.PI * hour) / 24),
      Math.log1p(Math.exp(5 + normal(r) * 1.2)),
      Math.min(40, Math.floor(Math.exp(1 + normal(r) * 0.7 + (drift ? 0.5 : 0)))),
      Math.log1p(avg),
      amount / avg,
      Math.log1p(Math.exp(2 + normal(r) * 1.1 + foreign * 2)),
      foreign,
      online,
      present,
      Math.min(1, Math.max(0, (drift ? 0.22 : 0.2) + normal(r) * 0.15)),
      Math.min(1, Math.max(0, (drift ? 0.68 : 0.7) + normal(r) * 0.2)),
      Math.min(10, Math.floor(-Math.log(Math.max(r(), 1e-9)) * (drift ? 0.36 : 0.3))),
      Math.min(20, Math.floor(-Math.log(Math.max(r(), 1e-9)) * (drift ? 1.5 : 1.2))),
      r() < (drift ? 0.045 : 0.03) ? 1 : 0,
    ].map((x) => Math.round(x * 1e6) / 1e6);
    const p = 1 / (1 + Math.exp(-logit(v)));
    out.push({ values: v, label: r() < p ? 1 : 0 });
  }
  return out;
}

/** The example's labelled data: rows per period and seed (what `npm run demo` also uses by default). */
export const EXAMPLE_ROWS = 20_000;
export const EXAMPLE_SEED = 1;
/** Where the example app reads its data, relative to the directory `ghosteam run` starts in. */
export const REFERENCE_CSV = 'data/fraud/reference.csv';
export const RECENT_CSV = 'data/fraud/recent.csv';

/**
 * Writes the example's seeded data (reference and recent periods) under `root` when it is missing,
 * so `npx ghosteam run examples/fraud-detection/app.ts` works on a fresh clone. Existing files are
 * left alone (the demo writes its own). Returns the files it wrote.
 */
export function ensureExampleData(root: string, rows = EXAMPLE_ROWS, seed = EXAMPLE_SEED): string[] {
  const wrote: string[] = [];
  for (const [rel, period, s] of [
    [REFERENCE_CSV, 'reference', seed],
    [RECENT_CSV, 'drifted', seed + 1],
  ] as const) {
    const path = join(root, rel);
    if (existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    // Written whole under a temporary name, then renamed: a concurrent reader never sees half a file.
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, toCsv(generate(period, rows, s)));
    renameSync(tmp, path);
    wrote.push(path);
  }
  return wrote;
}

export function toCsv(rows: readonly FraudRow[]): string {
  const lines = [[...FEATURES, 'is_fraud'].join(',')];
  for (const row of rows) lines.push([...row.values, row.label].join(','));
  return lines.join('\n') + '\n';
}
