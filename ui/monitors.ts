/**
 * The UI's drift-and-quality and experiments views: their response types (TypeBox, for the OpenAPI
 * document) and the pure functions that build them from what the sources read — DriftMonitor
 * objects as the operator wrote them (status: the last check's per-feature results and histograms,
 * the history of checks, the quality check) and the local engine's run records as experiment rows.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DriftMonitorSpecSchema, DriftMonitorStatusSchema, type DriftMonitorSpec, type DriftMonitorStatus } from '../api/crds/types.ts';
import type { K8sObject } from '../api/objects.ts';
import { columnsOf, metricDirection, runToRow, sortRows, type ExperimentRow } from '../pipelines/local/experiments.ts';
import type { RunRecord } from '../pipelines/local/types.ts';

const Str = Type.String();
const OptStr = Type.Optional(Type.String());

export const DriftMonitorSummarySchema = Type.Object(
  {
    namespace: Str,
    name: Str,
    model: Type.String({ description: 'The Model whose traffic is watched' }),
    state: Type.Union(
      [Type.Literal('Drift'), Type.Literal('QualityBreached'), Type.Literal('NoDrift'), Type.Literal('CheckFailed'), Type.Literal('Scheduled')],
      {
        description: 'The last check: drift found, quality under its threshold, neither, a failed check, or no check yet',
      },
    ),
    message: Str,
    lastCheckTime: OptStr,
    nextCheckTime: OptStr,
    samples: Type.Optional(Type.Integer({ minimum: 0 })),
    driftShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    driftShareThreshold: Type.Number({ minimum: 0, maximum: 1 }),
    driftedFeatures: Type.Integer({ minimum: 0 }),
    features: Type.Integer({ minimum: 0, description: 'Features the monitor watches' }),
    qualityMetric: OptStr,
    qualityValue: Type.Optional(Type.Number()),
    qualityThreshold: Type.Optional(Type.Number()),
    lastTriggeredRun: OptStr,
    lastTriggeredAt: OptStr,
    checks: Type.Integer({ minimum: 0, description: 'Checks kept in status.history' }),
  },
  { $id: 'DriftMonitorSummary' },
);
export type DriftMonitorSummary = Static<typeof DriftMonitorSummarySchema>;

export const DriftMonitorsResponseSchema = Type.Object({ driftMonitors: Type.Array(DriftMonitorSummarySchema) }, { $id: 'DriftMonitorsResponse' });
export const DriftMonitorResponseSchema = Type.Object(
  { monitor: DriftMonitorSummarySchema, spec: DriftMonitorSpecSchema, status: DriftMonitorStatusSchema },
  { $id: 'DriftMonitorResponse' },
);
export type DriftMonitorResponse = Static<typeof DriftMonitorResponseSchema>;

type MonitorObject = K8sObject & { spec?: DriftMonitorSpec; status?: DriftMonitorStatus };

function stateOf(st: DriftMonitorStatus): DriftMonitorSummary['state'] {
  const ready = st.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'False' && ready.reason === 'CheckFailed') return 'CheckFailed';
  if (!st.lastCheckTime) return 'Scheduled';
  if (st.datasetDrift) return 'Drift';
  if (st.quality?.breached) return 'QualityBreached';
  return 'NoDrift';
}

export function driftMonitorSummary(o: MonitorObject): DriftMonitorSummary {
  const spec = o.spec;
  const st = o.status ?? {};
  const ready = st.conditions?.find((c) => c.type === 'Ready');
  const degraded = st.conditions?.find((c) => c.type === 'Degraded' && c.status === 'True');
  const q = st.quality;
  return {
    namespace: o.metadata.namespace ?? 'default',
    name: o.metadata.name,
    model: spec?.model ?? '',
    state: stateOf(st),
    message: degraded?.message || ready?.message || '',
    ...(st.lastCheckTime ? { lastCheckTime: st.lastCheckTime } : {}),
    ...(st.nextCheckTime ? { nextCheckTime: st.nextCheckTime } : {}),
    ...(st.samples !== undefined ? { samples: st.samples } : {}),
    ...(st.driftShare !== undefined ? { driftShare: st.driftShare } : {}),
    driftShareThreshold: spec?.thresholds.driftShare ?? 0,
    driftedFeatures: (st.features ?? []).filter((f) => f.drifted).length,
    features: spec?.features.length ?? 0,
    ...(q ? { qualityMetric: q.metric, qualityThreshold: q.threshold, ...(q.value !== undefined ? { qualityValue: q.value } : {}) } : {}),
    ...(st.lastTriggeredRun ? { lastTriggeredRun: st.lastTriggeredRun } : {}),
    ...(st.lastTriggeredAt ? { lastTriggeredAt: st.lastTriggeredAt } : {}),
    checks: st.history?.length ?? 0,
  };
}

/** Every DriftMonitor, drifting ones first, then by namespace and name. */
export function driftMonitorSummaries(monitors: readonly K8sObject[]): DriftMonitorSummary[] {
  const rank: Record<DriftMonitorSummary['state'], number> = { Drift: 0, QualityBreached: 1, CheckFailed: 2, NoDrift: 3, Scheduled: 4 };
  return monitors
    .map((m) => driftMonitorSummary(m as MonitorObject))
    .sort((a, b) => rank[a.state] - rank[b.state] || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

export function driftMonitorResponse(monitors: readonly K8sObject[], namespace: string, name: string): DriftMonitorResponse | undefined {
  const o: MonitorObject | undefined = monitors.find((m) => m.metadata.name === name && (m.metadata.namespace ?? 'default') === namespace);
  if (!o?.spec) return undefined;
  return { monitor: driftMonitorSummary(o), spec: o.spec, status: o.status ?? {} };
}

// --- experiments -------------------------------------------------------------------------------

export const ExperimentRowSchema = Type.Object(
  {
    runId: Str,
    experiment: Type.String({ description: 'The pipeline: one experiment per pipeline' }),
    status: Str,
    startedAt: Str,
    params: Type.Record(Str, Str),
    tags: Type.Record(Str, Str),
    metrics: Type.Record(Str, Type.Number(), { description: 'Final values: output params and the last point of each history' }),
    history: Type.Record(Str, Type.Array(Type.Object({ step: Type.Integer(), value: Type.Number() })), { description: 'Per-step metrics (training curves)' }),
  },
  { $id: 'ExperimentRow' },
);
export const ExperimentsResponseSchema = Type.Object(
  {
    experiments: Type.Array(Str, { description: 'Every pipeline with runs' }),
    metric: Type.Optional(Type.String({ description: 'The metric the runs are ordered by, best first' })),
    direction: Type.Optional(Type.Union([Type.Literal('minimize'), Type.Literal('maximize')])),
    params: Type.Array(Str, { description: 'The params that differ between the runs' }),
    metrics: Type.Array(Str),
    runs: Type.Array(ExperimentRowSchema),
  },
  { $id: 'ExperimentsResponse' },
);
export type ExperimentsResponse = Static<typeof ExperimentsResponseSchema>;

export interface ExperimentQuery {
  readonly experiment?: string;
  readonly metric?: string;
  readonly direction?: 'minimize' | 'maximize';
  /** Only these runs (a comparison), in this order unless a metric orders them. */
  readonly runs?: readonly string[];
  readonly limit?: number;
}

export class UnknownRunError extends Error {}

/**
 * The runs as experiment rows, best first by `metric` (its direction from its name unless given),
 * with the columns a comparison shows. `runs` picks runs by id or unique prefix.
 */
export function experimentsResponse(records: readonly RunRecord[], q: ExperimentQuery = {}): ExperimentsResponse {
  const all = records.map(runToRow);
  const experiments = [...new Set(all.map((r) => r.experiment))].sort();
  let rows: ExperimentRow[] = q.experiment === undefined ? all : all.filter((r) => r.experiment === q.experiment);
  if (q.runs?.length) {
    rows = q.runs.map((id) => {
      const hit =
        all.find((r) => r.runId === id) ?? (all.filter((r) => r.runId.startsWith(id)).length === 1 ? all.find((r) => r.runId.startsWith(id)) : undefined);
      if (!hit) throw new UnknownRunError(`no run '${id}' among ${all.length} runs (or the prefix is ambiguous); the runs are listed at /experiments`);
      return hit;
    });
  }
  const direction = q.metric ? (q.direction ?? metricDirection(q.metric)) : undefined;
  if (q.metric || !q.runs?.length) rows = sortRows(rows, q.metric, direction);
  if (q.limit !== undefined) rows = rows.slice(0, q.limit);
  const cols = columnsOf(rows);
  return {
    experiments,
    ...(q.metric ? { metric: q.metric, direction } : {}),
    params: cols.params,
    metrics: cols.metrics,
    runs: rows,
  };
}
