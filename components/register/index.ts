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
 */
import { readFile } from 'node:fs/promises';
import { defineComponent, type ParamValue } from '../component.ts';
import { datasetDigest } from '../dataset/index.ts';
import { Params } from '../params.ts';
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
    datasetDigest: pick(params.datasetDigest),
    reason: pick(params.reason, params['ghosteam.reason'], env.GHOSTEAM_REASON),
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
  async run(ctx) {
    const p = new Params('register', ctx);
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
    const mv = await reg.registerVersion(name, {
      artifactPath: p.input('model'),
      format: p.string('format', 'onnx'),
      metrics,
      params,
      tags: Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)])),
      lineage,
    });
    const alias = p.string('alias', undefined);
    if (alias) await reg.setAlias(name, alias, mv.version);
    ctx.log(`registered ${name} version ${mv.version} in the ${reg.kind} registry${alias ? ` as @${alias}` : ''} (${mv.digest ?? 'no digest'})`);
    ctx.setOutput('version', mv.version);
    ctx.setOutput('modelRef', `${name}@${mv.version}`);
    ctx.setOutput('registry', reg.kind);
  },
});
