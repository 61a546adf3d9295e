/**
 * ghosteam's built-in components and the catalog that the local engine (pipelines/local), the
 * `ghosteam component run` command (containers) and the constructs use.
 *
 *   getComponent('train-tabular')   → the Component, or undefined
 *   listComponents()                → every built-in, sorted by name
 *
 * Importing this module is cheap: TensorFlow.js loads only when training starts.
 *
 * ## How a component runs in a container (the convention the Argo compiler follows)
 *
 *   ghosteam component run <name> --param k=v ... --input NAME=PATH ... --output NAME=PATH ...
 *                                 [--output-params-dir DIR]
 *
 * - Input artifacts are placed at   /tmp/inputs/<input name>    (Argo `inputs.artifacts[].path`)
 * - Output artifacts are written to /tmp/outputs/<output name>  (Argo `outputs.artifacts[].path`)
 * - Output params are written as one file each to /tmp/outputs/params/<param name>
 *   (`--output-params-dir /tmp/outputs/params`; Argo `outputs.parameters[].valueFrom.path`).
 *   A string param file holds the string as-is; any other value holds its JSON text (`true`,
 *   `0.93`, `["a"]`), so `when: "{{tasks.gate.outputs.parameters.passed}} == true"` works.
 *   Every declared output param gets a file (JSON `null` when the component didn't set it), so
 *   Argo never fails on a missing `valueFrom.path`.
 * - `--param` values are text; components parse numbers, booleans, lists and JSON from text.
 * - The run context comes from the environment: GHOSTEAM_RUN_ID (set it to {{workflow.name}}),
 *   GHOSTEAM_PIPELINE, GHOSTEAM_GIT_COMMIT, MLFLOW_TRACKING_URI / GHOSTEAM_REGISTRY_DIR (register).
 * - Exit code 0 on success, 1 on failure, with the error on stderr.
 */
import type { Component } from './component.ts';
import { evaluate } from './evaluate/index.ts';
import { exportOnnx } from './export-onnx/index.ts';
import { gate } from './gate/index.ts';
import { ingest } from './ingest/index.ts';
import { register } from './register/index.ts';
import { split } from './split/index.ts';
import { trainTabular } from './train-tabular/index.ts';
import { validate } from './validate/index.ts';
import { driftComponent } from './drift/component.ts';
import { getHistoricalFeaturesComponent } from './features/component.ts';
import { materializeFeaturesComponent } from './features/materialize-component.ts';
import { optimizeOnnxComponent } from './optimize/component.ts';
import { batchPredictComponent } from './batch/component.ts';
import { sweepController } from './sweep-controller/index.ts';

export * from './component.ts';
export * from './dataset/index.ts';
export { ingest, ingestFile } from './ingest/index.ts';
export { validate, validateDataset, checkSchema, type ValidationSchema, type ValidationReport, type ColumnRule } from './validate/index.ts';
export { split, splitIndices } from './split/index.ts';
export { trainTabular, trainDenseNet, predictDenseNet, readModel, loadTf, type ModelArtifact } from './train-tabular/index.ts';
export { evaluate, evaluateBinary, type Evaluation, type BinaryMetrics } from './evaluate/index.ts';
export { gate, checkGate, type Gate, type GateResult } from './gate/index.ts';
export { exportOnnx } from './export-onnx/index.ts';
export { register, lineageFrom } from './register/index.ts';
export {
  openRegistry,
  LocalRegistry,
  MlflowRegistry,
  RegistryError,
  parseModelRef,
  type ModelRegistry,
  type ModelVersion,
  type RegisteredModel,
} from './registry/index.ts';

/** Container paths (see above). */
export const CONTAINER_PATHS = {
  inputs: '/tmp/inputs',
  outputs: '/tmp/outputs',
  outputParams: '/tmp/outputs/params',
} as const;

const BUILTINS: readonly Component[] = [
  batchPredictComponent,
  driftComponent,
  evaluate,
  exportOnnx,
  gate,
  getHistoricalFeaturesComponent,
  ingest,
  materializeFeaturesComponent,
  optimizeOnnxComponent,
  register,
  split,
  sweepController,
  trainTabular,
  validate,
];
const byName = new Map(BUILTINS.map((c) => [c.name, c]));

export function getComponent(name: string): Component | undefined {
  return byName.get(name);
}

export function listComponents(): Component[] {
  return [...BUILTINS].sort((a, b) => a.name.localeCompare(b.name));
}

/** The text written to an output-param file (see the convention above). */
export function outputParamText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v ?? null);
}
