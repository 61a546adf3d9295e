/**
 * `FeatureView`: features of one or more entities, read from a source with an event-timestamp
 * column, usable for `ttl` after their event time. Synthesizes a ghosteam `FeatureView` resource
 * (the registry of features: `kubectl get featureviews`, `ghosteam plan` explains changes to it);
 * training sets are joined point-in-time from the source (`get-historical-features`), and the
 * latest values are materialized into the online store for serving.
 *
 *   const driver = Entity.of('driver', { driver_id: 'int64' });
 *   const stats = new FeatureView(chart, 'driver-stats', {
 *     entities: [driver],
 *     source: FeatureSource.file('data/driver_stats.parquet', { timestampField: 'event_timestamp' }),
 *     ttl: '2h',
 *     features: [Field.float64('conv_rate'), Field.int64('trips')],
 *   });
 *
 * @see https://docs.feast.dev/getting-started/concepts/feature-view
 */
import { DEFAULT_SQLITE_PATH } from '../components/features/open-store.ts';
import { Construct } from 'constructs';
import { messages } from '../pipelines/check.ts';
import { dnsLabelProblem, parseDuration } from '../api/names.ts';
import {
  API_VERSION,
  JOIN_KEY_TYPES,
  type EntityDef,
  type FeatureField,
  type FeatureSource as FeatureSourceSpec,
  type FeatureValueType,
  type FeatureViewSpec,
  type JoinKeyType,
  type OnlineStoreRef,
} from '../api/crds/types.ts';
import { ValidationError, type Issue } from '../api/errors.ts';
import { RenderedObject } from '../api/rendered-object.ts';
import type { ParamValue } from '../components/component.ts';
import { type Schedule } from '../pipelines/resources.ts';
import { Pipeline } from '../pipelines/pipeline.ts';
import { Secret } from '../pipelines/values.ts';

const COLUMN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const columnProblem = (name: string) =>
  COLUMN.test(name) ? undefined : `'${name}' is not a column name; use letters, digits and '_', not starting with a digit`;

/** Something features are about (a driver, a customer), identified by its join keys. */
export class Entity {
  private constructor(readonly spec: EntityDef) {}
  /**
   * @param joinKeys column → type, e.g. `{ driver_id: 'int64' }` (several keys: a composite key)
   * @see https://docs.feast.dev/getting-started/concepts/entity
   */
  static of(name: string, joinKeys: Readonly<Record<string, JoinKeyType>>, opts: { description?: string } = {}): Entity {
    const where = `Entity.of('${name}')`;
    const p = columnProblem(name);
    if (p) throw new Error(`${where}: ${p}`);
    const keys = Object.entries(joinKeys);
    if (keys.length === 0) throw new Error(`${where}: give at least one join key, e.g. { ${name}_id: 'int64' }`);
    for (const [k, t] of keys) {
      const kp = columnProblem(k);
      if (kp) throw new Error(`${where}: join key ${kp}`);
      if (!(JOIN_KEY_TYPES as readonly string[]).includes(t))
        throw new Error(`${where}: join key '${k}' has type '${String(t)}'; use one of ${JOIN_KEY_TYPES.join(', ')}`);
    }
    return new Entity({ name, joinKeys: keys.map(([k, type]) => ({ name: k, type })), ...(opts.description ? { description: opts.description } : {}) });
  }
}

/** A typed feature column. */
export class Field {
  private constructor(readonly spec: FeatureField) {}
  static float64(name: string, opts: { description?: string } = {}): Field {
    return Field.make(name, 'float64', opts);
  }
  static int64(name: string, opts: { description?: string } = {}): Field {
    return Field.make(name, 'int64', opts);
  }
  static string(name: string, opts: { description?: string } = {}): Field {
    return Field.make(name, 'string', opts);
  }
  static bool(name: string, opts: { description?: string } = {}): Field {
    return Field.make(name, 'bool', opts);
  }
  private static make(name: string, type: FeatureValueType, opts: { description?: string }): Field {
    const p = columnProblem(name);
    if (p) throw new Error(`Field.${type}: ${p}`);
    return new Field({ name, type, ...(opts.description ? { description: opts.description } : {}) });
  }
}

export interface SourceTimestamps {
  /** The event-timestamp column: when each value became true. */
  readonly timestampField: string;
  /** Breaks ties between rows with the same event time (the later-created row wins). @default - none (the later row in the source wins) */
  readonly createdTimestampField?: string;
}

/** Where a view's rows come from. */
export class FeatureSource {
  private constructor(readonly spec: FeatureSourceSpec) {}
  /** A local Parquet, CSV, JSON Lines or Arrow file; relative paths are read from the working directory. @param opts.format @default - from the extension */
  static file(path: string, opts: SourceTimestamps & { format?: FeatureSourceSpec['format'] }): FeatureSource {
    if (!path) throw new Error('FeatureSource.file: give the path of the file');
    const format = opts.format ?? sourceFormatOf(path);
    if (!format)
      throw new Error(`FeatureSource.file('${path}'): can't tell the format from the extension; name a .parquet, .csv, .jsonl or .arrow file or set format`);
    return FeatureSource.make({ kind: 'file', uri: path, format }, opts, `FeatureSource.file('${path}')`);
  }
  /** An object-storage (s3://) or http(s):// URI. @param opts.format @default - from the extension */
  static uri(uri: string, opts: SourceTimestamps & { format?: FeatureSourceSpec['format'] }): FeatureSource {
    if (!/^(s3|https?):\/\/[^/]+/.test(uri)) throw new Error(`FeatureSource.uri('${uri}'): write s3://bucket/key or https://host/path`);
    const format = opts.format ?? sourceFormatOf(uri);
    if (!format) throw new Error(`FeatureSource.uri('${uri}'): can't tell the format from the extension; set format`);
    return FeatureSource.make({ kind: 'uri', uri, format }, opts, `FeatureSource.uri('${uri}')`);
  }
  /** A SQL query whose result has the timestamp, key and feature columns. */
  static sql(query: string, opts: SourceTimestamps): FeatureSource {
    if (!query.trim()) throw new Error('FeatureSource.sql: the query is empty');
    return FeatureSource.make({ kind: 'sql', query }, opts, 'FeatureSource.sql');
  }
  /** A dataset a pipeline writes: `pipeline/task.output`, e.g. 'fraud/ingest.dataset'. */
  static dataset(ref: string, opts: SourceTimestamps): FeatureSource {
    if (!/^[a-z0-9][-a-z0-9]*\/[a-z0-9][-a-z0-9]*\.[A-Za-z0-9_-]+$/.test(ref))
      throw new Error(`FeatureSource.dataset('${ref}'): write pipeline/task.output, e.g. 'fraud/ingest.dataset'`);
    return FeatureSource.make({ kind: 'dataset', dataset: ref }, opts, `FeatureSource.dataset('${ref}')`);
  }
  private static make(base: Omit<FeatureSourceSpec, 'timestampField'>, opts: SourceTimestamps, where: string): FeatureSource {
    if (!opts.timestampField) throw new Error(`${where}: give timestampField, the column that says when each value became true`);
    for (const f of [opts.timestampField, opts.createdTimestampField].filter((x): x is string => x !== undefined)) {
      const p = columnProblem(f);
      if (p) throw new Error(`${where}: ${p}`);
    }
    return new FeatureSource({
      ...base,
      timestampField: opts.timestampField,
      ...(opts.createdTimestampField ? { createdTimestampField: opts.createdTimestampField } : {}),
    });
  }
}

function sourceFormatOf(uri: string): FeatureSourceSpec['format'] | undefined {
  const ext = /\.([a-z]+)$/i.exec(uri.replace(/[?#].*$/, ''))?.[1]?.toLowerCase();
  if (ext === 'parquet' || ext === 'pq') return 'parquet';
  if (ext === 'csv') return 'csv';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'arrow' || ext === 'feather' || ext === 'ipc') return 'arrow';
  return undefined;
}

/** Where materialized values live for serving. */
export class OnlineStore {
  private constructor(readonly spec: OnlineStoreRef) {}
  /** The embedded default: a SQLite file (Feast's local mode). @param path @default '.ghosteam/online.db' */
  static sqlite(path = DEFAULT_SQLITE_PATH): OnlineStore {
    return new OnlineStore({ type: 'sqlite', path });
  }
  /** A Redis server whose URL (redis://…) is in a Secret's key; the URL never appears in the manifests. */
  static redis(secret: { name: string; key: string }): OnlineStore {
    const p = dnsLabelProblem(secret.name);
    if (p) throw new Error(`OnlineStore.redis: secret name ${messages.notDns(secret.name)}`);
    if (!secret.key) throw new Error('OnlineStore.redis: give the key of the Secret that holds the redis:// URL');
    return new OnlineStore({ type: 'redis', secretRef: { name: secret.name, key: secret.key } });
  }
}

/** Where a view's SQLite store is when it names no path: one constant with the store's opener. */
export { DEFAULT_SQLITE_PATH };
/** @default of FeatureViewProps.materialize.chunk */
export const DEFAULT_MATERIALIZE_CHUNK = '1d';

export interface FeatureViewProps {
  /** @default - the construct id */
  readonly name?: string;
  readonly entities: readonly Entity[];
  readonly source: FeatureSource;
  /** How long after its event time a value may be used, e.g. '2h', '7d'; 0 = forever. */
  readonly ttl: string | number;
  readonly features: readonly Field[];
  /** Materialize the latest values into the online store. @default true */
  readonly online?: boolean;
  /** @default OnlineStore.sqlite() */
  readonly onlineStore?: OnlineStore;
  /** Materialize on a schedule (an Argo CronWorkflow in a cluster), a chunk of event time at a time. @default - only on `ghosteam features materialize` */
  readonly materialize?: { readonly schedule: Schedule; /** @default '1d' */ readonly chunk?: string | number };
  readonly description?: string;
  /** @default - the chart's namespace */
  readonly namespace?: string;
}

export class FeatureView extends Construct {
  readonly name: string;
  readonly spec: FeatureViewSpec;

  constructor(scope: Construct, id: string, props: FeatureViewProps) {
    super(scope, id);
    const path = this.node.path;
    this.name = props.name ?? id;
    const issues: Issue[] = [];
    if (dnsLabelProblem(this.name)) issues.push({ path, field: 'name', message: messages.notDns(this.name) });
    if (props.entities.length === 0)
      issues.push({ path, field: 'entities', message: "is empty; name what the features are about, e.g. [Entity.of('driver', { driver_id: 'int64' })]" });
    if (props.features.length === 0) issues.push({ path, field: 'features', message: "is empty; list the feature columns, e.g. [Field.float64('conv_rate')]" });
    const columns = new Map<string, string>();
    const claim = (name: string, what: string, field: string) => {
      const before = columns.get(name);
      if (before) issues.push({ path, field, message: `'${name}' is both ${before} and ${what}; each column has one role` });
      else columns.set(name, what);
    };
    const entityNames = new Set<string>();
    for (const e of props.entities) {
      if (entityNames.has(e.spec.name)) issues.push({ path, field: 'entities', message: `lists entity '${e.spec.name}' twice; keep one` });
      entityNames.add(e.spec.name);
      for (const k of e.spec.joinKeys) claim(k.name, `a join key of entity '${e.spec.name}'`, 'entities');
    }
    claim(props.source.spec.timestampField, 'the timestamp field', 'source.timestampField');
    if (props.source.spec.createdTimestampField) claim(props.source.spec.createdTimestampField, 'the created-timestamp field', 'source.createdTimestampField');
    for (const f of props.features) claim(f.spec.name, `feature '${f.spec.name}'`, 'features');
    let ttlSeconds = 0;
    try {
      ttlSeconds = parseDuration(props.ttl);
    } catch (err) {
      issues.push({ path, field: 'ttl', message: `${(err as Error).message}, or 0 for no limit` });
    }
    let chunkSeconds = parseDuration(DEFAULT_MATERIALIZE_CHUNK);
    if (props.materialize?.chunk !== undefined) {
      try {
        chunkSeconds = parseDuration(props.materialize.chunk);
        if (chunkSeconds < 1) issues.push({ path, field: 'materialize.chunk', message: 'must be at least 1s' });
      } catch (err) {
        issues.push({ path, field: 'materialize.chunk', message: (err as Error).message });
      }
    }
    const online = props.online ?? true;
    if (!online && props.materialize) issues.push({ path, field: 'materialize', message: 'is set but online is false; drop materialize or set online: true' });
    const store = (props.onlineStore ?? OnlineStore.sqlite()).spec;
    if (online && props.materialize && store.type !== 'redis')
      issues.push({
        path,
        field: 'materialize',
        message:
          "schedules materialization in a cluster, but the online store is a local SQLite file; set onlineStore: OnlineStore.redis({ name, key }), or run 'ghosteam features materialize' locally",
      });
    if (issues.length) throw new ValidationError(issues);

    this.spec = {
      entities: props.entities.map((e) => structuredClone(e.spec)),
      source: { ...props.source.spec },
      ttlSeconds,
      features: props.features.map((f) => ({ ...f.spec })),
      online,
      ...(online ? { onlineStore: { ...store } } : {}),
      ...(props.materialize ? { materialization: { schedule: props.materialize.schedule.spec.cron, chunkSeconds } } : {}),
      ...(props.description ? { description: props.description } : {}),
    };
    new RenderedObject(this, 'FeatureView', {
      apiVersion: API_VERSION,
      kind: 'FeatureView',
      name: this.name,
      namespace: props.namespace,
      owner: this,
      render: () => ({ body: { spec: this.spec } }),
    });
    // The schedule: an Argo WorkflowTemplate + CronWorkflow running the materialize-features step,
    // the store's URL from its Secret (secretKeyRef), never in the manifests.
    if (props.materialize && store.secretRef) {
      const pipeline = new Pipeline(this, 'materialize', {
        name: `materialize-${this.name}`.slice(0, 63).replace(/-+$/, ''),
        description: `Materializes feature view ${this.name} into its online store`,
        schedule: props.materialize.schedule,
        ...(props.namespace ? { namespace: props.namespace } : {}),
      });
      pipeline.component('materialize', 'materialize-features', {
        params: { view: this.name, spec: JSON.parse(JSON.stringify(this.spec)) as ParamValue },
        env: { GHOSTEAM_ONLINE_STORE_URL: Secret.fromSecret(store.secretRef.name, store.secretRef.key) },
      });
    }
  }

  /** Some of this view's features, for a FeatureService. */
  select(...features: string[]): FeatureSelection {
    return new FeatureSelection(this, features);
  }
}

/** Features picked from one view (`view.select('a', 'b')`); a whole view selects all its features. */
export class FeatureSelection {
  constructor(
    readonly view: FeatureView,
    readonly features: readonly string[],
  ) {}
}
