/**
 * The I/O contract of a step: what its process finds and where it writes, the same in the local
 * engine (pipelines/local/executor.ts) and in the Argo template (pipelines/argo.ts). Both back ends
 * build the environment with `contractEnv` below; only the directories differ (local: the attempt's
 * folders under .ghosteam/work; container: the fixed paths in `CONTAINER_DIRS`). docs/components.md
 * documents it for users.
 *
 *   GHOSTEAM_INPUT_<NAME>       path of input artifact NAME (a file, read-only)
 *   GHOSTEAM_OUTPUT_<NAME>      path where output artifact NAME must be written (a file)
 *   GHOSTEAM_OUTPUT_PARAMS_DIR  a directory that exists; output param P is the file <dir>/P (a string
 *                               as-is, anything else as JSON)
 *   GHOSTEAM_WORK_DIR           scratch space private to the attempt
 *   GHOSTEAM_PARAM_<NAME>       param NAME as text (strings as-is, other values as JSON)
 *   GHOSTEAM_RUN_ID, GHOSTEAM_PIPELINE, GHOSTEAM_TASK  the run context
 * <NAME> is the name in upper snake case: `trainData` → TRAIN_DATA, `test-set` → TEST_SET.
 * Pure: no I/O.
 */
import type { TaskSpec } from './spec.ts';

/** Where a container finds its artifacts (pipelines/argo.ts mounts emptyDirs there). */
export const CONTAINER_DIRS = {
  inputs: '/tmp/inputs',
  outputs: '/tmp/outputs',
  outputParams: '/tmp/outputs/params',
  work: '/tmp/work',
} as const;

/** `trainData` → `TRAIN_DATA`, `test-set` → `TEST_SET`: the suffix of a contract variable. */
export function upperSnake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();
}

export const paramEnvName = (name: string): string => `GHOSTEAM_PARAM_${upperSnake(name)}`;
export const inputEnvName = (name: string): string => `GHOSTEAM_INPUT_${upperSnake(name)}`;
export const outputEnvName = (name: string): string => `GHOSTEAM_OUTPUT_${upperSnake(name)}`;

export interface ContractDirs {
  /** Input artifact name → path. */
  readonly inputs: Readonly<Record<string, string>>;
  /** Output artifact name → path. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly outputParamsDir: string;
  readonly workDir: string;
}

/** Paths of a task's artifacts inside its container. */
export function containerDirs(t: Pick<TaskSpec, 'inputs' | 'outputs'>): ContractDirs {
  return {
    inputs: Object.fromEntries(Object.keys(t.inputs).map((k) => [k, `${CONTAINER_DIRS.inputs}/${k}`])),
    outputs: Object.fromEntries(Object.keys(t.outputs).map((k) => [k, `${CONTAINER_DIRS.outputs}/${k}`])),
    outputParamsDir: CONTAINER_DIRS.outputParams,
    workDir: CONTAINER_DIRS.work,
  };
}

/**
 * The contract's environment for one task, in a fixed order: params, inputs, outputs, the output
 * params dir, the work dir, then the run context. `paramValue(name)` gives a param's text (an Argo
 * expression in a template, the resolved value locally); `context` the run context values.
 */
export function contractEnv(
  t: Pick<TaskSpec, 'name' | 'params' | 'inputs' | 'outputs'>,
  dirs: ContractDirs,
  paramValue: (name: string) => string,
  context: { readonly runId: string; readonly pipeline: string },
): { name: string; value: string }[] {
  const env: { name: string; value: string }[] = [];
  const seen = new Map<string, string>();
  const add = (name: string, value: string, what: string): void => {
    const other = seen.get(name);
    if (other !== undefined) throw new Error(`task '${t.name}': ${what} and ${other} both map to environment variable ${name}; rename one of them`);
    seen.set(name, what);
    env.push({ name, value });
  };
  for (const k of Object.keys(t.params)) add(paramEnvName(k), paramValue(k), `param '${k}'`);
  for (const k of Object.keys(t.inputs)) add(inputEnvName(k), dirs.inputs[k], `input '${k}'`);
  for (const k of Object.keys(t.outputs)) add(outputEnvName(k), dirs.outputs[k], `output '${k}'`);
  add('GHOSTEAM_OUTPUT_PARAMS_DIR', dirs.outputParamsDir, 'the output params dir');
  add('GHOSTEAM_WORK_DIR', dirs.workDir, 'the work dir');
  add('GHOSTEAM_PIPELINE', context.pipeline, 'the pipeline name');
  add('GHOSTEAM_TASK', t.name, 'the task name');
  add('GHOSTEAM_RUN_ID', context.runId, 'the run id');
  return env;
}
