/**
 * The local pipeline engine (the embedded default): runs a PipelineSpec — what `Pipeline.toSpec()`
 * returns — on this machine with the DAG semantics of the Argo Workflow it compiles to.
 *
 *   import { runPipeline } from 'ghosteam/pipelines/local';
 *   const rec = await runPipeline(pipeline.toSpec(), { params: { epochs: 10 }, onEvent, signal });
 *   rec.status; // 'Succeeded' | 'Failed' | 'Cancelled'; rec.nodes[task].outputs[name].digest
 *
 * State lives under `storeDir` (default `.ghosteam/`): store/ (artifacts by sha256), cache/,
 * runs/<id>/record.json + logs/, work/ (see store.ts).
 *
 * Run context given to every task (what the `register` component records as lineage):
 *   components (ctx.params, reserved names, never declared by a pipeline):
 *     'ghosteam.runId'        the run id (string)
 *     'ghosteam.pipeline'     the pipeline name (string)
 *     'ghosteam.gitCommit'    `git rev-parse HEAD` of the working directory (string, or null outside git)
 *     'ghosteam.task'         the node id: the task name, or `task(i)` for a parallelFor instance
 *     'ghosteam.inputDigests' { inputName: 'sha256:<hex>' } of the task's input artifacts
 *     'ghosteam.status'       exit handler only: the DAG's outcome, 'Succeeded' | 'Failed'
 *     'ghosteam.reason'       why the run exists (RunOptions.reason: 'drift', 'git-change', ...), when given
 *   command tasks (environment, as pipelines/argo.ts sets them in a container): GHOSTEAM_RUN_ID,
 *     GHOSTEAM_PIPELINE, GHOSTEAM_TASK (task name), GHOSTEAM_WORKFLOW_STATUS (exit handler), and
 *     locally also GHOSTEAM_GIT_COMMIT ('' outside git), GHOSTEAM_NODE (node id), GHOSTEAM_STORE_DIR,
 *     plus the params and artifact paths described in executor.ts.
 * None of these enters the step-cache key, so re-running an unchanged pipeline is all cache hits.
 */
export { runPipeline, newRunId, gitCommitOf, catalogResolver } from './engine.ts';
export { PipelineError, RESERVED_PARAMS, cacheKey, checkSpec, evaluateCondition, parseParamArgs, parseParamText, resolveParams, retryDelayMs } from './plan.ts';
export { ArtifactStore, RunStore, StepCache, effectiveStatus } from './store.ts';
export { killRunningTasks } from './executor.ts';
export { createReporter, failureReport, formatDuration, type Reporter, type ReporterMode } from './progress.ts';
export { loadPipelines, choosePipeline, collectPipelines, collectSweeps, loadSweeps, chooseSweep } from './load.ts';
export type * from './types.ts';
export { runSweep, SweepStore, bestTrial, trialPipeline, type SweepRecord, type SweepEvent, type SweepOptions, type TrialRecord } from './sweep.ts';
export { formatSweepList, formatSweep, formatSweepEvent } from './sweep-report.ts';
