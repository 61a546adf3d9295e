/**
 * The contract every built-in component (ingest, validate, split, train, evaluate, export-onnx,
 * register, drift, ...) implements. One implementation runs in three places:
 *  - in-process or in a worker, driven by the local pipeline engine (pipelines/local),
 *  - in a container, as `ghosteam component run <name> ...` (images/components),
 *  - directly from tests.
 * Artifacts are files: the engine hands each component local paths for its inputs (read-only) and
 * for its outputs (to be written). Output parameters are small JSON values (a gate's verdict, a
 * metric) that downstream `when` conditions and params can read.
 */
export type ParamValue = string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };

/** The kinds of typed artifact a pipeline passes between tasks. */
export type ArtifactKind = 'dataset' | 'model' | 'metrics' | 'file';

export interface ProgressEvent {
  /** Training progress: current epoch (1-based) and total. */
  readonly epoch?: number;
  readonly epochs?: number;
  readonly loss?: number;
  /** The loss on held-out rows (train-tabular with a validation slice): what early stopping should judge. */
  readonly valLoss?: number;
  /** Any other progress in [0, 1]. */
  readonly fraction?: number;
  readonly message?: string;
}

export interface ComponentContext {
  /** Resolved parameter values, by name. */
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Input artifacts: name -> path of a local file (do not modify). */
  readonly inputs: Readonly<Record<string, string>>;
  /** Output artifacts: name -> path the component must write. */
  readonly outputs: Readonly<Record<string, string>>;
  /** A scratch directory private to this task attempt. */
  readonly workDir: string;
  /** Aborted when the run is cancelled or the task times out; long loops must check it. */
  readonly signal: AbortSignal;
  log(line: string): void;
  progress(event: ProgressEvent): void;
  /** Sets an output parameter (readable by `when` conditions and downstream params). */
  setOutput(name: string, value: ParamValue): void;
}

export interface ComponentIO {
  readonly name: string;
  readonly kind: ArtifactKind;
  readonly optional?: boolean;
  readonly description?: string;
}

/**
 * What a component's param takes. Built-ins declare every param they read: the pipeline DSL checks
 * names and values at synth time (pipelines/check.ts), and `Params` refuses, while the component
 * runs, to read one that is not declared, so the declaration can't fall behind the code.
 */
export interface ParamDecl {
  readonly type: 'string' | 'number' | 'boolean' | 'json' | 'list';
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

export interface Component {
  /** kebab-case, unique: 'train-tabular'. */
  readonly name: string;
  /** Part of the step-cache key: bump it when the component's behaviour changes. */
  readonly version: string;
  readonly description: string;
  readonly inputs: readonly ComponentIO[];
  readonly outputs: readonly ComponentIO[];
  /** Names of output parameters the component sets. */
  readonly outputParams?: readonly string[];
  /**
   * Params that name a local file the component reads (ingest's `path`). The local engine resolves a
   * relative one against the run's working directory and keys the step cache on the file's content,
   * so editing the file re-runs the step and everything downstream.
   */
  readonly fileParams?: readonly string[];
  /** Every param the component reads (see ParamDecl). Params named 'ghosteam.*' are the engine's and need none. */
  readonly params?: Readonly<Record<string, ParamDecl>>;
  run(ctx: ComponentContext): Promise<void>;
}

export function defineComponent<C extends Component>(c: C): C {
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(c.name)) {
    throw new Error(`component name '${c.name}' must be kebab-case (lower-case letters, digits and '-')`);
  }
  return c;
}
