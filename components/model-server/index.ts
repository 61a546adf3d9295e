/**
 * ghosteam's model server: Open Inference Protocol (KServe V2) REST and KServe V1 predict, on
 * onnxruntime-node. It runs in-process (`startModelServer`), from the CLI (`ghosteam serve`) and in
 * the cluster as the KServe ServingRuntime image (images/model-server).
 *
 * ```ts
 * const server = await startModelServer({ models: [{ ref: 'fraud@champion' }], registry, port: 0 });
 * const admin = new ModelServerAdminClient(server.url);
 * await admin.load({ ref: 'fraud@3' });
 * await admin.setTraffic('fraud', { stable: '2', canary: '3', canaryPercent: 10 });
 * ...
 * await server.close();   // drains in-flight requests
 * ```
 *
 * ## Inference (Open Inference Protocol, ../shared/upstream/open-inference-protocol)
 * - `GET  /v2/health/live`, `GET /v2/health/ready` (503 while draining). Never need the token.
 * - `GET  /v2` server metadata.
 * - `GET  /v2/models/{name}[/versions/{v}]` model metadata (platform `onnxruntime_onnx`, inputs,
 *   outputs with -1 for variable dims); `…/ready`.
 * - `POST /v2/models/{name}[/versions/{v}]/infer` JSON tensors (BOOL, UINT8-64, INT8-64, FP16 and
 *   BF16 as numbers rounded to the nearest half/bfloat16, FP32, FP64, BYTES; out-of-range values
 *   are 400s; a bfloat16 model is loaded with float32 Casts at its edges, as onnxruntime-node 1.30
 *   has no bfloat16 Tensor; float8/int4 models can't be loaded and say so),
 *   row-major `data` (flat or nested), `parameters`, requested `outputs`; also the binary tensor
 *   data extension (`Inference-Header-Content-Length`, `binary_data_size`, `binary_data`,
 *   `binary_data_output`), tritonclient's default. The response has
 *   `model_name`, `model_version`, `id` (the request's, `x-request-id`, or generated) and outputs,
 *   plus an `x-ghosteam-version` header naming the version that answered.
 * - `POST /v1/models/{name}:predict` → `{"predictions": [...]}`, one per row: `{"instances": [[...], ...]}`
 *   (single-input models), `{"instances": [{"a": [...], "b": [...]}, ...]}` (rows keyed by input name)
 *   or `{"inputs": {"a": [[...], ...], "b": [...]}}` (columns); see ./v1.ts.
 *   `GET /v1/models` → `{"models": [...]}`, `GET /v1/models/{name}` → `{"name", "ready"}`, and
 *   `GET /` → `{"status": "alive"}` (KServe V1 liveness; no token, like /v2/health).
 * - `GET  /metrics` Prometheus (see ./metrics.ts for the series: requests, errors by code,
 *   latency, batch size, queue delay, all labelled model and version).
 *
 * ## Routing between versions
 * An unversioned request goes to the model's traffic split: `stable` answers, except that
 * `canaryPercent`% of requests go to `canary`. With `shadow: true` the stable version answers all of
 * them and the canary gets a copy of that share whose answer is dropped (but counted in its
 * metrics and payload log). The header `x-ghosteam-version: 3` pins a request to version 3.
 * A versioned path (`/v2/models/fraud/versions/3/infer`) always goes to that version.
 * The first version loaded for a name is its stable version until traffic says otherwise.
 *
 * ## Admin API (same bearer token; on by default only on loopback or with a token; `admin: false` disables it)
 * - `GET    /admin/models` → `{"models":[{name, versions:[{version, source, loadedAt, batching, batchingReason, inputs, outputs}], traffic}]}`
 *   (`batchingReason`: the graph proof's verdict, or where it stopped; see ./graph.ts)
 * - `POST   /admin/models` `{"ref":"fraud@3"}` or `{"name":"fraud","version":"3","path":"/m/fraud.onnx"}`,
 *   optional `"stable": true` → the loaded version (idempotent for the same file; 409 for another).
 * - `GET    /admin/models/{name}`; `DELETE /admin/models/{name}` unloads every version.
 * - `DELETE /admin/models/{name}/versions/{v}` drains and unloads one version (409 if it is the
 *   stable one while others are loaded; a removed canary resets canaryPercent to 0).
 * - `GET|PUT /admin/models/{name}/traffic` `{"stable":"2","canary":"3","canaryPercent":10,"shadow":false}`
 *   (versions must be loaded; canary null clears it).
 * - `GET    /admin/models/{name}/stats` → `{"model","traffic","versions":{"3":{"requests","errors",
 *   "errorsByCode","errorRate","latencyMs":{"p50","p99","window"}}}}`, counted since load, latency
 *   over the last 2048 requests. `ModelServerAdminClient` wraps all of these.
 *
 * ## Model repository extension (OIP/Triton; on with the admin API, same token; see ./repository.ts)
 * - `POST /v2/repository/index` `{"ready": true}?` → `[{name, version, state: READY|UNAVAILABLE, reason}]`:
 *   loaded versions, versions loaded before and since unloaded, and registry models not loaded.
 * - `POST /v2/repository/models/{name}/load` `{"parameters": {"ref": "fraud@3"} | {"path": "/m/f.onnx", "version": "3"}}?`;
 *   with no parameters it reloads the versions this server had, else the registry's latest.
 * - `POST /v2/repository/models/{name}/unload` unloads every version (as `DELETE /admin/models/{name}`).
 *
 * ## Memory budget (`memoryBudget`, `ghosteam serve --memory-budget 1GiB`; see ./residency.ts)
 * Models are registered from their graph without a session (readModelSignature) and loaded by
 * their first request; past the budget they are evicted least recently used first and loaded again
 * by their next request (single flight; a model in use is never evicted; 503 when every resident model is in use);
 * the index keeps evicted versions READY with a reason; `/admin/models` says `resident`.
 *
 * ## Feedback and quality (delayed ground truth; see ./quality.ts)
 * - `POST /v2/models/{name}/feedback` `{"id": "<request id>", "label": 1, "timestamp": "…"}` or an
 *   array of them (`label` an array for a multi-row request, or `row`) → 200 `{"accepted", "matched",
 *   "duplicates", "corrected", "late", "unmatched", "unmatchedIds"}`; 404 (same body) when no label
 *   matched an answered request (the label is kept for a prediction logged later); 400 naming the
 *   item for a malformed item or a label of the wrong type (nothing of the request is taken).
 *   `ghosteam serve --feedback-log FILE` keeps labels durably (fsynced before the answer, replayed on
 *   start); predictions answered before a restart are re-read from the payload-log file.
 * - Quality per version over the window (`--quality-window`, default 1h): in the stats
 *   (`versions.{v}.quality`: task, samples, metrics) and in /metrics as
 *   `ghosteam_model_quality{model,version,metric}`, `ghosteam_model_quality_samples`,
 *   `ghosteam_model_feedback_total{outcome}`.
 *
 * ## Payload log (for the drift monitor)
 * One JSON object per sampled request (see ./payload-log.ts for the exact record), to a rotating
 * JSON Lines file or as CloudEvents to an HTTP sink; buffered, dropped and counted when full.
 *
 * ## Limits and errors
 * Every client mistake is a 4xx `{"error": "..."}` naming what was wrong: 400 bad JSON/tensors
 * (an output requested twice included), 401 token (`Bearer`, scheme case-insensitive), 404 unknown
 * model/version/route, 405 method, 408 request not in within `headersTimeoutMs` /
 * `requestTimeoutMs`, 409 conflicting load/unload, 413 body over `maxBodyBytes` (sent once the body
 * is read and dropped, up to `drainBodyBytes`, so clients that send before reading see it) or answer
 * over `maxResponseBytes`, 429 past `maxInflight` requests in flight (counted from when a body has
 * arrived: a slow sender holds no slot) or `maxInflightPerConnection` on one connection. 408 and 413
 * close the connection (`Connection: close`).
 *
 * ## More processes (`startServerCluster`, `ghosteam serve --workers N`; see ./cluster.ts)
 * N worker processes share the port; each admits ceil(maxInflight / N). Admin and repository
 * changes apply on every worker before the answer; /metrics, Triton statistics and admin stats
 * cover every worker; a payload log file is written by the primary alone; a worker that exits is
 * replaced and replays the changes before it listens.
 *
 * ## Shutdown
 * `close()` (SIGTERM in `ghosteam serve`): readiness turns 503, the listener stops accepting,
 * in-flight requests and requests arriving on open keep-alive connections are answered with
 * `Connection: close`; once none is left and no request came for `keepAliveGraceMs`, or after
 * `drainTimeoutMs`, every connection closes. In KServe's Knative mode (the one ghosteam's canary
 * traffic split uses) Knative's queue-proxy drains the pod before the server gets SIGTERM, and the
 * grace period is the revision timeout (300 s by default); Knative refuses a preStop hook or a grace
 * period of our own in a revision, so the manifests set neither (test/controllers/graceful-shutdown.test.ts).
 */
export { startModelServer, adminDefault, SERVER_DEFAULTS } from './server.ts';
export { startServerCluster, defaultWorkers, type ServerCluster, type ServerClusterOptions } from './cluster.ts';
export type { ModelServer, ModelServerOptions, LoadedVersionInfo, ModelInfo, ModelStats } from './server.ts';
export { ModelServerAdminClient, ModelServerAdminError } from './admin-client.ts';
export { parseModelSpec, type ModelSpec } from './models.ts';
export type { TrafficSplit } from './traffic.ts';
export type { BatchingOptions } from './batcher.ts';
export type { PayloadLogOptions, PayloadRecord } from './payload-log.ts';
export type { VersionStats } from './metrics.ts';
export type { TensorSpec, OipDatatype } from './tensors.ts';
export { QualityMonitor, computeQuality, parseFeedback, QUALITY_TASKS, QUALITY_DEFAULTS, FEEDBACK_OUTCOMES } from './quality.ts';
export type { QualityOptions, QualityTask, QualityMetrics, VersionQuality, FeedbackResult, FeedbackItem, FeedbackOutcome } from './quality.ts';
