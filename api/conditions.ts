/**
 * Condition types and reasons of the ghosteam resources, as typed constants next to the API types
 * (as KServe's inference_service_status.go and Argo Rollouts' conditions.go keep them). Conditions
 * REPORT state; the state itself lives in explicit status fields (`status.phase`,
 * `status.stepIndex`, `status.rollout`), and no code reads a reason or a message back to decide.
 */

/** Condition types. */
export const ConditionType = {
  /** The resource does what its spec asks (serving, finished, checked). */
  Ready: 'Ready',
  /** Work is under way (a canary, a training run). */
  Progressing: 'Progressing',
  /** Something went wrong that the operator reports but does not retry on its own (a rollback, a failed run). */
  Degraded: 'Degraded',
  /** A one-shot manual rollout action (annotation `ghosteam.io/rollout`) was handled. */
  RolloutAction: 'RolloutAction',
  /** The promoted version is pinned in Git (write-back). */
  WrittenBack: 'WrittenBack',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Condition reasons (PascalCase constants). */
export const Reason = {
  // Any resource
  /** The spec can never succeed as written: terminal until the spec changes. */
  InvalidSpec: 'InvalidSpec',
  AsExpected: 'AsExpected',
  Queued: 'Queued',
  // Model: Ready
  Serving: 'Serving',
  NoVersion: 'NoVersion',
  Deploying: 'Deploying',
  Creating: 'Creating',
  // Model: Progressing / Degraded / RolloutAction
  CanaryProgressing: 'CanaryProgressing',
  Paused: 'Paused',
  Promoted: 'Promoted',
  Idle: 'Idle',
  RolledBack: 'RolledBack',
  Aborted: 'Aborted',
  None: 'None',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
