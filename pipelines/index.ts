/** ghosteam/pipelines: the Pipeline construct DSL, its IR and the Argo compiler. */
export * from './spec.ts';
export { Pipeline, Task, DEFAULT_COMPONENT_IMAGE, type PipelineProps, type TaskProps, type ComponentTaskProps, type ParamOptions } from './pipeline.ts';
export {
  Param,
  OutputParam,
  Item,
  Condition,
  Artifact,
  ArtifactDecl,
  ArtifactRef,
  Secret,
  SecretRef,
  ParallelFor,
  type ValueInput,
  type ParamTypeMap,
} from './values.ts';
export { Gpu, Resources, Retry, Cache, Schedule, GPU_PRODUCTS, gpuProductLabel } from './resources.ts';
export { ContainerComponent, type ContainerComponentProps, type ContainerIO, type ContainerParam, type ContainerLocal } from './container-component.ts';
export { CONTAINER_DIRS, contractEnv, containerDirs, paramEnvName, inputEnvName, outputEnvName, upperSnake, type ContractDirs } from './contract.ts';
export { BatchPrediction, batchPredictionIssues, type BatchPredictionProps } from './batch-prediction.ts';
export { BUILTIN_COMPONENTS, builtinComponent, type ComponentDescriptor } from './catalog.ts';
export { compileArgo, type CompiledPipeline } from './argo.ts';
export { checkPipelineSpec, topoOrder, findCycle, dataDependencies } from './check.ts';
export { pipelineSpecHash } from './hash.ts';
export { parseDuration, formatDuration, dnsLabelProblem } from '../api/names.ts';
export { SPEC_HASH_ANNOTATION } from '../api/objects.ts';
export { canonicalJson } from '../api/json.ts';
export {
  Sweep,
  Search,
  EarlyStopping,
  Objective,
  DEFAULT_SWEEP_TRIALS,
  DEFAULT_SWEEP_PARALLELISM,
  type SweepProps,
  type SweepSpec,
  type SweepBudget,
} from './tuning/sweep.ts';
export { Space, Dimension, gridPoints, spaceIssues, type SpaceSpec, type DimensionSpec } from '../components/tuning/space.ts';
export { propose, type AlgorithmSpec, type Direction, type TrialView, type TrialState } from '../components/tuning/samplers.ts';
export { decidePrune, type EarlyStoppingSpec } from '../components/tuning/pruners.ts';
