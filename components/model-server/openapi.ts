/**
 * The model server's HTTP API as TypeBox schemas, and its OpenAPI 3.1 document generated from them
 * (served at `GET /openapi.json`, where KServe's own Python server has its FastAPI document).
 *
 * One source: the request and answer types the server's code uses (TensorSpec, TrafficSplit,
 * VersionStats, ModelInfo, ModelStats, RepositoryIndexEntry, FeedbackResult, V1 predictions) are
 * checked against these schemas by the type checker (`Same<…>` below: each way assignable, readonly
 * aside), so a field added to one and not the other fails `tsc`, and the test that runs schemathesis
 * over this document (test/model-server/extensions.test.ts) checks that what the server answers
 * conforms to it. The hot routes (infer, V1 predict) keep their hand-written parsers (speed); their
 * request schemas here say what those parsers take.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { openApiSchemas } from '../../api/openapi.ts';
import type { TensorSpec } from './tensors.ts';
import type { TrafficSplit } from './traffic.ts';
import type { VersionStats } from './metrics.ts';
import type { FeedbackResult, VersionQuality } from './quality.ts';
import type { CbpeEstimate } from './cbpe.ts';
import type { RepositoryIndexEntry } from './repository.ts';
import type { LoadedVersionInfo, ModelInfo, ModelStats } from './server.ts';

const Str = Type.String();
const OptStr = Type.Optional(Type.String());
const Count = Type.Integer({ minimum: 0 });

export const ErrorSchema = Type.Object({ error: Type.String({ description: 'What was wrong, naming the field or value and the fix' }) }, { $id: 'Error' });

export const DatatypeSchema = Type.Union(
  [
    Type.Literal('BOOL'),
    Type.Literal('UINT8'),
    Type.Literal('UINT16'),
    Type.Literal('UINT32'),
    Type.Literal('UINT64'),
    Type.Literal('INT8'),
    Type.Literal('INT16'),
    Type.Literal('INT32'),
    Type.Literal('INT64'),
    Type.Literal('FP16'),
    Type.Literal('BF16'),
    Type.Literal('FP32'),
    Type.Literal('FP64'),
    Type.Literal('BYTES'),
  ],
  { $id: 'Datatype', description: 'An Open Inference Protocol tensor datatype' },
);

export const TensorSpecSchema = Type.Object(
  {
    name: Str,
    datatype: DatatypeSchema,
    shape: Type.Array(Type.Integer({ minimum: -1 }), { description: '-1 for a symbolic or variable dimension' }),
    parameters: Type.Optional(
      Type.Object({
        labels: Type.Array(Type.Union([Type.String(), Type.Number()]), {
          description: "For a ZipMap's seq(map) output: the class label of each column of the [N, classes] tensor",
        }),
      }),
    ),
  },
  { $id: 'TensorSpec' },
);

export const TrafficSplitSchema = Type.Object(
  {
    stable: Type.String({ description: 'Version answering requests by default' }),
    canary: Type.Optional(Type.String({ description: 'Version receiving canaryPercent of requests (or, in shadow mode, a copy of them)' })),
    canaryPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    shadow: Type.Optional(Type.Boolean({ description: 'The stable version answers every request; the canary gets a copy whose answer is dropped' })),
  },
  { $id: 'TrafficSplit' },
);

export const VersionStatsSchema = Type.Object(
  {
    requests: Count,
    errors: Count,
    errorsByCode: Type.Record(Str, Count, { description: 'Errors by HTTP status code' }),
    errorRate: Type.Number({ minimum: 0, maximum: 1 }),
    latencyMs: Type.Object(
      { p50: Type.Number({ minimum: 0 }), p99: Type.Number({ minimum: 0 }), window: Count },
      { description: 'Over the last `window` requests, in milliseconds' },
    ),
  },
  { $id: 'VersionStats' },
);

const Metric = Type.Optional(Type.Number());
export const VersionQualitySchema = Type.Object(
  {
    task: Type.Union([Type.Literal('binary'), Type.Literal('multiclass'), Type.Literal('regression')]),
    samples: Count,
    windowSeconds: Type.Number({ minimum: 0 }),
    metrics: Type.Object({
      accuracy: Metric,
      precision: Metric,
      recall: Metric,
      f1: Metric,
      rocAuc: Metric,
      calibrationError: Metric,
      macroF1: Metric,
      rmse: Metric,
      mae: Metric,
    }),
  },
  { $id: 'VersionQuality' },
);

const Estimate = Type.Optional(
  Type.Object({
    value: Type.Number(),
    samplingError: Type.Number({ minimum: 0, description: "NannyML's sampling error of the estimate" }),
    lower: Type.Number({ description: 'value − 3 sampling errors, at least 0' }),
    upper: Type.Number({ description: 'value + 3 sampling errors, at most 1' }),
  }),
);
export const QualityEstimateSchema = Type.Object(
  {
    estimated: Type.Literal(true, { description: 'Always true: an estimate from the model’s probabilities (CBPE), not a measurement' }),
    samples: Type.Integer({ minimum: 0, description: 'Predictions still waiting for a label that the estimate covers' }),
    referenceSamples: Type.Integer({ minimum: 0, description: 'Labelled predictions the estimator was fitted on' }),
    calibrated: Type.Boolean({ description: 'Whether the probabilities were calibrated (isotonic) before estimating' }),
    metrics: Type.Object({ accuracy: Estimate, precision: Estimate, recall: Estimate, f1: Estimate, rocAuc: Estimate }),
  },
  { $id: 'QualityEstimate', description: 'Confidence-based performance estimation (NannyML CBPE) for a binary classifier' },
);

export const LoadedVersionSchema = Type.Object(
  {
    name: Str,
    version: Str,
    source: Type.String({ description: 'Where the version was loaded from (a file, or a registry reference)' }),
    loadedAt: Type.String({ format: 'date-time' }),
    batching: Type.Boolean(),
    batchingReason: Type.String({ description: "Why requests are or aren't merged: the graph proof's verdict, where it stopped, or 'off'" }),
    inputs: Type.Array(TensorSpecSchema),
    outputs: Type.Array(TensorSpecSchema),
  },
  { $id: 'LoadedVersion' },
);

export const ModelInfoSchema = Type.Object({ name: Str, versions: Type.Array(LoadedVersionSchema), traffic: TrafficSplitSchema }, { $id: 'ModelInfo' });

export const ModelStatsSchema = Type.Object(
  {
    model: Str,
    traffic: TrafficSplitSchema,
    versions: Type.Record(
      Str,
      Type.Intersect([
        VersionStatsSchema,
        Type.Object({ quality: Type.Optional(VersionQualitySchema), qualityEstimate: Type.Optional(QualityEstimateSchema) }),
      ]),
    ),
  },
  { $id: 'ModelStats' },
);

const Parameters = Type.Record(Str, Type.Unknown(), { description: 'Free-form parameters' });

const RequestTensor = Type.Object({
  name: Str,
  shape: Type.Array(Type.Integer({ minimum: 0 })),
  datatype: DatatypeSchema,
  parameters: Type.Optional(Parameters),
  data: Type.Optional(
    Type.Array(Type.Unknown(), {
      description: 'Row-major values (nested arrays are flattened); null is NaN for FP16/BF16/FP32/FP64. Absent with binary_data_size (binary extension).',
    }),
  ),
});
export const InferRequestSchema = Type.Object(
  {
    id: OptStr,
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(RequestTensor, { minItems: 1 }),
    outputs: Type.Optional(Type.Array(Type.Object({ name: Str, parameters: Type.Optional(Parameters) }))),
  },
  {
    $id: 'InferRequest',
    description:
      'Open Inference Protocol JSON; with the binary tensor data extension the JSON is followed by raw tensors (Inference-Header-Content-Length: the JSON part)',
  },
);
export const InferResponseSchema = Type.Object(
  {
    model_name: Str,
    model_version: OptStr,
    id: Str,
    parameters: Type.Optional(Parameters),
    outputs: Type.Array(
      Type.Object({
        name: Str,
        shape: Type.Array(Type.Integer({ minimum: 0 })),
        datatype: DatatypeSchema,
        parameters: Type.Optional(Parameters),
        data: Type.Optional(Type.Array(Type.Unknown())),
      }),
    ),
  },
  { $id: 'InferResponse' },
);

export const ServerMetadataSchema = Type.Object({ name: Str, version: Str, extensions: Type.Array(Str) }, { $id: 'ServerMetadata' });
export const ModelMetadataSchema = Type.Object(
  { name: Str, versions: Type.Array(Str), platform: Str, inputs: Type.Array(TensorSpecSchema), outputs: Type.Array(TensorSpecSchema) },
  { $id: 'ModelMetadata' },
);
export const ModelReadySchema = Type.Object({ name: Str, version: Str, ready: Type.Boolean() }, { $id: 'ModelReady' });

export const RepositoryIndexEntrySchema = Type.Object(
  {
    name: Str,
    version: OptStr,
    state: Type.Union([Type.Literal('READY'), Type.Literal('UNAVAILABLE')], { description: 'READY (loaded) or UNAVAILABLE (known, not loaded)' }),
    reason: Str,
  },
  { $id: 'RepositoryIndexEntry' },
);

const Duration = Type.Object({ count: Count, ns: Count });
const TritonVersionStats = Type.Object(
  {
    name: Str,
    version: Str,
    last_inference: Count,
    inference_count: Count,
    execution_count: Count,
    inference_stats: Type.Object({
      success: Duration,
      fail: Duration,
      queue: Duration,
      compute_input: Duration,
      compute_infer: Duration,
      compute_output: Duration,
      cache_hit: Duration,
      cache_miss: Duration,
    }),
    batch_stats: Type.Array(
      Type.Object({ batch_size: Type.Integer({ minimum: 1 }), compute_input: Duration, compute_infer: Duration, compute_output: Duration }),
    ),
    memory_usage: Type.Array(Type.Unknown()),
  },
  { $id: 'TritonModelStatistics' },
);
export const TritonStatsSchema = Type.Object({ model_stats: Type.Array(TritonVersionStats) }, { $id: 'TritonStatistics' });

const TritonIo = Type.Object({
  name: Str,
  data_type: Str,
  dims: Type.Array(Type.Integer({ minimum: -1 })),
  parameters: Type.Optional(Type.Object({ labels: Type.Object({ string_value: Str }) })),
});
export const TritonConfigSchema = Type.Object(
  {
    name: Str,
    platform: Str,
    backend: Str,
    version_policy: Type.Object({ specific: Type.Object({ versions: Type.Array(Type.Union([Type.Integer(), Type.String()])) }) }),
    max_batch_size: Count,
    input: Type.Array(TritonIo),
    output: Type.Array(TritonIo),
    dynamic_batching: Type.Optional(Type.Object({ max_queue_delay_microseconds: Count, preserve_ordering: Type.Boolean() })),
    instance_group: Type.Array(Type.Object({ name: Str, kind: Str, count: Count })),
  },
  { $id: 'TritonModelConfig' },
);

const Label = Type.Union([Type.Number(), Type.Boolean()]);
const FeedbackItemSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, description: "The request id (the 'id' of the inference answer)" }),
    row: Type.Optional(Count),
    label: Type.Union([Label, Type.Array(Label, { minItems: 1 })], { description: 'One label, or one per row of the request' }),
    timestamp: Type.Optional(
      Type.Union([Type.Number(), Type.String({ format: 'date-time' })], { description: 'When the outcome was observed: epoch ms or RFC 3339' }),
    ),
  },
  { additionalProperties: false },
);
export const FeedbackRequestSchema = Type.Union([FeedbackItemSchema, Type.Array(FeedbackItemSchema, { minItems: 1 })], {
  $id: 'FeedbackRequest',
  description: 'One label or an array of them, joined to logged predictions by request id',
});
export const FeedbackResultSchema = Type.Object(
  {
    accepted: Count,
    matched: Count,
    duplicates: Count,
    corrected: Count,
    late: Count,
    unmatched: Count,
    unmatchedIds: Type.Array(Str, { description: 'Request ids no prediction was found for (at most 100 listed)' }),
  },
  { $id: 'FeedbackResult' },
);

export const V1PredictRequestSchema = Type.Object(
  {
    instances: Type.Optional(Type.Array(Type.Unknown(), { description: 'Rows: arrays (a single-input model) or objects keyed by input name' })),
    inputs: Type.Optional(Type.Unknown({ description: 'Columns: an object keyed by input name, or the rows of a single-input model' })),
    parameters: Type.Optional(Parameters),
  },
  { $id: 'V1PredictRequest' },
);
export const V1PredictResponseSchema = Type.Object({ predictions: Type.Array(Type.Unknown()) }, { $id: 'V1PredictResponse' });

export const AdminLoadRequestSchema = Type.Union(
  [
    Type.Object({ ref: Type.String({ description: 'A registry reference: fraud@champion, fraud:3, models:/fraud/1' }), stable: Type.Optional(Type.Boolean()) }),
    Type.Object({ name: Str, version: Type.Optional(Type.Union([Type.String(), Type.Integer()])), path: Str, stable: Type.Optional(Type.Boolean()) }),
  ],
  { $id: 'AdminLoadRequest' },
);

// ---- the code's types are the schemas' (each way assignable, readonly aside) ----
type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;
type Same<A, B> = [Mutable<A>] extends [Mutable<B>] ? ([Mutable<B>] extends [Mutable<A>] ? true : false) : false;
/* eslint-disable @typescript-eslint/no-unused-vars */
const typesMatch: [
  Same<Static<typeof TensorSpecSchema>, TensorSpec>,
  Same<Static<typeof TrafficSplitSchema>, TrafficSplit>,
  Same<Static<typeof VersionStatsSchema>, VersionStats>,
  Same<Static<typeof VersionQualitySchema>, VersionQuality>,
  Same<Static<typeof QualityEstimateSchema>, CbpeEstimate>,
  Same<Static<typeof LoadedVersionSchema>, LoadedVersionInfo>,
  Same<Static<typeof ModelInfoSchema>, ModelInfo>,
  Same<Static<typeof ModelStatsSchema>, ModelStats>,
  Same<Static<typeof RepositoryIndexEntrySchema>, RepositoryIndexEntry>,
  Same<Static<typeof FeedbackResultSchema>, FeedbackResult>,
] = [true, true, true, true, true, true, true, true, true, true];
/* eslint-enable @typescript-eslint/no-unused-vars */

// ---- routes ----
type In = 'path' | 'query';
interface Param {
  readonly name: string;
  readonly in: In;
  readonly description: string;
}
interface Route {
  readonly method: 'get' | 'post' | 'put' | 'delete';
  readonly path: string;
  readonly summary: string;
  /** Who may call it: open, any authenticated caller, or a permission (see server.ts routeNeed). */
  readonly access: 'open' | 'authenticated' | 'infer' | 'metrics' | 'admin';
  readonly body?: TSchema;
  readonly ok: TSchema | 'text';
  readonly errors: readonly number[];
  /** Only served with the admin API (and the repository extension) on. */
  readonly admin?: boolean;
}

const NAME: Param = { name: 'name', in: 'path', description: 'The model name' };
const VERSION: Param = { name: 'version', in: 'path', description: 'A loaded version of the model' };

/** Each /v2/models/{name}/X route also at /v2/models/{name}/versions/{version}/X. */
function versioned(r: Route): Route[] {
  const at = '/v2/models/{name}';
  return [r, { ...r, path: r.path.replace(at, `${at}/versions/{version}`), summary: `${r.summary} (one version)` }];
}

export const ROUTES: readonly Route[] = [
  { method: 'get', path: '/', summary: 'KServe V1 liveness', access: 'open', ok: Type.Object({ status: Type.Literal('alive') }), errors: [] },
  { method: 'get', path: '/v2/health/live', summary: 'Liveness', access: 'open', ok: Type.Object({ live: Type.Boolean() }), errors: [] },
  {
    method: 'get',
    path: '/v2/health/ready',
    summary: 'Readiness (503 while draining)',
    access: 'open',
    ok: Type.Object({ ready: Type.Boolean() }),
    errors: [503],
  },
  { method: 'get', path: '/v2', summary: 'Server metadata', access: 'authenticated', ok: ServerMetadataSchema, errors: [] },
  ...versioned({ method: 'get', path: '/v2/models/{name}', summary: 'Model metadata', access: 'infer', ok: ModelMetadataSchema, errors: [404] }),
  ...versioned({ method: 'get', path: '/v2/models/{name}/ready', summary: 'Model readiness', access: 'infer', ok: ModelReadySchema, errors: [404] }),
  ...versioned({
    method: 'post',
    path: '/v2/models/{name}/infer',
    summary: 'Inference (Open Inference Protocol; the binary tensor data extension too)',
    access: 'infer',
    body: InferRequestSchema,
    ok: InferResponseSchema,
    errors: [400, 404, 413, 429, 503],
  }),
  ...versioned({
    method: 'get',
    path: '/v2/models/{name}/config',
    summary: "Triton's model configuration",
    access: 'infer',
    ok: TritonConfigSchema,
    errors: [404],
  }),
  ...versioned({
    method: 'get',
    path: '/v2/models/{name}/stats',
    summary: "Triton's statistics extension",
    access: 'metrics',
    ok: TritonStatsSchema,
    errors: [404],
  }),
  { method: 'get', path: '/v2/models/stats', summary: "Triton's statistics of every loaded version", access: 'metrics', ok: TritonStatsSchema, errors: [] },
  {
    method: 'post',
    path: '/v2/models/{name}/feedback',
    summary: 'Late labels, joined to logged predictions by request id (404 when the server has no quality tracking)',
    access: 'infer',
    body: FeedbackRequestSchema,
    ok: FeedbackResultSchema,
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/v2/repository/index',
    summary: 'Model repository extension: every known model and its state',
    access: 'admin',
    admin: true,
    body: Type.Object({ ready: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    ok: Type.Array(RepositoryIndexEntrySchema),
    errors: [400],
  },
  {
    method: 'post',
    path: '/v2/repository/models/{name}/load',
    summary: 'Model repository extension: load (or reload) a model from a file or the registry',
    access: 'admin',
    admin: true,
    body: Type.Object(
      {
        parameters: Type.Optional(
          Type.Object({ ref: OptStr, path: OptStr, version: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 0 })])) }),
        ),
      },
      { additionalProperties: false },
    ),
    ok: Type.Object({ name: Str, load: Type.Literal(true), versions: Type.Array(Str) }),
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/v2/repository/models/{name}/unload',
    summary: 'Model repository extension: unload every version of a model',
    access: 'admin',
    admin: true,
    body: Type.Object({ parameters: Type.Optional(Type.Object({ unload_dependents: Type.Optional(Type.Boolean()) })) }, { additionalProperties: false }),
    ok: Type.Object({ name: Str, unload: Type.Literal(true) }),
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/v1/models',
    summary: 'KServe V1: the loaded models',
    access: 'authenticated',
    ok: Type.Object({ models: Type.Array(Str) }),
    errors: [],
  },
  {
    method: 'get',
    path: '/v1/models/{name}',
    summary: 'KServe V1: model readiness',
    access: 'infer',
    ok: Type.Object({ name: Str, ready: Type.Boolean() }),
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/models/{name}:predict',
    summary: "KServe V1 predict: rows or columns; answers as KServe's sklearn/XGBoost servers do",
    access: 'infer',
    body: V1PredictRequestSchema,
    ok: V1PredictResponseSchema,
    errors: [400, 404, 413, 429, 503],
  },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics (text exposition format)', access: 'metrics', ok: 'text', errors: [] },
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    access: 'authenticated',
    ok: Type.Object({ openapi: Str }, { additionalProperties: true }),
    errors: [],
  },
  {
    method: 'get',
    path: '/admin/models',
    summary: 'Admin: loaded models',
    access: 'admin',
    admin: true,
    ok: Type.Object({ models: Type.Array(ModelInfoSchema) }),
    errors: [],
  },
  {
    method: 'post',
    path: '/admin/models',
    summary: 'Admin: load a version (from the registry, or a file)',
    access: 'admin',
    admin: true,
    body: AdminLoadRequestSchema,
    ok: LoadedVersionSchema,
    errors: [400, 404],
  },
  { method: 'get', path: '/admin/models/{name}', summary: 'Admin: one loaded model', access: 'admin', admin: true, ok: ModelInfoSchema, errors: [404] },
  {
    method: 'delete',
    path: '/admin/models/{name}',
    summary: 'Admin: unload every version',
    access: 'admin',
    admin: true,
    ok: Type.Object({ unloaded: Str }),
    errors: [404],
  },
  {
    method: 'get',
    path: '/admin/models/{name}/traffic',
    summary: 'Admin: the traffic split',
    access: 'admin',
    admin: true,
    ok: TrafficSplitSchema,
    errors: [404],
  },
  {
    method: 'put',
    path: '/admin/models/{name}/traffic',
    summary: 'Admin: set the traffic split between loaded versions',
    access: 'admin',
    admin: true,
    body: TrafficSplitSchema,
    ok: TrafficSplitSchema,
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/admin/models/{name}/stats',
    summary: 'Admin: traffic, latency and quality per version',
    access: 'admin',
    admin: true,
    ok: ModelStatsSchema,
    errors: [404],
  },
  {
    method: 'delete',
    path: '/admin/models/{name}/versions/{version}',
    summary: 'Admin: unload one version',
    access: 'admin',
    admin: true,
    ok: Type.Object({ unloaded: Str }),
    errors: [400, 404],
  },
];

const STATUS_TEXT: Record<number, string> = {
  400: 'A malformed request: the message names the field and the fix',
  401: 'No or a bad credential',
  403: 'The credential lacks the permission',
  404: 'No such model, version or route',
  405: 'Another method is allowed here',
  413: 'The body is larger than the server takes',
  429: 'Too many requests in flight; retry',
  503: 'Draining or overloaded; retry',
};

/** The server's OpenAPI 3.1 document (its schemas are JSON Schema), from the schemas and ROUTES above. */
export function openApiDocument(o: { readonly version: string; readonly admin: boolean; readonly auth: boolean }): Record<string, unknown> {
  const { ref, components } = openApiSchemas();
  const error = { description: '', content: { 'application/json': { schema: ref(ErrorSchema) } } };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    if (r.admin && !o.admin) continue;
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => (m[1] === 'version' ? VERSION : NAME));
    const codes = [...r.errors, ...(r.method === 'get' ? [] : [405]), ...(o.auth && r.access !== 'open' ? [401, 403] : [])];
    (paths[r.path] ??= {})[r.method] = {
      summary: r.summary,
      ...(o.auth && r.access !== 'open' ? { security: [{ bearer: [] }] } : {}),
      ...(r.access !== 'open' && r.access !== 'authenticated' ? { 'x-ghosteam-permission': r.access } : {}),
      ...(params.length ? { parameters: params.map((p) => ({ ...p, required: true, schema: { type: 'string' } })) } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: r.method === 'put' || r.path.endsWith('/infer') || r.path.endsWith(':predict'),
              content: { 'application/json': { schema: ref(r.body) } },
            },
          }
        : {}),
      responses: {
        '200': {
          description: 'OK',
          content: r.ok === 'text' ? { 'text/plain': { schema: { type: 'string' } } } : { 'application/json': { schema: ref(r.ok) } },
        },
        ...Object.fromEntries([...new Set(codes)].sort().map((c) => [String(c), { ...error, description: STATUS_TEXT[c] ?? 'Error' }])),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ghosteam model server',
      version: o.version,
      description:
        'Open Inference Protocol (v2) with the binary tensor data, model repository, Triton config and statistics extensions; KServe V1 predict; admin API.',
    },
    paths,
    components: { schemas: components(), ...(o.auth ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {}) },
  };
}
