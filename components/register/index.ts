/**
 * register: registers a model file in the model registry with its metrics, params and lineage.
 *
 * Inputs:
 *   model    the model file to register (the .onnx from export-onnx)
 *   metrics  optional: evaluate's metrics artifact; its numeric `metrics` are recorded
 *   dataset  optional: a dataset whose digest is recorded as lineage (else param datasetDigest)
 *   trained  optional: train-tabular's model artifact; its training settings are recorded as params
 * Params:
 *   name      registered model name (required)
 *   alias     optional alias to point at the new version (e.g. challenger)
 *   tags      optional JSON object of string tags
 *   registry  optional: an http(s) MLflow tracking URI or a local registry directory; default
 *             openRegistry(): MLFLOW_TRACKING_URI, else GHOSTEAM_REGISTRY_DIR, else .ghosteam/registry
 *   format    default 'onnx'
 *   datasetDigest, reason ('drift' | 'git-change' | 'schedule' | 'manual'), runId, pipeline, gitCommit:
 *             lineage; each defaults to the run context, read in this order:
 *               1. the engine's reserved params 'ghosteam.runId', 'ghosteam.pipeline', 'ghosteam.gitCommit'
 *               2. env GHOSTEAM_RUN_ID, GHOSTEAM_PIPELINE, GHOSTEAM_GIT_COMMIT, GHOSTEAM_REASON
 *                  (in a container: the Argo compiler sets GHOSTEAM_RUN_ID to {{workflow.name}})
 * Output params: version (number), modelRef ('name@version'), registry ('local' | 'mlflow').
 *
 * Exactly once: the version records the run id and task (lineage.runId, lineage.task), and a
 * registration from the same pair returns that version (a run killed after registering and resumed
 * registers nothing new). Bytes identical to an existing version reuse it (a cached re-run is not
 * a new version). The model's bytes must match the digest the engine recorded for the artifact.
 */
import { readFile } from 'node:fs/promises';
import { defineComponent, type ParamValue } from '../component.ts';
import { datasetDigest } from '../dataset/index.ts';
import { Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { openRegistry } from '../registry/index.ts';
import type { Lineage } from '../registry/types.ts';
import { readModel } from '../train-tabular/model.ts';
import { clean } from '../../api/json.ts';

/** The lineage from params, the engine's reserved params and the environment (pure). */
export function lineageFrom(params: Readonly<Record<string, ParamValue>>, env: NodeJS.ProcessEnv): Lineage {
  const pick = (...vals: unknown[]): string | undefined => {
    for (const v of vals) if (typeof v === 'string' && v !== '') return v;
    return undefined;
  };
  const l: Lineage = {
    runId: pick(params.runId, params['ghosteam.runId'], env.GHOSTEAM_RUN_ID),
    pipeline: pick(params.pipeline, params['ghosteam.pipeline'], env.GHOSTEAM_PIPELINE),
    gitCommit: pick(params.gitCommit, params['ghosteam.gitCommit'], env.GHOSTEAM_GIT_COMMIT),
    gitDirty: pick(params['ghosteam.gitDirty'], env.GHOSTEAM_GIT_DIRTY),
    datasetDigest: pick(params.datasetDigest),
    reason: pick(params.reason, params['ghosteam.reason'], env.GHOSTEAM_REASON),
    task: pick(params['ghosteam.task'], env.GHOSTEAM_NODE, env.GHOSTEAM_TASK),
  };
  return clean(l);
}

export const register = defineComponent({
  name: 'register',
  version: '1',
  description: 'Registers a model in the model registry (local or MLflow) with metrics, params and lineage',
  inputs: [
    { name: 'model', kind: 'model', description: 'The model file (.onnx)' },
    { name: 'metrics', kind: 'metrics', optional: true },
    { name: 'dataset', kind: 'dataset', optional: true },
    { name: 'trained', kind: 'model', optional: true, description: "train-tabular's model artifact (for its training params)" },
  ],
  outputs: [],
  outputParams: ['version', 'modelRef', 'registry'],
  params: PARAMS.register,
  async run(ctx) {
    const p = new Params('register', ctx, PARAMS.register);
    const name = p.string('name');
    const reg = (() => {
      const r = p.string('registry', undefined);
      if (!r) return openRegistry();
      return /^https?:\/\//.test(r) ? openRegistry({ trackingUri: r }) : openRegistry({ dir: r });
    })();
    const metrics: Record<string, number> = {};
    const metricsPath = p.optionalInput('metrics');
    if (metricsPath) {
      const doc = JSON.parse(await readFile(metricsPath, 'utf8')) as { metrics?: Record<string, unknown> };
      for (const [k, v] of Object.entries(doc.metrics ?? {})) if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
    }
    const params: Record<string, string> = {};
    const trained = p.optionalInput('trained');
    if (trained) {
      const m = await readModel(trained);
      params.kind = m.net.kind;
      params.task = m.task ?? 'binary';
      if (m.label !== undefined) params.label = m.label;
      if (m.classes) params.classes = m.classes.join(',');
      params.features = m.net.featureNames.join(',');
      for (const [k, v] of Object.entries(m.training)) if (k !== 'losses' && k !== 'durationMs') params[k] = Array.isArray(v) ? v.join(',') : String(v);
    }
    const lineage = { ...lineageFrom(ctx.params, process.env) } as Record<string, string>;
    const ds = p.optionalInput('dataset');
    if (ds) lineage.datasetDigest = await datasetDigest(ds);
    const tags = p.json<Record<string, string>>('tags', {});
    // The engine passes the store digest of each input: bytes that no longer match are never registered.
    const inputDigests = ctx.params['ghosteam.inputDigests'];
    const expected =
      inputDigests && typeof inputDigests === 'object' && !Array.isArray(inputDigests) ? (inputDigests as Record<string, unknown>).model : undefined;
    const mv = await reg.registerVersion(name, {
      artifactPath: p.input('model'),
      reuseIdentical: true,
      ...(typeof expected === 'string' ? { expectedDigest: expected } : {}),
      format: p.string('format', 'onnx'),
      metrics,
      params,
      tags: Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)])),
      lineage,
    });
    const alias = p.string('alias', undefined);
    if (alias) await reg.setAlias(name, alias, mv.version);
    const how =
      mv.reused === 'run'
        ? `${name} version ${mv.version} was already registered by this run (${lineage.runId}, task ${lineage.task}); not registering it again`
        : mv.reused === 'digest'
          ? `${name} version ${mv.version} already holds these exact bytes (${mv.digest}); reusing it instead of registering a new version`
          : `registered ${name} version ${mv.version} in the ${reg.kind} registry (${mv.digest ?? 'no digest'})`;
    ctx.log(`${how}${alias ? `; @${alias} points at it` : ''}`);
    ctx.setOutput('version', mv.version);
    ctx.setOutput('modelRef', `${name}@${mv.version}`);
    ctx.setOutput('registry', reg.kind);
  },
});
