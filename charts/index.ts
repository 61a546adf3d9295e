/** ghosteam/charts: Model, DriftMonitor, FeatureView, FeatureService, the serving runtime, Argo CD Applications, CRDs, validation and synthesis. */
export * from '../api/crds/index.ts';
export { validateGhosteamObject } from '../api/crds/validate.ts';
export { Model, gpuOnCpuRuntime, type ModelProps } from './model.ts';
export { Dashboard, DASHBOARD_DEFAULTS, type DashboardOptions } from './dashboard.ts';
export { Alerts, ALERT_DEFAULTS, ALERT_NAMES, type AlertsOptions, type PrometheusRuleSpec } from './alerts.ts';
export {
  Alerting,
  ALERTING_DEFAULTS,
  type AlertingProps,
  type AlertReceiver,
  type AlertRoute,
  type AlertRouteTiming,
  type EmailNotifier,
  type PagerDutyNotifier,
  type SecretRef,
  type SlackNotifier,
  type WebhookNotifier,
} from './alerting.ts';
export {
  ModelServingRuntime,
  DEFAULT_MODEL_SERVER_IMAGE,
  DEFAULT_RUNTIME_NAME,
  GPU_CAPABLE_ANNOTATION,
  type ModelServingRuntimeProps,
} from './serving-runtime.ts';
export { DriftMonitor, Feature, QualityTrigger, Retrain, type DriftMonitorProps } from './drift-monitor.ts';
export {
  Entity,
  Field,
  FeatureSource,
  OnlineStore,
  FeatureView,
  FeatureSelection,
  DEFAULT_SQLITE_PATH,
  DEFAULT_MATERIALIZE_CHUNK,
  type FeatureViewProps,
  type SourceTimestamps,
} from './feature-view.ts';
export { FeatureService, DEFAULT_ON_MISSING, type FeatureServiceProps } from './feature-service.ts';
export { Rollout, Autoscaling, PayloadLogging, type CanaryOptions } from './rollout.ts';
export { InferenceServiceSchema, ServingRuntimeSchema, type InferenceService, type ServingRuntime } from './kserve.ts';
export { readModelsLock, parseModelsLock, LOCK_FILE, type ModelsLock, type ModelPin } from '../api/lock.ts';
export { ValidationError, formatIssue, type Issue } from '../api/errors.ts';
export { validateObjects, validateObject, objectPath, type SourcedObject, type UncheckedObject } from './validate.ts';
export { synthApp, synthesize, toYaml, writeFilesAtomically, CRDS_FILE, type SynthResult, type SynthFile, type SynthOptions } from './synth.ts';
export { setSynthContext, withSynthContext, synthContext } from '../api/context.ts';
export { RenderedObject } from '../api/rendered-object.ts';
export { payloadSinkUrl } from './operator-install.ts';
export { ArgoCdApps, Environment, valueEnvName, type ArgoCdAppsProps, type EnvironmentOptions, type EnvValue } from './argocd.ts';
export { CONSTRUCT_PATH_ANNOTATION, SOURCE_COMMIT_ANNOTATION, type K8sObject } from '../api/objects.ts';
export { loadApp } from '../api/app.ts';
export { MODEL_LABEL } from '../api/objects.ts';
