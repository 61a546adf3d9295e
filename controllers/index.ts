/**
 * ghosteam's operator: `startOperator` (Kubernetes) and `startLocalOperator` (the embedded default),
 * the pure planners, and the ObjectStore seam both run on.
 */
export { startOperator, startControllers, buildControllers, type KubeOperatorOptions, type OperatorDeps, type RunningOperator } from './operator.ts';
export { startLocalOperator, type LocalOperator, type LocalOperatorOptions } from './local.ts';
export {
  planCanary,
  validateCanaryPolicy,
  desiredServing,
  type CanaryObserved,
  type CanaryPlan,
  type CanaryPolicy,
  type RolloutStatus,
} from './planners/canary.ts';
export { planPlacement, type PlacementObserved, type PlacementPlan, type GpuNode, type GpuRequest } from './planners/placement.ts';
export { planDriftMonitor, type DriftObserved, type DriftPlan, type DriftCheckResult } from './planners/drift.ts';
export { planTrainingRun, type TrainingRunObserved, type TrainingPlan } from './planners/training-run.ts';
export { LocalStore } from './runtime/local-store.ts';
export { KubeStore, loadKubeConfig } from './runtime/kube-store.ts';
export { ApiError, TYPES, type ObjectStore, type ResourceType } from './runtime/store.ts';
export { payloadDriftChecker, payloadPredictionDrift } from './backends/drift-check.ts';
export { startLocalService, type LocalService, type LocalServiceOptions } from './local-service.ts';
export { localRuntime, gitChangeTrainingRun, operatorObjects } from './watch-runtime.ts';
export { writeInboxEntry, readStateObjects, type InboxEntry } from './runtime/inbox.ts';
export type { K8sObject } from '../api/objects.ts';
