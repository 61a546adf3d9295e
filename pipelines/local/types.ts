/**
 * Types of the local pipeline engine: the run record written to disk, the event stream, and the
 * options of `runPipeline`. Plain data only; the record is what `ghosteam runs show` reads back.
 */
import type { Component, ParamValue, ArtifactKind } from '../../components/component.ts';
import type { FailureReason } from '../../api/failure.ts';

/**
 * A node's state. The names are Argo's node phases, so a local run and an Argo Workflow read alike:
 *  - Pending: not started yet;  Running: an attempt is in progress (or waiting to retry);
 *  - Succeeded: ran (or was reused from cache / a resumed run; see `cached`, `resumed`);
 *  - Skipped: its `when` was false, or it needs outputs of a skipped task, or its fan-out list was empty;
 *  - Failed: the task itself failed (non-zero exit, thrown error, timeout) after its retries;
 *  - Error: the engine could not run it (command not runnable here, missing output, bad reference);
 *  - Omitted: never started because the run failed first (fail-fast) or was cancelled;
 *  - Cancelled: was running when the run was cancelled.
 */
export type NodeState = 'Pending' | 'Running' | 'Succeeded' | 'Skipped' | 'Failed' | 'Error' | 'Omitted' | 'Cancelled';

export type RunStatus = 'Running' | 'Succeeded' | 'Failed' | 'Cancelled';

export interface ArtifactRef {
  readonly kind: ArtifactKind;
  /** 'sha256:<hex>' of the file's content; the file lives in the store under that digest. */
  readonly digest: string;
  readonly size: number;
}

export interface AttemptRecord {
  readonly attempt: number;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly outcome?: 'Succeeded' | 'Failed' | 'Error' | 'Cancelled';
  readonly message?: string;
  /** Why the attempt failed (api/failure.ts). */
  readonly reason?: FailureReason;
  /** Set when retrying cannot change the failure: no further attempt was made. */
  readonly terminal?: true;
}

export interface NodeRecord {
  /** `train`, or `train(2)` for the third instance of a `parallelFor` task. */
  readonly id: string;
  readonly task: string;
  /** The construct path, for error messages. */
  readonly path: string;
  state: NodeState;
  message?: string;
  /** For a Failed/Error node: why (api/failure.ts), and whether retrying cannot change it. */
  reason?: FailureReason;
  terminal?: true;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  /** The step-cache key (sha256 hex) this node ran under. */
  cacheKey?: string;
  /** True when the result came from the step cache. */
  cached?: boolean;
  /**
   * Remote sources the task's file params name (s3://, https://, postgres://, kafka://): what
   * identified their content in the cache key (components/ingest/sources.ts), and for Kafka the
   * offset range read, committed for its consumer group only when the run succeeds.
   */
  sources?: Record<string, SourceRecord>;
  /** True when the result was carried over from the run being resumed. */
  resumed?: boolean;
  attempts: AttemptRecord[];
  outputs: Record<string, ArtifactRef>;
  outputParams: Record<string, ParamValue>;
  /**
   * Output artifacts kept outside the run's store, by name: an Argo step's, where its artifact
   * repository put them (`store` s3, gs, …; `location` bucket/key or URL). Argo records no size.
   */
  externalOutputs?: Record<string, { readonly store: string; readonly location: string; readonly size?: number }>;
  /** Log file, relative to the run directory (a run read from an Argo Workflow: the step's pod). */
  log?: string;
  /** The tasks this one waits for (the pipeline's DAG edges), for a task node. */
  dependsOn?: string[];
  /** For a `parallelFor` task: its instance ids, in item order. */
  children?: string[];
  /** For a `parallelFor` instance: its item. */
  item?: ParamValue;
  isExitHandler?: boolean;
  /** Per-step values the task reported (progress events with an epoch): `history.loss[i] = { step, value }`; experiment tracking logs them as metric history. */
  history?: Record<string, { step: number; value: number }[]>;
}

export interface SourceRecord {
  /** The URI, any password masked. */
  readonly uri: string;
  /** ETag/VersionId, the query and its freshness window, or the offset range. */
  readonly identity: string;
  readonly kafka?: {
    readonly brokers: string[];
    readonly topic: string;
    readonly group: string;
    readonly partitions: { readonly partition: number; readonly start: string; readonly end: string }[];
  };
}

export interface RunRecord {
  readonly version: 1;
  readonly id: string;
  readonly pipeline: string;
  readonly pipelinePath: string;
  status: RunStatus;
  message?: string;
  /** A Failed run: the first failed node's reason (api/failure.ts). */
  reason?: FailureReason;
  /** A Failed run whose every failed node failed in a way retrying cannot change: running it again fails the same way. */
  terminal?: true;
  readonly params: Record<string, ParamValue>;
  readonly gitCommit: string | null;
  /** Present when the run started from a working tree with uncommitted changes: their digest (api/git-source.ts). */
  readonly gitDirty?: string;
  readonly startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  /** Process that runs it; a 'Running' record whose process is gone was interrupted. */
  pid: number;
  host: string;
  /** The literal params of each task, `task.param` → value (what a trial sets): the run's params as experiment tracking logs them. */
  readonly taskParams?: Record<string, ParamValue>;
  /** Where the run was tracked as an experiment run beyond this record: MLflow's run id, or why logging it failed. */
  tracking?: { readonly mlflowRunId?: string; readonly error?: string };
  /** The sweep this run is a trial (or the best-params run) of: its id (pipelines/local/sweep.ts). */
  readonly parent?: string;
  /** When the run was resumed (`--resume`), oldest first; a resumed run keeps its id. */
  resumedAt?: string[];
  /** Node ids in display order (tasks in topological order, fan-out instances after their task, exit handler last). */
  order: string[];
  nodes: Record<string, NodeRecord>;
}

export type EngineEvent =
  | {
      readonly type: 'run-start';
      readonly runId: string;
      readonly pipeline: string;
      readonly time: string;
      readonly nodes: readonly string[];
      readonly resumed: boolean;
    }
  | {
      readonly type: 'node';
      readonly runId: string;
      readonly node: string;
      readonly path: string;
      readonly state: NodeState;
      readonly time: string;
      readonly attempt?: number;
      readonly cached?: boolean;
      readonly resumed?: boolean;
      readonly message?: string;
      readonly durationMs?: number;
    }
  | {
      readonly type: 'retry';
      readonly runId: string;
      readonly node: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly message: string;
      readonly time: string;
    }
  | { readonly type: 'log'; readonly runId: string; readonly node: string; readonly line: string; readonly time: string }
  | {
      readonly type: 'progress';
      readonly runId: string;
      readonly node: string;
      readonly time: string;
      readonly epoch?: number;
      readonly epochs?: number;
      readonly loss?: number;
      readonly valLoss?: number;
      readonly fraction?: number;
      readonly message?: string;
    }
  | {
      readonly type: 'run-end';
      readonly runId: string;
      readonly status: RunStatus;
      readonly time: string;
      readonly durationMs: number;
      readonly message?: string;
      readonly reason?: FailureReason;
      readonly terminal?: true;
      /** Set when the pipeline has a quality gate: a Succeeded run whose gate rejected the model registered nothing. */
      readonly gate?: { readonly passed: boolean; readonly reasons: readonly string[] };
    };

/** Looks up a built-in component by name (the catalog: components/index.ts `getComponent`). */
export type ComponentResolver = (name: string) => Component | undefined | Promise<Component | undefined>;

export interface RunOptions {
  /**
   * Called with the removal of a succeeded run's scratch folder (work/<run id>) instead of awaiting
   * it: a caller that runs many short runs (a sweep's trials) settles them all at its end.
   * @default - runPipeline awaits the removal
   */
  readonly cleanup?: (removal: Promise<void>) => void;
  /** Parameter values; strings are parsed per the ParamSpec type (as from `--param k=v`). */
  readonly params?: Readonly<Record<string, ParamValue>>;
  /** Root of local state: store/, cache/, runs/, work/. @default '.ghosteam' (in the cwd) */
  readonly storeDir?: string;
  /** Use the step cache. @default true */
  readonly cache?: boolean;
  /** Most task attempts running at once. @default max(2, available CPUs) */
  readonly concurrency?: number;
  /** Called for every event, synchronously; must not throw. */
  readonly onEvent?: (e: EngineEvent) => void;
  /** Aborting it cancels the run: running tasks are stopped and the record says Cancelled. */
  readonly signal?: AbortSignal;
  /** Run id of a failed or interrupted run to continue (its finished tasks are not redone). */
  readonly resume?: string;
  /** Component lookup. @default the catalog in components/index.ts */
  readonly components?: ComponentResolver;
  /**
   * Where components run: 'worker' (a worker thread per attempt; catalog components only),
   * 'inline' (this thread), or 'auto': a worker for heavy steps (a GPU or ≥ 2 CPUs requested,
   * i.e. training), inline for the rest. @default 'auto' with the catalog, 'inline' with `components`
   */
  readonly isolation?: 'inline' | 'worker' | 'auto';
  /** The git commit recorded in the run (and given to `register`). @default `git rev-parse HEAD` in `cwd` */
  readonly gitCommit?: string | null;
  /** Working directory for command tasks and git. @default process.cwd() */
  readonly cwd?: string;
  /** Why the run exists ('drift' | 'git-change' | 'schedule' | 'manual'): given to tasks as 'ghosteam.reason' / GHOSTEAM_REASON, recorded by `register`. */
  readonly reason?: string;
  /**
   * Also log the run as an MLflow run (experiment = the pipeline): params, tags, metrics with their
   * per-step history, artifacts. A failure to log is recorded in `tracking.error`, not a failed run.
   * @default - local run records only
   */
  readonly trackingUri?: string;
  /** The sweep the run belongs to (a trial, or the run with the best params): recorded as `parent`. */
  readonly parent?: string;
  /** Run id to use (tests). @default '<pipeline>-<utc timestamp>-<random>' */
  readonly runId?: string;
  /** Grace period between SIGTERM and SIGKILL when stopping a command task. @default 3000 */
  readonly killGraceMs?: number;
  /** Injected for tests: waits `ms` (retry back-off). @default setTimeout */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}
