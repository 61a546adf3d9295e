/**
 * Container components: a step defined once — name, image, command, typed inputs/outputs/params,
 * resources — and reused in any number of pipelines (in the spirit of Kubeflow Pipelines' container
 * components). Its process sees the I/O contract of pipelines/contract.ts, the same locally and in
 * the Argo template; docs/components.md shows a Python example.
 *
 *   const train = ContainerComponent.define({
 *     name: 'train-xgboost', image: 'ghcr.io/acme/xgb:1.0', command: ['python', 'train.py'],
 *     inputs: { train: 'dataset', test: 'dataset' }, outputs: { model: 'model', metrics: 'metrics' },
 *     params: { label: { type: 'string' }, rounds: { type: 'number', default: 100 } },
 *     outputParams: ['auc'], local: { venv: '.venv' },
 *   });
 *   p.component('train', train, { inputs: { train: split.output('train'), test: split.output('test') }, params: { label: 'y' } });
 */
import type { ArtifactKind, ComponentIO, ParamValue } from '../components/component.ts';
import { type Resources } from './resources.ts';
import type { ParamType } from './spec.ts';
import { distributedProblems, type DistributedProps } from './distributed.ts';

const NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const PARAM_NAME = /^[a-zA-Z][a-zA-Z0-9_]*$/;
const KINDS: readonly ArtifactKind[] = ['dataset', 'model', 'metrics', 'file'];
const TYPES: readonly ParamType[] = ['string', 'number', 'boolean', 'list', 'json'];

/** An artifact the component reads or writes: its kind, or the kind with options. */
export type ContainerIO = ArtifactKind | { readonly kind: ArtifactKind; readonly optional?: boolean; readonly description?: string };

export interface ContainerParam {
  readonly type: ParamType;
  /** @default - required: every task must pass it */
  readonly default?: ParamValue;
  readonly description?: string;
  /** For string params: the allowed values. */
  readonly enum?: readonly string[];
  /** For number params: the smallest and largest value taken. */
  readonly min?: number;
  readonly max?: number;
}

/** Local-only settings: how `ghosteam run` starts the command on this machine (ignored in a cluster). */
export interface ContainerLocal {
  /** Replaces `command[0]` locally, e.g. '.venv/bin/python'; a relative path resolves against the app file's folder. @default - command[0] from PATH */
  readonly interpreter?: string;
  /** A virtual environment (relative to the app file's folder): its bin/ goes first on PATH. @default - none */
  readonly venv?: string;
}

export interface ContainerComponentProps {
  /** kebab-case, e.g. 'train-xgboost'. */
  readonly name: string;
  /** Part of every cache key: bump it when the step's behaviour changes. @default '1' */
  readonly version?: string;
  readonly description?: string;
  /** The image the step runs in a cluster; build it with the app's folder as WORKDIR so relative paths match. */
  readonly image: string;
  /** The command (and its arguments). Relative paths resolve against the app's folder locally, the image's WORKDIR in a cluster. */
  readonly command: readonly string[];
  readonly args?: readonly string[];
  /** @default - none */
  readonly inputs?: Readonly<Record<string, ContainerIO>>;
  /** @default - none */
  readonly outputs?: Readonly<Record<string, ContainerIO>>;
  /** Typed params (they arrive as GHOSTEAM_PARAM_<NAME>). @default - none */
  readonly params?: Readonly<Record<string, ContainerParam>>;
  /** Output params the step writes to GHOSTEAM_OUTPUT_PARAMS_DIR/<name>. @default - none */
  readonly outputParams?: readonly string[];
  /** @default Resources.DEFAULT */
  readonly resources?: Resources;
  /** Plain environment variables (secrets by reference on the task). @default - none */
  readonly env?: Readonly<Record<string, string>>;
  /** @default - command[0] from PATH, in the app's folder */
  readonly local?: ContainerLocal;
  /**
   * Data-parallel training: `workers` processes (locally) or pods (a Kubeflow Trainer TrainJob in a
   * cluster), each with torchrun's rendezvous environment. @default - one process
   */
  readonly distributed?: DistributedProps;
}

function problem(name: string, field: string, message: string): never {
  throw new Error(`container component '${name}': ${field} ${message}`);
}

function io(name: string, field: string, decl: Readonly<Record<string, ContainerIO>> | undefined): ComponentIO[] {
  return Object.entries(decl ?? {}).map(([k, v]) => {
    const d = typeof v === 'string' ? { kind: v } : v;
    if (!PARAM_NAME.test(k)) problem(name, `${field}.${k}`, 'is not a valid name; use letters, digits and _, starting with a letter');
    if (!KINDS.includes(d.kind)) problem(name, `${field}.${k}`, `has kind '${String(d.kind)}'; use one of ${KINDS.join(', ')}`);
    return { name: k, kind: d.kind, ...(d.optional ? { optional: true } : {}), ...(d.description ? { description: d.description } : {}) };
  });
}

/** Whether `v` has type `type` (and lies within the param's enum/range); a message saying why not. */
export function paramValueProblem(p: ContainerParam, v: ParamValue): string | undefined {
  const ok =
    p.type === 'string'
      ? typeof v === 'string'
      : p.type === 'number'
        ? typeof v === 'number' && Number.isFinite(v)
        : p.type === 'boolean'
          ? typeof v === 'boolean'
          : p.type === 'list'
            ? Array.isArray(v)
            : true;
  if (!ok) return `is ${JSON.stringify(v)}, not a ${p.type}`;
  if (p.enum && typeof v === 'string' && !p.enum.includes(v)) return `is '${v}', not one of ${p.enum.join(', ')}`;
  if (typeof v === 'number' && p.min !== undefined && v < p.min) return `is ${v}, below the smallest value taken (${p.min})`;
  if (typeof v === 'number' && p.max !== undefined && v > p.max) return `is ${v}, above the largest value taken (${p.max})`;
  return undefined;
}

export class ContainerComponent {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly args?: readonly string[];
  readonly inputs: readonly ComponentIO[];
  readonly outputs: readonly ComponentIO[];
  readonly params: Readonly<Record<string, ContainerParam>>;
  readonly outputParams: readonly string[];
  readonly resources?: Resources;
  readonly env: Readonly<Record<string, string>>;
  readonly local?: ContainerLocal;
  readonly distributed?: DistributedProps;

  private constructor(p: ContainerComponentProps) {
    const n = p.name;
    if (typeof n !== 'string' || !NAME.test(n))
      throw new Error(`container component name '${String(n)}' must be kebab-case (lower-case letters, digits and '-'), e.g. 'train-xgboost'`);
    if (!p.image || typeof p.image !== 'string') problem(n, 'image', "is required: the image the step runs in a cluster, e.g. 'ghcr.io/acme/train:1.0'");
    if (!Array.isArray(p.command) || p.command.length === 0 || p.command.some((c) => typeof c !== 'string' || c === '')) {
      problem(n, 'command', "must be a non-empty list of strings, e.g. ['python', 'train.py']");
    }
    this.name = n;
    this.version = p.version ?? '1';
    if (p.description) this.description = p.description;
    this.image = p.image;
    this.command = [...p.command];
    if (p.args) this.args = [...p.args];
    this.inputs = io(n, 'inputs', p.inputs);
    this.outputs = io(n, 'outputs', p.outputs);
    const params: Record<string, ContainerParam> = {};
    for (const [k, d] of Object.entries(p.params ?? {})) {
      if (!PARAM_NAME.test(k)) problem(n, `params.${k}`, 'is not a valid name; use letters, digits and _, starting with a letter');
      if (!TYPES.includes(d.type)) problem(n, `params.${k}.type`, `is '${String(d.type)}'; use one of ${TYPES.join(', ')}`);
      if (d.default !== undefined) {
        const why = paramValueProblem(d, d.default);
        if (why) problem(n, `params.${k}.default`, `${why}; fix the default`);
      }
      params[k] = { ...d };
    }
    this.params = params;
    for (const o of p.outputParams ?? [])
      if (!PARAM_NAME.test(o)) problem(n, `outputParams.${o}`, 'is not a valid name; use letters, digits and _, starting with a letter');
    this.outputParams = [...(p.outputParams ?? [])];
    if (p.resources) this.resources = p.resources;
    this.env = { ...(p.env ?? {}) };
    if (p.local) this.local = { ...p.local };
    if (p.distributed) {
      const [first] = distributedProblems(p.distributed);
      if (first) problem(n, first.field, first.message);
      if (p.resources?.spec.gpu) problem(n, 'resources.gpu', 'is set on a distributed step; give GPUs per worker with distributed.gpusPerWorker instead');
      this.distributed = p.distributed.exchange
        ? { ...p.distributed, exchange: { ...p.distributed.exchange } }
        : { workers: p.distributed.workers, gpusPerWorker: p.distributed.gpusPerWorker ?? 0 };
    }
  }

  /** Defines a container component once; use it in pipelines with `pipeline.component(id, component, props)`. */
  static define(props: ContainerComponentProps): ContainerComponent {
    return new ContainerComponent(props);
  }
}
