/**
 * Online features at serving time: a model that names a FeatureService takes entity keys instead of
 * tensors. `POST /v2/models/{name}/infer` with `{"entities": [{"driver_id": 1001}, ...]}` (no
 * `inputs`) looks the service's features up in its online store (SQLite or Redis, one read per view),
 * applies the service's policy to a missing or stale value (NaN, the declared default, or a 404
 * naming the feature and the entity), and builds the model's one [N, k] input from them, in the
 * service's order; the request then runs as any other, and the payload log records that input, so
 * drift sees the features the model saw. A key the service does not have, a missing key or one of
 * the wrong type is a 400 naming the field. Values by status (present, missing, stale) are counted
 * in `ghosteam_model_feature_values_total`.
 */
import { Counter, type Registry } from 'prom-client';
import { FeaturesError, joinKeysOf } from '../features/keys.ts';
import type { OnlineStore } from '../features/materialize.ts';
import { FeatureLookupError, getOnlineFeatures, serviceRefs, type ServiceDef } from '../features/online.ts';
import { RequestError, type TensorSpec } from './tensors.ts';

/** A model's feature service and the store its features are read from. */
export interface ModelFeatures {
  readonly service: ServiceDef;
  readonly store: OnlineStore;
}

/** Most entities in one request. */
const MAX_ENTITIES = 10_000;
const NUMERIC = new Set(['FP32', 'FP64', 'FP16', 'INT64', 'INT32', 'INT16', 'INT8', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

export class FeatureInputs {
  private readonly refs: string[];
  private readonly keys: Set<string>;
  private readonly values: Counter<'model' | 'status'>;

  constructor(
    readonly model: string,
    readonly features: ModelFeatures,
    registry: Registry,
  ) {
    const svc = features.service;
    this.refs = serviceRefs(svc);
    for (const g of svc.spec.features) {
      const view = svc.views.get(g.featureView)!;
      for (const f of g.features) {
        const t = view.features.find((x) => x.name === f)?.type;
        if (t === 'string')
          throw new FeaturesError(
            `model '${model}': feature service '${svc.name}' has the string feature '${g.featureView}:${f}', which cannot feed a numeric tensor; encode it as a number in the view`,
          );
      }
    }
    this.keys = new Set([...svc.views.values()].flatMap((v) => joinKeysOf(v.entities)).map((k) => k.name));
    this.values =
      (registry.getSingleMetric('ghosteam_model_feature_values_total') as Counter<'model' | 'status'> | undefined) ??
      new Counter({
        name: 'ghosteam_model_feature_values_total',
        help: 'Online feature values a model was given, by status: present, missing (no value for the entity), stale (older than the view TTL)',
        labelNames: ['model', 'status'],
        registers: [registry],
      });
  }

  /** Checks that the model's inputs take the service's features: one numeric input of [N, k]. */
  check(inputs: readonly TensorSpec[]): void {
    const svc = this.features.service.name;
    if (inputs.length !== 1)
      throw new FeaturesError(
        `model '${this.model}' has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); a model fed by feature service '${svc}' takes one [N, ${this.refs.length}] input`,
      );
    const [i] = inputs;
    const k = i.shape[1];
    if (!NUMERIC.has(i.datatype) || i.shape.length !== 2 || (k !== -1 && k !== this.refs.length))
      throw new FeaturesError(
        `model '${this.model}': its input '${i.name}' is ${i.datatype} [${i.shape.join(', ')}], but feature service '${svc}' gives ${this.refs.length} numeric features per entity ([N, ${this.refs.length}])`,
      );
  }

  /** The request's entities → the model's raw OIP input (what decodeInputs reads). Errors are RequestErrors. */
  async inputsFor(entities: unknown, inputs: readonly TensorSpec[]): Promise<unknown[]> {
    const rows = entityRows(entities);
    rows.forEach((r, i) => {
      for (const k of Object.keys(r))
        if (!this.keys.has(k))
          throw new RequestError(
            400,
            `entities[${i}].${k}: '${k}' is not a join key of feature service '${this.features.service.name}'; its keys are ${[...this.keys].join(', ')}`,
          );
    });
    let r;
    try {
      r = await getOnlineFeatures(this.features.store, this.features.service, rows, { now: Date.now() });
    } catch (e) {
      if (e instanceof FeatureLookupError) {
        this.values.inc({ model: this.model, status: /is stale/.test(e.message) ? 'stale' : 'missing' });
        throw new RequestError(404, e.message);
      }
      if (e instanceof FeaturesError) throw new RequestError(400, e.message);
      throw e;
    }
    if (r.missing) this.values.inc({ model: this.model, status: 'missing' }, r.missing);
    if (r.stale) this.values.inc({ model: this.model, status: 'stale' }, r.stale);
    this.values.inc({ model: this.model, status: 'present' }, rows.length * this.refs.length - r.missing - r.stale);
    const k = this.refs.length;
    const data: (number | null)[] = new Array(rows.length * k);
    for (let i = 0; i < rows.length; i++)
      for (let j = 0; j < k; j++) {
        const v = r.values[i][j];
        // null (a missing value under 'nan') is what decodeInputs reads as NaN in a float tensor.
        data[i * k + j] = v === null ? null : typeof v === 'boolean' ? Number(v) : (v as number);
      }
    const spec = inputs[0];
    return [{ name: spec.name, datatype: spec.datatype, shape: [rows.length, k], data }];
  }
}

function entityRows(entities: unknown): Record<string, unknown>[] {
  if (entities === undefined)
    throw new RequestError(400, 'give \'entities\', the join keys of each row, e.g. {"entities": [{"driver_id": 1001}]}, or \'inputs\' (tensors)');
  if (!Array.isArray(entities) || entities.length === 0)
    throw new RequestError(400, '\'entities\' must be a non-empty list of join key objects, e.g. [{"driver_id": 1001}]');
  if (entities.length > MAX_ENTITIES) throw new RequestError(413, `${entities.length} entities in one request; send at most ${MAX_ENTITIES}`);
  entities.forEach((e, i) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e))
      throw new RequestError(400, `entities[${i}] must be an object of join key → value, e.g. {"driver_id": 1001}`);
  });
  return entities as Record<string, unknown>[];
}
