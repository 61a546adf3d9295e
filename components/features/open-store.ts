/**
 * Opening a view's online store, and the feature spec file a model server reads: what both the
 * materialization step and the model server need, apart from the dataset and app code (the
 * model-server image carries this file, not those). Redis is imported statically (the image has
 * `@redis/client`); SQLite, the local store, only when a view uses it (the image does not carry
 * the native binding: a predictor pod reads Redis, and the Model construct refuses a SQLite store).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { ModelFeaturesSchema, type FeatureViewSpec, type ModelFeatures } from '../../api/crds/types.ts';
import { FeaturesError } from './keys.ts';
import type { OnlineStore } from './materialize.ts';
import type { ServiceDef } from './online.ts';
import { RedisOnlineStore } from './redis-store.ts';

/** The environment variable holding the Redis URL (in a cluster: from the Secret the view names, by secretKeyRef). */
export const STORE_URL_ENV = 'GHOSTEAM_ONLINE_STORE_URL';

/** The feature spec file `ghosteam serve` feeds its model from when no --feature-spec is given (a Model with features sets it). */
export const FEATURE_SPEC_ENV = 'GHOSTEAM_FEATURE_SPEC';

/** Where a view's SQLite store is when it names no path (`OnlineStore.sqlite()`'s default, charts/feature-view.ts). */
export const DEFAULT_SQLITE_PATH = '.ghosteam/online.db';

/** Opens the view's online store: the SQLite file it names (relative to `baseDir`), or Redis from the URL in `env`. */
export async function openOnlineStore(
  name: string,
  spec: FeatureViewSpec,
  opts: { env?: Readonly<Record<string, string | undefined>>; baseDir?: string; readOnly?: boolean } = {},
): Promise<OnlineStore> {
  const ref = spec.onlineStore ?? { type: 'sqlite' as const };
  if (ref.type === 'sqlite') {
    const path = resolve(opts.baseDir ?? process.cwd(), ref.path ?? DEFAULT_SQLITE_PATH);
    const { SqliteOnlineStore } = await import('./sqlite-store.ts').catch((e: unknown) => {
      if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
      throw new FeaturesError(
        `feature view '${name}': its online store is a SQLite file (${path}), which this installation does not carry (the model-server image reads Redis); use OnlineStore.redis(...) in a cluster, or the ghosteam npm package locally`,
      );
    });
    return SqliteOnlineStore.open({ path, readOnly: opts.readOnly ?? false });
  }
  const url = (opts.env ?? process.env)[STORE_URL_ENV];
  if (!url)
    throw new FeaturesError(
      `feature view '${name}': its online store is Redis; set ${STORE_URL_ENV} to its redis:// URL (in a cluster it comes from the Secret ${ref.secretRef?.name}/${ref.secretRef?.key})`,
    );
  return RedisOnlineStore.connect({ url });
}

/** The document a model server reads (canonical: the order of views is the service's). */
export function modelFeaturesDoc(svc: ServiceDef): ModelFeatures {
  return {
    service: svc.name,
    spec: structuredClone(svc.spec),
    views: Object.fromEntries(svc.spec.features.map((g) => [g.featureView, structuredClone(svc.views.get(g.featureView)!)])),
  };
}

let validate: ValidateFunction<ModelFeatures> | undefined;

/** Checks a parsed feature spec document against its type (api/crds/types.ts); `where` (the file) is named in the error. */
export function parseModelFeatures(data: unknown, where: string): ServiceDef {
  validate ??= new Ajv({ allErrors: true, strict: false, validateFormats: false }).compile<ModelFeatures>(ModelFeaturesSchema);
  if (!validate(data)) {
    const e = (validate.errors ?? []).slice(0, 3);
    throw new FeaturesError(
      `${where} is not a feature spec (${e.map((x) => `${x.instancePath || '/'}: ${x.message}`).join('; ')}); it is what a Model with features synthesizes into its <model>-features ConfigMap`,
    );
  }
  const doc = data;
  for (const g of doc.spec.features)
    if (!doc.views[g.featureView]) throw new FeaturesError(`${where}: the service reads feature view '${g.featureView}', which the file does not define`);
  return { name: doc.service, spec: doc.spec, views: new Map(Object.entries(doc.views)) };
}

/** Reads a feature spec file (`ghosteam serve --feature-spec`). */
export function readModelFeatures(file: string): ServiceDef {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FeaturesError(`--feature-spec ${file}: ${(e as Error).message}`);
  }
  return parseModelFeatures(data, file);
}

/** The one store a service's views share (a service reads one store). */
export function serviceStore(svc: ServiceDef): [string, FeatureViewSpec] {
  const stores = new Set([...svc.views.values()].map((v) => JSON.stringify(v.onlineStore ?? { type: 'sqlite' })));
  if (stores.size > 1) throw new FeaturesError(`feature service '${svc.name}': its views use more than one online store; one service reads one store`);
  return [...svc.views][0];
}
