/** ghosteam/gitops: plans for pull requests, retraining from commits, write-back of version pins. */
export * from './objects.ts';
export {
  annotation,
  apiGroup,
  objectKey,
  displayName,
  CONSTRUCT_PATH_ANNOTATION,
  SOURCE_COMMIT_ANNOTATION,
  SPEC_HASH_ANNOTATION,
  SYNC_WAVE_ANNOTATION,
  SYNC_OPTIONS_ANNOTATION,
  type K8sObject,
} from '../api/objects.ts';
export { jsonEqual, sortKeysDeep } from '../api/json.ts';
export {
  computePlan,
  objectDiff,
  describeRollout,
  type LockChange,
  type Plan,
  type ModelPlan,
  type PipelinePlan,
  type DriftMonitorPlan,
  type ObjectRef,
} from './plan.ts';
export { renderText, renderMarkdown, renderJson, planFails, type PlanReport, type Revision } from './plan-render.ts';
export { runPlan, type RunPlanOptions } from './plan-run.ts';
export {
  explainRef,
  modelChanges,
  driftChanges,
  refShape,
  describeRef,
  formatValueChange,
  type ValueChange,
  type RefShape,
  type PinWriter,
} from './plan-values.ts';
export { planPins, isWriteback, type PinPlan, type LockCommit } from './plan-pins.ts';
export { typecheckApp, typecheckMessage, type TypecheckResult } from './typecheck.ts';
export { synthAt, resolveCommit, SynthFailedError, type SynthAtResult } from './synth-at.ts';
export * from './lockfile.ts';
export * from './retrain.ts';
export { writeBack, type WritebackOptions, type WritebackResult } from './writeback.ts';
export { credentialsFromEnv, credentialsFromSecret, redact, redactUrl, type GitCredentials } from './git.ts';
export { RepoWatcher, MAX_ATTEMPTS, type WatchOptions, type WatchRuntime, type RetrainOutcome, type CommitReport, type RetrainContext } from './watch.ts';
export { clusterRuntime, registeredModelOf } from './runtimes.ts';
export { applySyncWaves, syncWaveFor, WAVES } from '../api/sync-waves.ts';
