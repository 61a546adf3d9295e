/**
 * The UI's JSON API: its response types (TypeBox, so the OpenAPI document and the run-time shapes
 * come from one place, reusing the CRD types of api/crds) and the pure functions that build the
 * responses from what the sources read (operator objects, registry versions, run records).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ModelStatusSchema } from '../api/crds/types.ts';
import { openApiSchemas } from '../api/openapi.ts';
import { DriftMonitorResponseSchema, DriftMonitorsResponseSchema, ExperimentsResponseSchema } from './monitors.ts';
import { registeredModelOf, type K8sObject } from '../api/objects.ts';
import { buildStatus } from '../controllers/status-report.ts';
import type { ModelVersion } from '../components/registry/types.ts';
import type { RunRecord } from '../pipelines/local/types.ts';
import type { LocalAlert } from '../controllers/planners/alerts.ts';

const Str = Type.String();
const OptStr = Type.Optional(Type.String());
const OptInt = Type.Optional(Type.Integer());

export const ModelSummarySchema = Type.Object(
  {
    namespace: Str,
    name: Str,
    registered: Type.String({ description: 'The registered model the Model serves' }),
    phase: Str,
    stable: Type.Optional(Type.Integer({ description: 'The version serving the stable share' })),
    canary: Type.Optional(Type.Integer({ description: 'The version being rolled out' })),
    trafficPercent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    step: OptInt,
    message: Str,
    versions: Type.Array(Type.Integer()),
    champion: OptInt,
    rolloutPhase: OptStr,
    rolloutReason: Type.Optional(Type.String({ description: 'Outcome of the last rollout decision (StepPassed, ErrorRateTooHigh, ...)' })),
    rolloutMessage: OptStr,
    promotedAt: OptStr,
    lastFailedVersion: OptInt,
  },
  { $id: 'ModelSummary' },
);
export type ModelSummary = Static<typeof ModelSummarySchema>;

export const VersionSchema = Type.Object(
  {
    name: Str,
    version: Type.Integer(),
    digest: OptStr,
    format: Str,
    aliases: Type.Array(Str),
    metrics: Type.Record(Str, Type.Number()),
    params: Type.Record(Str, Str),
    createdAt: Str,
    runId: OptStr,
    pipeline: OptStr,
    datasetDigest: OptStr,
    gitCommit: OptStr,
    gitDirty: OptStr,
    reason: Type.Optional(Type.String({ description: "Why the version exists: 'drift', 'git-change', 'schedule', 'manual', ..." })),
    derivedFrom: Type.Optional(
      Type.String({ description: "The version it was made from without training (an optimized or quantized copy): 'name@version', or the original's file" }),
    ),
    derivedFromDigest: Type.Optional(Type.String({ description: "sha256 of the original's model file" })),
  },
  { $id: 'Version' },
);
export type VersionView = Static<typeof VersionSchema>;

export const TrainingRunSummarySchema = Type.Object(
  {
    namespace: Str,
    name: Str,
    pipeline: Str,
    reason: Str,
    phase: Str,
    registeredVersion: OptInt,
    gateRejected: Type.Optional(Type.Boolean()),
    message: Str,
    created: OptStr,
  },
  { $id: 'TrainingRunSummary' },
);

export const RunSummarySchema = Type.Object(
  {
    id: Str,
    pipeline: Str,
    status: Str,
    message: OptStr,
    startedAt: Str,
    finishedAt: OptStr,
    durationMs: Type.Optional(Type.Number()),
    gitCommit: Type.Union([Str, Type.Null()]),
    gitDirty: OptStr,
    tasks: Type.Integer({ description: 'Nodes in the run' }),
    cached: Type.Integer({ description: 'Nodes reused from the step cache' }),
  },
  { $id: 'RunSummary' },
);
export type RunSummary = Static<typeof RunSummarySchema>;

export const RunNodeSchema = Type.Object(
  {
    id: Str,
    task: Str,
    state: Str,
    message: OptStr,
    startedAt: OptStr,
    finishedAt: OptStr,
    durationMs: Type.Optional(Type.Number()),
    cached: Type.Boolean(),
    resumed: Type.Boolean(),
    dependsOn: Type.Array(Str, { description: 'The tasks this one waits for (the DAG edges); empty for a fan-out instance' }),
    instances: Type.Optional(Type.Array(Str, { description: "A parallelFor task's instance node ids, in item order" })),
    attempts: Type.Integer(),
    outputs: Type.Record(Str, Type.Object({ kind: Str, digest: Str, size: Type.Integer() })),
    outputParams: Type.Record(Str, Type.Unknown()),
    artifacts: Type.Optional(
      Type.Array(
        Type.Object({
          name: Str,
          store: Type.String({ description: 'Where it is stored: s3, gs, oss, azure, http, artifactory, hdfs, git' }),
          location: Type.String({ description: "bucket/key (s3://bucket/key), the key in the artifact repository's default bucket, or a URL" }),
          size: Type.Optional(Type.Integer({ description: 'Bytes, when known (Argo records no size)' })),
        }),
        { description: "An Argo step's output artifacts, where its artifact repository stored them" },
      ),
    ),
    hasLog: Type.Boolean({ description: "GET /runs/{id}/logs/{task} serves its log (an Argo step: its pod's, through the API server)" }),
  },
  { $id: 'RunNode' },
);

export const RunDetailSchema = Type.Object(
  { run: RunSummarySchema, params: Type.Record(Str, Type.Unknown()), nodes: Type.Array(RunNodeSchema) },
  { $id: 'RunDetail' },
);
export type RunDetail = Static<typeof RunDetailSchema>;

export const ErrorSchema = Type.Object({ error: Type.String({ description: 'What was wrong, and the fix' }) }, { $id: 'Error' });

export const RegisteredModelSummarySchema = Type.Object(
  {
    name: Str,
    versions: Type.Array(Type.Integer(), { description: 'Its registered versions, oldest first' }),
    latest: Type.Optional(Type.Integer({ description: 'The newest version' })),
    aliases: Type.Record(Str, Type.Integer(), { description: 'Alias → version' }),
    latestCreatedAt: OptStr,
    latestMetrics: Type.Record(Str, Type.Number(), { description: "The newest version's metrics" }),
    servedBy: Type.Array(Str, { description: 'The Models that serve it, as namespace/name; empty: registered, served by no Model' }),
  },
  { $id: 'RegisteredModelSummary' },
);
export type RegisteredModelSummary = Static<typeof RegisteredModelSummarySchema>;

export const ModelsResponseSchema = Type.Object(
  {
    models: Type.Array(ModelSummarySchema, { description: 'The Model objects (what the operator serves and rolls out)' }),
    registeredModels: Type.Array(RegisteredModelSummarySchema, {
      description:
        'Every registered model in the registry, by name, with the Models that serve it (a pipeline registers versions before any Model serves them)',
    }),
  },
  { $id: 'ModelsResponse' },
);
export const RegisteredModelResponseSchema = Type.Object(
  { model: RegisteredModelSummarySchema, versions: Type.Array(VersionSchema, { description: 'Newest first' }) },
  { $id: 'RegisteredModelResponse' },
);
export type RegisteredModelResponse = Static<typeof RegisteredModelResponseSchema>;
export const ModelAlertSchema = Type.Object(
  {
    alert: Str,
    state: Type.String({ description: 'pending (its condition holds, not yet for its `for`) or firing' }),
    version: OptStr,
    since: Type.String({ description: 'When it fired (firing) or its condition began to hold (pending), RFC 3339' }),
    value: Type.Number(),
    summary: OptStr,
  },
  { $id: 'ModelAlert' },
);

export const ModelResponseSchema = Type.Object(
  {
    model: ModelSummarySchema,
    status: ModelStatusSchema,
    versions: Type.Array(VersionSchema),
    trainingRuns: Type.Array(TrainingRunSummarySchema),
    alerts: Type.Array(ModelAlertSchema, {
      description: "The registered model's alerts pending or firing, as the embedded operator evaluates them (empty in a cluster: there they are Prometheus')",
    }),
  },
  { $id: 'ModelResponse' },
);
export type ModelResponse = Static<typeof ModelResponseSchema>;
export const VersionResponseSchema = Type.Object({ version: VersionSchema, run: Type.Optional(RunSummarySchema) }, { $id: 'VersionResponse' });
export const RunsResponseSchema = Type.Object({ runs: Type.Array(RunSummarySchema) }, { $id: 'RunsResponse' });

export const RolloutRequestSchema = Type.Object(
  {
    action: Type.Union([Type.Literal('pause'), Type.Literal('resume'), Type.Literal('promote'), Type.Literal('abort')], {
      description: 'What to do with the rollout',
    }),
  },
  { $id: 'RolloutRequest', additionalProperties: false },
);
export const RetrainRequestSchema = Type.Object(
  {
    pipeline: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 253, description: 'The pipeline (WorkflowTemplate) name' }),
    namespace: Type.Optional(
      Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63, description: "Default: where the pipeline's TrainingRuns are" }),
    ),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: "The registered model it trains (default: the pipeline's)" })),
    params: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$' }), Type.String({ maxLength: 4096 }), { description: 'Pipeline parameters' }),
    ),
  },
  { $id: 'RetrainRequest', additionalProperties: false },
);
export const ActionResponseSchema = Type.Object(
  {
    message: Type.String({ description: 'What was handed to the operator' }),
    inboxEntry: Type.Optional(Type.String({ description: "The local operator's inbox entry (embedded default)" })),
    trainingRun: Type.Optional(Type.String({ description: 'The TrainingRun created' })),
  },
  { $id: 'ActionResponse' },
);

/** What the sources hold at one moment. */
export interface Snapshot {
  readonly driftMonitors: readonly K8sObject[];
  readonly models: readonly K8sObject[];
  readonly trainingRuns: readonly K8sObject[];
  /** Registered versions per registered model name, oldest first: every registered model the registry lists, and every one a Model names. */
  readonly versions: Readonly<Record<string, readonly ModelVersion[]>>;
  /** The embedded operator's alerts pending or firing (controllers/runtime/alert-state.ts); absent in a cluster. */
  readonly alerts?: readonly LocalAlert[];
}

export function modelSummaries(s: Snapshot): ModelSummary[] {
  const report = buildStatus({
    models: s.models,
    trainingRuns: s.trainingRuns,
    versions: Object.fromEntries(Object.entries(s.versions).map(([k, vs]) => [k, vs.map((v) => ({ version: v.version, aliases: [...v.aliases] }))])),
  });
  return report.models
    .map((m) => {
      const obj = s.models.find((o) => o.metadata.name === m.name && (o.metadata.namespace ?? 'default') === m.namespace);
      const st = (obj?.status ?? {}) as { rollout?: { phase?: string; reason?: string; message?: string; promotedAt?: string }; lastFailedVersion?: number };
      return {
        ...m,
        ...(st.rollout?.phase ? { rolloutPhase: st.rollout.phase } : {}),
        ...(st.rollout?.reason ? { rolloutReason: st.rollout.reason } : {}),
        ...(st.rollout?.message ? { rolloutMessage: st.rollout.message } : {}),
        ...(st.rollout?.promotedAt ? { promotedAt: st.rollout.promotedAt } : {}),
        ...(st.lastFailedVersion !== undefined ? { lastFailedVersion: st.lastFailedVersion } : {}),
      };
    })
    .sort((a, b) => (a.namespace === b.namespace ? a.name.localeCompare(b.name) : a.namespace.localeCompare(b.namespace)));
}

const modelKey = (o: K8sObject): string => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;

function registeredSummary(s: Snapshot, name: string, servedBy: readonly string[]): RegisteredModelSummary {
  const vs = [...(s.versions[name] ?? [])].sort((a, b) => a.version - b.version);
  const latest = vs.at(-1);
  const aliases: Record<string, number> = {};
  for (const v of vs) for (const a of v.aliases) aliases[a] = v.version;
  return {
    name,
    versions: vs.map((v) => v.version),
    ...(latest ? { latest: latest.version, latestCreatedAt: latest.createdAt } : {}),
    aliases,
    latestMetrics: { ...(latest?.metrics ?? {}) },
    servedBy: [...servedBy].sort(),
  };
}

/** The Models serving each registered model, as namespace/name: one pass over the Models. */
function servingModels(s: Snapshot): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const o of s.models) {
    const name = registeredModelOf(o);
    const list = by.get(name);
    if (list) list.push(modelKey(o));
    else by.set(name, [modelKey(o)]);
  }
  return by;
}

/** Every registered model the snapshot holds versions for, by name, with the Models serving each. */
export function registeredModelSummaries(s: Snapshot): RegisteredModelSummary[] {
  const by = servingModels(s);
  return Object.keys(s.versions)
    .sort()
    .map((name) => registeredSummary(s, name, by.get(name) ?? []));
}

/** One registered model with its versions (newest first); undefined when the registry has no such model. */
export function registeredModelResponse(s: Snapshot, name: string): RegisteredModelResponse | undefined {
  if (!Object.hasOwn(s.versions, name)) return undefined;
  return {
    model: registeredSummary(s, name, servingModels(s).get(name) ?? []),
    versions: [...(s.versions[name] ?? [])].sort((a, b) => b.version - a.version).map(versionView),
  };
}

export function versionView(v: ModelVersion): VersionView {
  const l = v.lineage;
  return {
    name: v.name,
    version: v.version,
    ...(v.digest ? { digest: v.digest } : {}),
    format: v.format,
    aliases: [...v.aliases],
    metrics: { ...v.metrics },
    params: { ...v.params },
    createdAt: v.createdAt,
    ...(l.runId ? { runId: l.runId } : {}),
    ...(l.pipeline ? { pipeline: l.pipeline } : {}),
    ...(l.datasetDigest ? { datasetDigest: l.datasetDigest } : {}),
    ...(l.gitCommit ? { gitCommit: l.gitCommit } : {}),
    ...(l.gitDirty ? { gitDirty: l.gitDirty } : {}),
    ...(l.reason ? { reason: l.reason } : {}),
    ...(l.derivedFrom ? { derivedFrom: l.derivedFrom } : {}),
    ...(l.derivedFromDigest ? { derivedFromDigest: l.derivedFromDigest } : {}),
  };
}

/** One Model with its status, its registered versions (newest first) and the TrainingRuns for its pipeline's model. */
export function modelResponse(s: Snapshot, namespace: string, name: string): ModelResponse | undefined {
  const summary = modelSummaries(s).find((m) => m.namespace === namespace && m.name === name);
  const obj = s.models.find((o) => o.metadata.name === name && (o.metadata.namespace ?? 'default') === namespace);
  if (!summary || !obj) return undefined;
  const versions = [...(s.versions[summary.registered] ?? [])].sort((a, b) => b.version - a.version).map(versionView);
  const runs = buildStatus({ models: [], trainingRuns: s.trainingRuns, versions: {} }).trainingRuns.filter((r) => r.namespace === namespace);
  const alerts = (s.alerts ?? [])
    .filter((a) => a.labels.model === summary.registered && a.state !== 'resolved')
    .sort((a, b) => (a.state === b.state ? a.alert.localeCompare(b.alert) : a.state === 'firing' ? -1 : 1))
    .map((a) => ({
      alert: a.alert,
      state: a.state,
      ...(a.labels.version !== undefined ? { version: a.labels.version } : {}),
      since: new Date(a.firedAt ?? a.activeAt).toISOString(),
      value: a.value,
      ...(a.annotations.summary !== undefined ? { summary: a.annotations.summary } : {}),
    }));
  return { model: summary, status: obj.status ?? {}, versions, trainingRuns: runs, alerts };
}

export function runSummary(r: RunRecord, status: string = r.status): RunSummary {
  const nodes = Object.values(r.nodes);
  return {
    id: r.id,
    pipeline: r.pipeline,
    status,
    ...(r.message ? { message: r.message } : {}),
    startedAt: r.startedAt,
    ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
    ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
    gitCommit: r.gitCommit,
    ...(r.gitDirty ? { gitDirty: r.gitDirty } : {}),
    tasks: nodes.length,
    cached: nodes.filter((n) => n.cached).length,
  };
}

export function runDetail(r: RunRecord, status: string = r.status): RunDetail {
  return {
    run: runSummary(r, status),
    params: { ...r.params },
    nodes: r.order
      .filter((id) => r.nodes[id])
      .map((id) => {
        const n = r.nodes[id];
        return {
          id: n.id,
          task: n.task,
          state: n.state,
          ...(n.message ? { message: n.message } : {}),
          ...(n.startedAt ? { startedAt: n.startedAt } : {}),
          ...(n.finishedAt ? { finishedAt: n.finishedAt } : {}),
          ...(n.durationMs !== undefined ? { durationMs: n.durationMs } : {}),
          cached: n.cached === true,
          resumed: n.resumed === true,
          dependsOn: [...(n.dependsOn ?? [])],
          ...(n.children ? { instances: [...n.children] } : {}),
          attempts: n.attempts.length,
          outputs: Object.fromEntries(Object.entries(n.outputs).map(([k, a]) => [k, { kind: a.kind, digest: a.digest, size: a.size }])),
          outputParams: { ...n.outputParams },
          ...(n.externalOutputs
            ? {
                artifacts: Object.entries(n.externalOutputs).map(([name, a]) => ({
                  name,
                  store: a.store,
                  location: a.location,
                  ...(a.size !== undefined ? { size: a.size } : {}),
                })),
              }
            : {}),
          hasLog: Boolean(n.log),
        };
      }),
  };
}

/** The API's routes, for the OpenAPI document: path, summary, response schema, path/query parameters. */
interface Route {
  path: string;
  method?: 'get' | 'post';
  summary: string;
  schema: TSchema;
  params?: { name: string; in: 'path' | 'query'; schema: TSchema; description: string }[];
  /** POST: the JSON body; the route needs the `admin` permission. */
  body?: TSchema;
}
/** The path parameters of an object addressed as /{namespace}/{name}. */
const objectParams = (kind: string): NonNullable<Route['params']> => [
  { name: 'namespace', in: 'path', schema: Str, description: `The ${kind} namespace` },
  { name: 'name', in: 'path', schema: Str, description: `The ${kind} name` },
];
const MODEL_PARAMS = objectParams('Model');
const REGISTERED_NAME_PARAM: NonNullable<Route['params']>[number] = { name: 'name', in: 'path', schema: Str, description: 'The registered model name' };
const ROUTES: Route[] = [
  {
    path: '/api/driftmonitors',
    summary: 'Every DriftMonitor with its last check (drift share, drifted features, quality), drifting ones first',
    schema: DriftMonitorsResponseSchema,
  },
  {
    path: '/api/driftmonitors/{namespace}/{name}',
    summary: 'One DriftMonitor: spec and status — per-feature results and histograms of the last check, the history of checks, quality',
    schema: DriftMonitorResponseSchema,
    params: objectParams('DriftMonitor'),
  },
  {
    path: '/api/experiments',
    summary: 'Pipeline runs as experiment runs: params and final metrics side by side, best first by a metric; with run=, a comparison of those runs',
    schema: ExperimentsResponseSchema,
    params: [
      { name: 'experiment', in: 'query', schema: Str, description: 'Only runs of this pipeline (one experiment per pipeline)' },
      { name: 'metric', in: 'query', schema: Str, description: 'Order best first by this metric, e.g. evaluate.auc' },
      {
        name: 'direction',
        in: 'query',
        schema: Type.Union([Type.Literal('minimize'), Type.Literal('maximize')]),
        description: 'Whether lower or higher is better (default: from the metric name)',
      },
      { name: 'run', in: 'query', schema: Type.Array(Str), description: 'Compare only these runs (ids or unique prefixes; repeat the parameter)' },
      { name: 'limit', in: 'query', schema: Type.Integer({ minimum: 1, maximum: 1000 }), description: 'At most this many runs (default 100)' },
    ],
  },
  {
    path: '/api/models',
    summary:
      'Every Model with its serving and canary versions, traffic, aliases and last rollout outcome; and every registered model by name, with the Models that serve it',
    schema: ModelsResponseSchema,
  },
  {
    path: '/api/models/{namespace}/{name}',
    summary: 'One Model: status, registered versions with lineage (newest first) and TrainingRuns',
    schema: ModelResponseSchema,
    params: MODEL_PARAMS,
  },
  {
    path: '/api/models/{namespace}/{name}/versions/{version}',
    summary: "One registered version's lineage, metrics and params, with the run that produced it when it is a local run",
    schema: VersionResponseSchema,
    params: [...MODEL_PARAMS, { name: 'version', in: 'path', schema: Type.Integer({ minimum: 1 }), description: 'The version number' }],
  },
  {
    path: '/api/registered-models/{name}',
    summary: 'One registered model: its versions with lineage (newest first), aliases and the Models that serve it',
    schema: RegisteredModelResponseSchema,
    params: [REGISTERED_NAME_PARAM],
  },
  {
    path: '/api/registered-models/{name}/versions/{version}',
    summary: "One registered version's lineage, metrics and params, with the run that produced it when it is a local run",
    schema: VersionResponseSchema,
    params: [REGISTERED_NAME_PARAM, { name: 'version', in: 'path', schema: Type.Integer({ minimum: 1 }), description: 'The version number' }],
  },
  {
    path: '/api/runs',
    summary: 'Pipeline runs, newest first',
    schema: RunsResponseSchema,
    params: [
      { name: 'limit', in: 'query', schema: Type.Integer({ minimum: 1, maximum: 1000 }), description: 'At most this many runs (default 100)' },
      { name: 'pipeline', in: 'query', schema: Str, description: 'Only runs of this pipeline' },
    ],
  },
  {
    path: '/api/runs/{id}',
    summary: "One run: params and every task's state, duration, cache hit, outputs",
    schema: RunDetailSchema,
    params: [{ name: 'id', in: 'path', schema: Str, description: 'The run id' }],
  },
  {
    path: '/api/models/{namespace}/{name}/rollout',
    method: 'post',
    summary: "Pause, resume, promote or abort the Model's rollout (needs the admin permission; audited)",
    schema: ActionResponseSchema,
    params: MODEL_PARAMS,
    body: RolloutRequestSchema,
  },
  {
    path: '/api/trainingruns',
    method: 'post',
    summary: 'Start a TrainingRun of a pipeline now, reason manual (needs the admin permission; audited)',
    schema: ActionResponseSchema,
    body: RetrainRequestSchema,
  },
];

/** The API's OpenAPI 3.1 document (its schemas are JSON Schema), generated from the schemas above. */
export function openApiDocument(version: string): Record<string, unknown> {
  const { ref, components } = openApiSchemas();
  const paths: Record<string, unknown> = {};
  const errorRef = ref(ErrorSchema);
  for (const r of ROUTES) {
    const method = r.method ?? 'get';
    const responses: Record<string, unknown> = r.body
      ? {
          '202': { description: 'Handed to the operator', content: { 'application/json': { schema: ref(r.schema) } } },
          '400': { description: 'A malformed body (the message names the field and the fix)', content: { 'application/json': { schema: errorRef } } },
          '401': { description: 'No or a bad bearer token', content: { 'application/json': { schema: errorRef } } },
          '403': { description: 'A token without the admin permission', content: { 'application/json': { schema: errorRef } } },
          '404': { description: 'No such Model or pipeline', content: { 'application/json': { schema: errorRef } } },
          '405': { description: 'The UI is read-only (started without credentials for actions)', content: { 'application/json': { schema: errorRef } } },
          '409': { description: 'Not now (e.g. nothing to promote)', content: { 'application/json': { schema: errorRef } } },
          '415': { description: 'The body is not JSON', content: { 'application/json': { schema: errorRef } } },
        }
      : {
          '200': { description: 'OK', content: { 'application/json': { schema: ref(r.schema) } } },
          '400': { description: 'A malformed request (the message names the parameter and the fix)', content: { 'application/json': { schema: errorRef } } },
          '404': { description: 'No such object', content: { 'application/json': { schema: errorRef } } },
        };
    paths[r.path] = {
      ...(paths[r.path] ?? {}),
      [method]: {
        summary: r.summary,
        ...(r.params
          ? {
              parameters: r.params.map((p) => ({
                name: p.name,
                in: p.in,
                required: p.in === 'path',
                description: p.description,
                schema: ref(p.schema),
              })),
            }
          : {}),
        ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(r.body) } } }, security: [{ bearer: [] }] } : {}),
        responses,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'ghosteam UI API', version, description: 'JSON API of `ghosteam ui`: the same data the pages show, and the actions (with credentials).' },
    paths,
    components: {
      schemas: components(),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The static token (--token-env) or an OIDC access token with the admin permission' },
      },
    },
  };
}
