/**
 * get-historical-features: the point-in-time correct training set, as a pipeline step.
 *
 * Input:  entities  a dataset of join keys and an event-timestamp column (one row per example,
 *                   usually with its label).
 * Output: dataset   the entity rows, in order, with one column per requested feature: for each
 *                   row, each feature's latest value at or before the row's time and within its
 *                   view's TTL (historical.ts), null where there is none.
 * Params:
 *   views             the feature views the features come from, { name: FeatureViewSpec } (what
 *                     `FeatureService.historicalFeatures` writes from the declarations)
 *   features          'view:feature' references, in output order
 *   timestampColumn   the entity rows' event-time column (default 'event_timestamp')
 *   fullFeatureNames  name the columns view__feature (default false)
 * Sources are read as their view declares (sources.ts); relative file paths from the working
 * directory. Output params: rows, features (count), found (share of feature values present).
 */
import { API_VERSION, type FeatureViewSpec } from '../../api/crds/types.ts';
import { validateGhosteamObject } from '../../api/crds/validate.ts';
import { defineComponent } from '../component.ts';
import { isNull, readDataset, writeDataset } from '../dataset/index.ts';
import { ParamError, Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { DEFAULT_ENTITY_TIMESTAMP, getHistoricalFeatures, resolveRefs, type ViewData } from './historical.ts';
import { readViewSource } from './sources.ts';

/** The `views` param checked against the FeatureView spec schema; errors name the view and the field. */
export function parseViewsParam(raw: unknown): Map<string, FeatureViewSpec> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ParamError(`get-historical-features: param 'views' must be an object of feature view name → spec, got ${JSON.stringify(raw)}`);
  const out = new Map<string, FeatureViewSpec>();
  for (const [name, spec] of Object.entries(raw)) {
    const obj = { apiVersion: API_VERSION, kind: 'FeatureView', metadata: { name }, spec };
    const errs = validateGhosteamObject(obj);
    if (errs.length)
      throw new ParamError(`get-historical-features: param 'views', feature view '${name}': ${errs.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    out.set(name, spec as FeatureViewSpec);
  }
  return out;
}

export const getHistoricalFeaturesComponent = defineComponent({
  name: 'get-historical-features',
  version: '1',
  description: 'Point-in-time correct join of entity rows with feature views (a training set)',
  inputs: [{ name: 'entities', kind: 'dataset' }],
  outputs: [{ name: 'dataset', kind: 'dataset' }],
  outputParams: ['rows', 'features', 'found'],
  params: PARAMS['get-historical-features'],
  async run(ctx) {
    const p = new Params('get-historical-features', ctx, PARAMS['get-historical-features']);
    const views = parseViewsParam(p.json('views'));
    const refs = p.list('features');
    // Checked before any source is read: a bad reference fails fast.
    const wanted = resolveRefs(refs, new Map([...views].map(([n, spec]) => [n, { spec }])), "param 'features'");
    const entities = await readDataset(p.input('entities'));
    const data: ViewData[] = [];
    for (const name of wanted.keys()) {
      ctx.signal.throwIfAborted();
      const spec = views.get(name)!;
      data.push({ name, spec, data: await readViewSource(name, spec) });
    }
    const ds = getHistoricalFeatures(entities, data, refs, {
      timestampColumn: p.string('timestampColumn', DEFAULT_ENTITY_TIMESTAMP),
      fullFeatureNames: p.boolean('fullFeatureNames', false),
      where: 'entities',
    });
    await writeDataset(p.output('dataset'), ds);
    const added = ds.columns.slice(entities.columns.length);
    let present = 0;
    for (const c of added) for (let i = 0; i < ds.rows; i++) if (!isNull(c, i)) present++;
    const found = ds.rows && added.length ? present / (ds.rows * added.length) : 0;
    ctx.log(`joined ${ds.rows} entity rows with ${added.length} features from ${data.length} views; ${(found * 100).toFixed(1)}% of values found`);
    ctx.setOutput('rows', ds.rows);
    ctx.setOutput('features', added.length);
    ctx.setOutput('found', found);
  },
});
