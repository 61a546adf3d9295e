/**
 * `FeatureService`: the named set of features a model uses, from one or more feature views, in the
 * order the model sees them. A pipeline's `get-historical-features` step builds its training set
 * from it, and the online lookup serves the same features by entity key. Synthesizes a ghosteam
 * `FeatureService` resource.
 *
 *   new FeatureService(chart, 'fraud-features', { features: [driverStats.select('conv_rate'), customer] });
 *
 * @see https://docs.feast.dev/getting-started/concepts/feature-retrieval#feature-services
 */
import { Construct } from 'constructs';
import { messages } from '../pipelines/check.ts';
import { dnsLabelProblem } from '../api/names.ts';
import { API_VERSION, MISSING_FEATURE_POLICIES, type FeatureServiceSpec, type FeatureViewSpec, type MissingFeaturePolicy } from '../api/crds/types.ts';
import { ValidationError, type Issue } from '../api/errors.ts';
import { RenderedObject } from '../api/rendered-object.ts';
import type { ParamValue } from '../components/component.ts';
import { type FeatureSelection, FeatureView } from './feature-view.ts';
import { Cache, type ArtifactRef, type Pipeline, type Task, type ComponentTaskProps } from '../pipelines/index.ts';

/** @default of FeatureServiceProps.onMissing */
export const DEFAULT_ON_MISSING: MissingFeaturePolicy = 'nan';

export interface FeatureServiceProps {
  /** @default - the construct id */
  readonly name?: string;
  /** Whole views (every feature) or `view.select(...)`. */
  readonly features: readonly (FeatureView | FeatureSelection)[];
  /**
   * A feature that is missing, or older than its view's TTL, at lookup: 'nan' (null), 'default'
   * (the value in `defaults`) or 'reject' (the request fails with a 4xx naming the feature).
   * @default 'nan'
   */
  readonly onMissing?: MissingFeaturePolicy;
  /** Per feature ('view:feature'), the value used when onMissing is 'default'. @default - none */
  readonly defaults?: Readonly<Record<string, number | string | boolean>>;
  readonly description?: string;
  /** @default - the chart's namespace */
  readonly namespace?: string;
}

export class FeatureService extends Construct {
  readonly name: string;
  readonly spec: FeatureServiceSpec;
  /** The views the service reads, by name (what a pipeline step needs to join them). */
  readonly views: ReadonlyMap<string, FeatureViewSpec>;

  constructor(scope: Construct, id: string, props: FeatureServiceProps) {
    super(scope, id);
    const path = this.node.path;
    this.name = props.name ?? id;
    const issues: Issue[] = [];
    if (dnsLabelProblem(this.name)) issues.push({ path, field: 'name', message: messages.notDns(this.name) });
    if (props.features.length === 0) issues.push({ path, field: 'features', message: 'is empty; list feature views or view.select(...) of them' });
    const onMissing = props.onMissing ?? DEFAULT_ON_MISSING;
    if (!(MISSING_FEATURE_POLICIES as readonly string[]).includes(onMissing))
      issues.push({ path, field: 'onMissing', message: `'${String(onMissing)}' is not a policy; use one of ${MISSING_FEATURE_POLICIES.join(', ')}` });
    const groups: FeatureServiceSpec['features'] = [];
    const views = new Map<string, FeatureViewSpec>();
    const refs = new Set<string>();
    const outputNames = new Map<string, string>();
    for (const [i, item] of props.features.entries()) {
      const sel = item instanceof FeatureView ? item.select(...item.spec.features.map((f) => f.name)) : item;
      const view = sel.view;
      const field = `features[${i}]`;
      if (views.has(view.name) && views.get(view.name) !== view.spec)
        issues.push({ path, field, message: `names a second feature view called '${view.name}'; feature view names must be unique` });
      views.set(view.name, view.spec);
      if (sel.features.length === 0) issues.push({ path, field, message: `selects no features of '${view.name}'; name at least one` });
      for (const f of sel.features) {
        if (!view.spec.features.some((x) => x.name === f)) {
          issues.push({ path, field, message: `'${view.name}' has no feature '${f}'; it has ${view.spec.features.map((x) => x.name).join(', ')}` });
          continue;
        }
        const ref = `${view.name}:${f}`;
        if (refs.has(ref)) issues.push({ path, field, message: `selects '${ref}' twice; keep one` });
        refs.add(ref);
        const other = outputNames.get(f);
        if (other && other !== view.name)
          issues.push({
            path,
            field,
            message: `feature '${f}' is in both '${other}' and '${view.name}'; a training set can hold one column '${f}', select only one`,
          });
        outputNames.set(f, view.name);
      }
      const existing = groups.find((g) => g.featureView === view.name);
      if (existing) existing.features.push(...sel.features.filter((f) => !existing.features.includes(f)));
      else groups.push({ featureView: view.name, features: [...sel.features] });
    }
    const defaults = props.defaults ?? {};
    for (const [ref, value] of Object.entries(defaults)) {
      const [v, f] = ref.split(':');
      const decl = views.get(v)?.features.find((x) => x.name === f);
      if (!refs.has(ref) || !decl) {
        issues.push({ path, field: `defaults.${ref}`, message: `is not a feature of this service; use 'view:feature', one of ${[...refs].join(', ')}` });
        continue;
      }
      const ok = decl.type === 'string' ? typeof value === 'string' : decl.type === 'bool' ? typeof value === 'boolean' : typeof value === 'number';
      if (!ok || (decl.type === 'int64' && !Number.isInteger(value)))
        issues.push({ path, field: `defaults.${ref}`, message: `(${JSON.stringify(value)}) does not fit the feature's type ${decl.type}` });
    }
    if (onMissing === 'default') {
      const without = [...refs].filter((r) => !(r in defaults));
      if (without.length)
        issues.push({ path, field: 'defaults', message: `has no value for ${without.join(', ')}; onMissing 'default' needs one per feature` });
    }
    if (issues.length) throw new ValidationError(issues);

    this.views = views;
    this.spec = {
      features: groups,
      onMissing,
      ...(Object.keys(defaults).length ? { defaults: { ...defaults } } : {}),
      ...(props.description ? { description: props.description } : {}),
    };
    new RenderedObject(this, 'FeatureService', {
      apiVersion: API_VERSION,
      kind: 'FeatureService',
      name: this.name,
      namespace: props.namespace,
      owner: this,
      render: () => ({ body: { spec: this.spec } }),
    });
  }

  /**
   * Adds a `get-historical-features` step to `pipeline`: the entity rows (join keys, an event-time
   * column, usually the label) joined point-in-time with this service's features; its
   * `outputs.dataset` feeds `train-tabular`, `split` or a Python step.
   *
   *   const training = service.historicalFeatures(pipeline, 'features', { entities: ingest.outputs.dataset });
   *   pipeline.component('split', 'split', { inputs: { dataset: training.outputs.dataset } });
   *
   * The step's cache is off by default: the sources are read by path, so the step cache could not
   * see them change.
   */
  historicalFeatures(
    pipeline: Pipeline,
    id: string,
    props: Omit<ComponentTaskProps, 'inputs' | 'params'> & {
      readonly entities: ArtifactRef;
      /** The entity rows' event-time column. @default 'event_timestamp' */
      readonly timestampColumn?: string;
      /** Name the columns view__feature. @default false */
      readonly fullFeatureNames?: boolean;
    },
  ): Task {
    const { entities, timestampColumn, fullFeatureNames, ...rest } = props;
    return pipeline.component(id, 'get-historical-features', {
      cache: Cache.disabled(),
      ...rest,
      inputs: { entities },
      params: {
        // Through JSON: a spec's optional fields are never undefined in a param.
        views: JSON.parse(JSON.stringify(Object.fromEntries(this.views))) as ParamValue,
        features: this.featureRefs,
        ...(timestampColumn ? { timestampColumn } : {}),
        ...(fullFeatureNames ? { fullFeatureNames } : {}),
      },
    });
  }

  /** Every feature as 'view:feature', in order. */
  get featureRefs(): string[] {
    return this.spec.features.flatMap((g) => g.features.map((f) => `${g.featureView}:${f}`));
  }
}
