// The generated case the Feast oracle test compares on (feast-oracle.test.ts), and the datasets
// ghosteam reads it as. Deterministic in the seed.
import type { FeatureViewSpec } from '../../api/crds/types.ts';
import { datasetFromColumns, type Cell, type ColumnType, type Dataset } from '../../components/dataset/index.ts';
import type { ViewData } from '../../components/features/historical.ts';
import { mulberry32, shuffleInPlace } from '../../components/random.ts';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const STEP = 10 * 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

export interface CaseView {
  name: string;
  entities: FeatureViewSpec['entities'];
  source: FeatureViewSpec['source'];
  ttlSeconds: number;
  features: FeatureViewSpec['features'];
  rows: Record<string, Cell>[];
}

const driver = { name: 'driver', joinKeys: [{ name: 'driver_id', type: 'int64' as const }] };
const customer = { name: 'customer', joinKeys: [{ name: 'customer_id', type: 'string' as const }] };

/** A case: three views, entity rows, the features requested. Deterministic in `seed`. */
export function makeCase(seed: number, entityRows = 500) {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const driverStats: CaseView = {
    name: 'driver_stats',
    entities: [driver],
    source: { kind: 'file', uri: 'driver_stats.parquet', format: 'parquet', timestampField: 'event_timestamp', createdTimestampField: 'created' },
    ttlSeconds: 2 * 3600,
    features: [
      { name: 'conv_rate', type: 'float64' },
      { name: 'trips', type: 'int64' },
    ],
    rows: [],
  };
  // Ties on the event time within a key are not compared: Feast's file store sorts by created time and then by event time
  // with a sort that is not stable, so its tie-break is not reliable (seen: the earlier-created of two rows at 05:10 won).
  // ghosteam's tie rule is table-tested in pit.test.ts. Keys and event times are unique per view here.
  const unique = new Set<string>();
  const fresh = (k: string) => !unique.has(k) && unique.add(k) !== undefined;
  while (driverStats.rows.length < 400) {
    const t = T0 + int(48) * STEP;
    const r = { driver_id: 1 + int(20), event_timestamp: iso(t), created: iso(t + (1 + int(4)) * 60_000), conv_rate: int(1000) / 1000, trips: int(500) };
    if (fresh(`d${r.driver_id}@${r.event_timestamp}`)) driverStats.rows.push(r);
  }
  // Corrections: the same driver and event time, created later, with another value.
  // Late arrivals: a value for a minute after an existing row, written up to two hours later; entity rows in between must not see it.
  for (let i = 0; i < 60; i++) {
    const r = driverStats.rows[int(400)];
    const t = Date.parse(r.event_timestamp as string) + 60_000;
    const late = { ...r, event_timestamp: iso(t), created: iso(t + (1 + int(12)) * STEP), conv_rate: int(1000) / 1000, trips: int(500) };
    if (fresh(`d${r.driver_id}@${late.event_timestamp}`)) driverStats.rows.push(late);
  }
  const profile: CaseView = {
    name: 'customer_profile',
    entities: [customer],
    source: { kind: 'file', uri: 'customer_profile.parquet', format: 'parquet', timestampField: 'ts' },
    ttlSeconds: 0,
    features: [
      { name: 'tier', type: 'string' },
      { name: 'lifetime_value', type: 'float64' },
    ],
    rows: [],
  };
  // Distinct times per customer: without a created timestamp, Feast does not define which of two rows at the same time wins.
  for (let c = 1; c <= 15; c++) {
    const times = new Set<number>();
    while (times.size < 8) times.add(T0 + int(60) * STEP);
    for (const t of times) profile.rows.push({ customer_id: `c${c}`, ts: iso(t), tier: ['gold', 'silver', 'bronze'][int(3)], lifetime_value: int(10000) / 10 });
  }
  const pair: CaseView = {
    name: 'pair_stats',
    entities: [driver, customer],
    source: { kind: 'file', uri: 'pair_stats.parquet', format: 'parquet', timestampField: 'event_timestamp', createdTimestampField: 'created' },
    ttlSeconds: 3600,
    features: [{ name: 'pair_trips', type: 'int64' }],
    rows: [],
  };
  while (pair.rows.length < 300) {
    const t = T0 + int(48) * STEP;
    const r = { driver_id: 1 + int(10), customer_id: `c${1 + int(8)}`, event_timestamp: iso(t), created: iso(t + int(5) * 1000), pair_trips: int(50) };
    if (fresh(`p${r.driver_id}/${r.customer_id}@${r.event_timestamp}`)) pair.rows.push(r);
  }
  for (const v of [driverStats, profile, pair]) shuffleInPlace(v.rows, rnd);

  // Feast's file store drops entity rows that share a time and the join keys of the views it joined before (it deduplicates on
  // them after each view); ghosteam keeps every row. So that Feast answers for every row, no two rows share a driver or a
  // customer at the same time.
  const entity: Record<string, Cell>[] = [];
  while (entity.length < entityRows) {
    // On the grid (ties with the event times and exact TTL boundaries), sometimes between steps.
    const t = T0 + int(56) * STEP + (rnd() < 0.2 ? int(STEP) : 0);
    const r = { row_id: entity.length, driver_id: 1 + int(25), customer_id: `c${1 + int(18)}`, event_timestamp: iso(t) };
    if (fresh(`ed${r.driver_id}@${t}`) && fresh(`ec${r.customer_id}@${t}`)) entity.push(r);
  }
  return {
    views: [driverStats, profile, pair],
    entityRows: entity,
    features: ['driver_stats:conv_rate', 'driver_stats:trips', 'customer_profile:tier', 'customer_profile:lifetime_value', 'pair_stats:pair_trips'],
  };
}

const TYPES: Record<string, ColumnType> = { int64: 'numeric', float64: 'numeric', string: 'string', bool: 'boolean' };

export function toDataset(rows: readonly Record<string, Cell>[], types: Record<string, ColumnType>): Dataset {
  return datasetFromColumns(Object.fromEntries(Object.entries(types).map(([name, type]) => [name, { type, cells: rows.map((r) => r[name] ?? null) }])));
}

export function viewData(v: CaseView): ViewData {
  const types: Record<string, ColumnType> = {};
  for (const e of v.entities) for (const k of e.joinKeys) types[k.name] = k.type === 'int64' ? 'numeric' : 'string';
  types[v.source.timestampField] = 'string';
  if (v.source.createdTimestampField) types[v.source.createdTimestampField] = 'string';
  for (const f of v.features) types[f.name] = TYPES[f.type];
  const spec: FeatureViewSpec = { entities: v.entities, source: v.source, ttlSeconds: v.ttlSeconds, features: v.features, online: true };
  return { name: v.name, spec, data: toDataset(v.rows, types) };
}
