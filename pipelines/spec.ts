/**
 * The pipeline intermediate representation (IR): plain, serialisable data produced by the `Pipeline`
 * construct (`pipeline.toSpec()`), and consumed by exactly two back ends:
 *   - pipelines/argo.ts compiles it to an Argo WorkflowTemplate / CronWorkflow;
 *   - pipelines/local/ executes it on this machine (the embedded default).
 * Both give a pipeline the same DAG semantics, so this file is the one place those semantics are
 * written down. Nothing here does I/O.
 */
import type { ArtifactKind, ParamValue } from '../components/component.ts';

export type ParamType = 'string' | 'number' | 'boolean' | 'list' | 'json';

export interface ParamSpec {
  readonly name: string;
  readonly type: ParamType;
  /** Absent means the parameter is required at submission. */
  readonly default?: ParamValue;
  readonly description?: string;
  /** For string params: the allowed values. */
  readonly enum?: readonly string[];
}

/** Where a task's parameter value comes from. */
export type ValueRef =
  | { readonly kind: 'literal'; readonly value: ParamValue }
  /** A pipeline parameter. */
  | { readonly kind: 'param'; readonly name: string }
  /** An output parameter of an upstream task (creates a dependency). */
  | { readonly kind: 'taskOutput'; readonly task: string; readonly output: string }
  /** The current item of the task's own `parallelFor` (optionally a field of an object item). */
  | { readonly kind: 'item'; readonly field?: string };

/** An input artifact: the named output artifact of an upstream task (creates a dependency). */
export interface ArtifactInputSpec {
  readonly task: string;
  readonly output: string;
  readonly kind: ArtifactKind;
}

export interface ArtifactOutputSpec {
  readonly kind: ArtifactKind;
  readonly description?: string;
  /** The step may finish without writing it (declared by its component); consumers then get no input. */
  readonly optional?: boolean;
}

export type ComparisonOp = '==' | '!=' | '>' | '>=' | '<' | '<=';

/** `when` condition: the task runs only if it holds; otherwise it is Skipped (and so are tasks that need its outputs). */
export interface ConditionSpec {
  readonly left: ValueRef;
  readonly op: ComparisonOp;
  readonly right: ValueRef;
}

export interface GpuSpec {
  readonly count: number;
  /** Node label `nvidia.com/gpu.product`, e.g. 'NVIDIA-A100-SXM4-40GB'; our short names ('nvidia-a100') are normalised by the construct. */
  readonly product?: string;
  /** Minimum GPU memory per device, in MiB (node label `nvidia.com/gpu.memory`). */
  readonly minMemoryMiB?: number;
  /** A MIG profile such as '1g.10gb': the request becomes `nvidia.com/mig-1g.10gb`. */
  readonly mig?: string;
}

export interface ResourcesSpec {
  /** Kubernetes quantities; requests and limits (limits default to requests for memory). */
  readonly cpu: string;
  readonly memory: string;
  readonly cpuLimit?: string;
  readonly memoryLimit?: string;
  readonly gpu?: GpuSpec;
}

export interface RetrySpec {
  /** Extra attempts after the first. */
  readonly limit: number;
  readonly policy: 'OnFailure' | 'OnError' | 'Always';
  readonly backoff?: {
    readonly durationSeconds: number;
    readonly factor: number;
    readonly maxDurationSeconds?: number;
  };
}

export interface CacheSpec {
  readonly enabled: boolean;
  /** Cached results older than this are not reused. */
  readonly maxAgeSeconds?: number;
  /**
   * Reused only where the data the step reads by path or URI is part of the key: the local engine
   * keys on its content (file digest, ETag, query + freshness, offsets); Argo keys on params alone,
   * so there the step is not memoized. The default for a component that reads data by path
   * (`fileParams`); `Cache.enabled()` stated on the task memoizes it in Argo too.
   */
  readonly contentKeyedOnly?: boolean;
}

export type EnvValue = string | { readonly secretKeyRef: { readonly name: string; readonly key: string } };

/**
 * How the local engine runs a command step. Ignored in a cluster (the image decides there), and left
 * out of the spec hash: pointing at another virtual environment is no change to the pipeline.
 */
export interface LocalRunSpec {
  /** The app file's folder (absolute): the step's working directory, so relative paths in its command resolve against it. */
  readonly dir?: string;
  /** Replaces `command[0]` locally, e.g. a virtual environment's python. A relative path resolves against `dir`. */
  readonly interpreter?: string;
  /** A virtual environment: its `bin/` goes first on PATH and VIRTUAL_ENV is set. A relative path resolves against `dir`. */
  readonly venv?: string;
}

/** Data-parallel training over several worker processes (a Kubeflow Trainer TrainJob in a cluster). */
export interface DistributedSpec {
  /** Worker processes (pods in a cluster), each with the torchrun rendezvous environment. */
  readonly workers: number;
  /** GPUs each worker requests. */
  readonly gpusPerWorker: number;
  /** This step's room on the workflow's ReadWriteMany exchange volume (a storage quantity); the volume is the sum over distributed steps. */
  readonly exchangeSize: string;
  /** The StorageClass of the exchange volume (every distributed step of a pipeline names the same one, or none: the cluster's default). */
  readonly storageClass?: string;
  /**
   * In a cluster: the image of the two small steps that move the step's artifacts between Argo and
   * the workflow's exchange volume (the pipeline's componentImage; it runs `node`).
   */
  readonly stagingImage: string;
}

export interface TaskSpec {
  /** DNS-1123 label, unique within the pipeline. */
  readonly name: string;
  /** The construct path, for error messages and annotations. */
  readonly path: string;
  /** A built-in component (components/); the container runs `ghosteam component run <name>`. */
  readonly component?: { readonly name: string; readonly version: string };
  /** The container component (pipelines/container-component.ts) the task instantiates; its image and command are the task's. */
  readonly container?: { readonly name: string; readonly version: string };
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly params: Readonly<Record<string, ValueRef>>;
  readonly inputs: Readonly<Record<string, ArtifactInputSpec>>;
  readonly outputs: Readonly<Record<string, ArtifactOutputSpec>>;
  /** Output parameters the task sets (readable by `when` and downstream params). */
  readonly outputParams: readonly string[];
  readonly env: Readonly<Record<string, EnvValue>>;
  readonly resources: ResourcesSpec;
  readonly retry?: RetrySpec;
  readonly timeoutSeconds?: number;
  readonly cache: CacheSpec;
  readonly when?: ConditionSpec;
  /** Local-only settings for a command step (interpreter, virtual environment, working directory). */
  readonly local?: LocalRunSpec;
  /** Runs the command as `workers` processes/pods with a rendezvous environment. */
  readonly distributed?: DistributedSpec;
  /** Fan-out: one instance of the task per item (Argo `withParam`). */
  readonly parallelFor?: { readonly items: ValueRef; readonly parallelism?: number };
  /**
   * All upstream task names: those inferred from `params`/`inputs`/`when`/`parallelFor` plus any
   * explicit `after`. Sorted. Computed by the construct.
   */
  readonly dependsOn: readonly string[];
}

export interface ScheduleSpec {
  /** Standard 5-field cron expression. */
  readonly cron: string;
  readonly timezone?: string;
  readonly concurrencyPolicy: 'Allow' | 'Forbid' | 'Replace';
}

export interface PipelineSpec {
  /** DNS-1123 name: the WorkflowTemplate name. */
  readonly name: string;
  readonly path: string;
  readonly description?: string;
  readonly params: readonly ParamSpec[];
  /** In a stable topological order (ties broken by declaration order). */
  readonly tasks: readonly TaskSpec[];
  /** Runs after the DAG finishes, whatever its outcome (Argo `onExit`). */
  readonly exitHandler?: TaskSpec;
  readonly schedule?: ScheduleSpec;
  readonly serviceAccountName?: string;
}
