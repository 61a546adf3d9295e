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
import { isNull, readDataset } from '../dataset/index.ts';
import { readDatasetChunks, writeDatasetChunks } from '../dataset/stream.ts';
import { ParamError, Params } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { DEFAULT_ENTITY_TIMESTAMP, historicalJoiner, resolveRefs, type ViewData } from './historical.ts';
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
    const data: ViewData[] = [];
    for (const name of wanted.keys()) {
      ctx.signal.throwIfAborted();
      const spec = views.get(name)!;
      data.push({ name, spec, data: await readViewSource(name, spec) });
    }
    const join = historicalJoiner(data, refs, {
      timestampColumn: p.string('timestampColumn', DEFAULT_ENTITY_TIMESTAMP),
      fullFeatureNames: p.boolean('fullFeatureNames', false),
      where: 'entities',
    });
    // The entity rows a record batch at a time, each joined and written before the next is read:
    // memory is the views and one batch, whatever the length of the entity file.
    let present = 0;
    let cells = 0;
    let addedCount = 0;
    const entitiesPath = p.input('entities');
    const out = await writeDatasetChunks(
      p.output('dataset'),
      (async function* () {
        let seen = false;
        for await (const chunk of readDatasetChunks(entitiesPath)) {
          ctx.signal.throwIfAborted();
          const ds = join(chunk, chunk.offset);
          const added = ds.columns.slice(chunk.columns.length);
          addedCount = added.length;
          for (const c of added) for (let i = 0; i < ds.rows; i++) if (!isNull(c, i)) present++;
          cells += ds.rows * added.length;
          seen = true;
          yield ds;
        }
        // An empty entity file still gets its columns (an Arrow file with a schema and no batch).
        if (!seen) {
          const empty = await readDataset(entitiesPath);
          const ds = join(empty);
          addedCount = ds.columns.length - empty.columns.length;
          yield ds;
        }
      })(),
    );
    const ds = { rows: out.rows };
    const found = cells ? present / cells : 0;
    ctx.log(`joined ${ds.rows} entity rows with ${addedCount} features from ${data.length} views; ${(found * 100).toFixed(1)}% of values found`);
    ctx.setOutput('rows', ds.rows);
    ctx.setOutput('features', addedCount);
    ctx.setOutput('found', found);
  },
});
