/**
 * The feature store: point-in-time correct training sets from declared feature views
 * (`getHistoricalFeatures`, the `get-historical-features` component), materialization of the latest
 * values into an online store (`materializeView`; SQLite, the embedded default, or Redis), and online lookup by entity key with a
 * freshness policy (`getOnlineFeatures`). The declarations are the FeatureView / FeatureService
 * constructs (charts/) and their CRD types (api/crds/types.ts).
 */
export { FeaturesError, parseTimestamp, timestampsOf, encodeKeys, encodeKeyValues, joinKeysOf } from './columns.ts';
export { buildPitIndex, pitLookup, pointInTimeJoin, type PitIndex, type PitRows } from './pit.ts';
export {
  getHistoricalFeatures,
  resolveRefs,
  parseFeatureRef,
  DEFAULT_ENTITY_TIMESTAMP,
  type ViewData,
  type HistoricalOptions,
  type FeatureRef,
} from './historical.ts';
export {
  prepareView,
  latestPerKey,
  chunks,
  materializeView,
  type OnlineRow,
  type OnlineStore,
  type PreparedView,
  type MaterializeResult,
} from './materialize.ts';
export { getOnlineFeatures, serviceRefs, FeatureLookupError, type ServiceDef, type OnlineResult } from './online.ts';
export { RedisOnlineStore, redactUrl, type RedisStoreOptions } from './redis-store.ts';
export { SqliteOnlineStore, type SqliteStoreOptions } from './sqlite-store.ts';
