/**
 * Compiles a PipelineSpec (the IR) to an Argo `WorkflowTemplate`, plus a `CronWorkflow` when the
 * pipeline is scheduled. Pure: spec in, plain objects out.
 *
 * Container conventions: the I/O contract of pipelines/contract.ts, the same environment the local
 * engine gives a step (GHOSTEAM_INPUT_<X>, GHOSTEAM_OUTPUT_<Y>, GHOSTEAM_OUTPUT_PARAMS_DIR,
 * GHOSTEAM_WORK_DIR, GHOSTEAM_PARAM_<K>, GHOSTEAM_RUN_ID = the Workflow name, ...):
 *   - input artifact `x` is at /tmp/inputs/x; output artifact `y` must be written to /tmp/outputs/y;
 *     output param `p` is read from /tmp/outputs/params/p (a string as-is, anything else as JSON);
 *     Argo maps its artifacts and parameters to exactly those paths;
 *   - /tmp, /tmp/outputs, /tmp/outputs/params and /tmp/work are writable emptyDirs that exist
 *     before the step starts (the root filesystem is read-only);
 *   - built-in components also get `--param k=v --input x=PATH --output y=PATH --output-params-dir DIR`
 *     after `ghosteam component run <name>`.
 * Data dependencies use `depends: "a.Succeeded"`, so a task whose upstream was skipped by its `when`
 * is skipped too (IR semantics); `after`-only dependencies also accept a skipped upstream.
 */
import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import type { ICronWorkflow } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/CronWorkflow';
import type { ITemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Template';
import type { IDAGTask } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask';

/** A container's environment variable, as the Argo models type it (Kubernetes core v1 EnvVar). */
type EnvVar = NonNullable<NonNullable<ITemplate['container']>['env']>[number];
import { createHash } from 'node:crypto';
import type { ParamValue } from '../components/component.ts';
import { dataDependencies } from './check.ts';
import { bytesQuantity, quantityValue } from './resources.ts';
import { pipelineSpecHash } from './hash.ts';
import { CONTAINER_DIRS, containerDirs, contractEnv, paramEnvName } from './contract.ts';
import { formatDuration } from '../api/names.ts';
import { TERMINAL_EXIT_CODES } from '../api/failure.ts';

/** Argo's retryStrategy.expression: retry unless the step exited with a terminal code (64, 65, 78; api/failure.ts). */
export const ARGO_RETRY_EXPRESSION = `lastRetry.exitCode not in [${Object.values(TERMINAL_EXIT_CODES)
  .map((c) => `'${c}'`)
  .join(', ')}]`;
import type { ConditionSpec, GpuSpec, PipelineSpec, ResourcesSpec, TaskSpec, ValueRef } from './spec.ts';
import { COMPONENT_LABEL, CONSTRUCT_PATH_ANNOTATION, MANAGED_BY_LABEL, PIPELINE_LABEL, REASON_LABEL, SPEC_HASH_ANNOTATION } from '../api/objects.ts';
import { containerSecurityContext, podSecurityContext } from '../api/security.ts';
import { canonicalJson } from '../api/json.ts';

export const DAG_TEMPLATE = 'ghosteam-dag';
export const INPUTS_DIR = CONTAINER_DIRS.inputs;
export const OUTPUTS_DIR = CONTAINER_DIRS.outputs;
export const OUTPUT_PARAMS_DIR = CONTAINER_DIRS.outputParams;
export const GPU_TOLERATION = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' } as const;

export interface CompiledPipeline {
  workflowTemplate: IWorkflowTemplate & { metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> } };
  cronWorkflow?: ICronWorkflow & { metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> } };
  specHash: string;
}

/** The environment variable that carries param `param` (pipelines/contract.ts). */
export const envName = paramEnvName;

/** The emptyDirs every step's container mounts, so that each contract directory exists and is writable by the non-root user. */
export const CONTRACT_VOLUMES: readonly { readonly name: string; readonly mountPath: string }[] = [
  { name: 'tmp', mountPath: '/tmp' },
  { name: 'ghosteam-outputs', mountPath: CONTAINER_DIRS.outputs },
  { name: 'ghosteam-output-params', mountPath: CONTAINER_DIRS.outputParams },
  { name: 'ghosteam-work', mountPath: CONTAINER_DIRS.work },
];

function paramString(v: ParamValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A value reference as an Argo expression usable inside the DAG. */
export function argoValue(r: ValueRef): string {
  switch (r.kind) {
    case 'literal':
      return paramString(r.value);
    case 'param':
      return `{{workflow.parameters.${r.name}}}`;
    case 'taskOutput':
      return `{{tasks.${r.task}.outputs.parameters.${r.output}}}`;
    case 'item':
      return r.field === undefined ? '{{item}}' : `{{item.${r.field}}}`;
  }
}

/** Argo `when`: numbers and booleans compare bare; strings (and anything else) are quoted. */
export function argoWhen(c: ConditionSpec): string {
  const literal = c.left.kind === 'literal' ? c.left.value : c.right.kind === 'literal' ? c.right.value : undefined;
  const bare = typeof literal === 'number' || typeof literal === 'boolean' || ['>', '>=', '<', '<='].includes(c.op);
  const side = (r: ValueRef) => (bare ? argoValue(r) : `'${argoValue(r).replace(/'/g, "\\'")}'`);
  return `${side(c.left)} ${c.op} ${side(c.right)}`;
}

export function gpuResourceName(g: GpuSpec): string {
  return g.mig ? `nvidia.com/mig-${g.mig}` : 'nvidia.com/gpu';
}

export function podResources(r: ResourcesSpec): { requests: Record<string, string>; limits: Record<string, string> } {
  const requests: Record<string, string> = { cpu: r.cpu, memory: r.memory };
  const limits: Record<string, string> = { cpu: r.cpuLimit ?? r.cpu, memory: r.memoryLimit ?? r.memory };
  if (r.gpu) {
    requests[gpuResourceName(r.gpu)] = String(r.gpu.count);
    limits[gpuResourceName(r.gpu)] = String(r.gpu.count);
  }
  return { requests, limits };
}

/** nodeSelector / affinity / tolerations that place a pod on a matching GPU node. */
export function gpuPlacement(g: GpuSpec | undefined): {
  nodeSelector?: Record<string, string>;
  affinity?: ITemplate['affinity'];
  tolerations?: ITemplate['tolerations'];
} {
  if (!g) return {};
  return {
    ...(g.product ? { nodeSelector: { 'nvidia.com/gpu.product': g.product } } : {}),
    ...(g.minMemoryMiB
      ? {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'nvidia.com/gpu.memory', operator: 'Gt', values: [String(g.minMemoryMiB - 1)] }] }],
              },
            },
          },
        }
      : {}),
    tolerations: [{ ...GPU_TOLERATION }],
  };
}

function template(t: TaskSpec, pipeline: PipelineSpec, exit: boolean): ITemplate {
  const paramNames = Object.keys(t.params);
  const inputNames = Object.keys(t.inputs);
  const outputNames = Object.keys(t.outputs);
  const env: EnvVar[] = contractEnv(t, containerDirs(t), (k) => `{{inputs.parameters.${k}}}`, { runId: '{{workflow.name}}', pipeline: pipeline.name });
  for (const [k, v] of Object.entries(t.env)) {
    env.push(typeof v === 'string' ? { name: k, value: v } : { name: k, valueFrom: { secretKeyRef: { name: v.secretKeyRef.name, key: v.secretKeyRef.key } } });
  }
  if (exit) env.push({ name: 'GHOSTEAM_WORKFLOW_STATUS', value: '{{workflow.status}}' });
  let args = t.args ? [...t.args] : undefined;
  if (t.component) {
    args = [
      ...paramNames.flatMap((k) => ['--param', `${k}={{inputs.parameters.${k}}}`]),
      ...inputNames.flatMap((k) => ['--input', `${k}=${INPUTS_DIR}/${k}`]),
      ...outputNames.flatMap((k) => ['--output', `${k}=${OUTPUTS_DIR}/${k}`]),
      '--output-params-dir',
      OUTPUT_PARAMS_DIR,
      ...(args ?? []),
    ];
  }
  const placement = gpuPlacement(t.resources.gpu);
  const tpl: ITemplate = {
    name: t.name,
    metadata: {
      annotations: { [CONSTRUCT_PATH_ANNOTATION]: t.path },
      labels: { [PIPELINE_LABEL]: pipeline.name, ...(t.component || t.container ? { [COMPONENT_LABEL]: (t.component ?? t.container)!.name } : {}) },
    },
    ...(paramNames.length || inputNames.length
      ? {
          inputs: {
            ...(paramNames.length ? { parameters: paramNames.map((name) => ({ name })) } : {}),
            ...(inputNames.length
              ? { artifacts: inputNames.map((name) => ({ name, path: `${INPUTS_DIR}/${name}`, ...optionalInput(pipeline, t, name) })) }
              : {}),
          },
        }
      : {}),
    ...(outputNames.length || t.outputParams.length
      ? {
          outputs: {
            ...(t.outputParams.length ? { parameters: t.outputParams.map((name) => ({ name, valueFrom: { path: `${OUTPUT_PARAMS_DIR}/${name}` } })) } : {}),
            ...(outputNames.length ? { artifacts: outputNames.map((name) => ({ name, path: `${OUTPUTS_DIR}/${name}`, ...optionalOutput(t, name) })) } : {}),
          },
        }
      : {}),
    container: {
      name: 'main',
      image: t.image,
      ...(t.command ? { command: [...t.command] } : {}),
      ...(args ? { args } : {}),
      env,
      resources: podResources(t.resources),
      securityContext: containerSecurityContext(),
      volumeMounts: CONTRACT_VOLUMES.map((v) => ({ ...v })),
    },
    volumes: CONTRACT_VOLUMES.map((v) => ({ name: v.name, emptyDir: {} })),
    ...(placement.nodeSelector ? { nodeSelector: placement.nodeSelector } : {}),
    ...(placement.affinity ? { affinity: placement.affinity } : {}),
    ...(placement.tolerations ? { tolerations: placement.tolerations } : {}),
    ...(t.retry
      ? {
          retryStrategy: {
            limit: t.retry.limit,
            retryPolicy: t.retry.policy,
            // A step that exits with a terminal code (api/failure.ts: an invalid param, bad data) fails
            // the same way every time: not retried, as the local engine does not retry it.
            expression: ARGO_RETRY_EXPRESSION,
            ...(t.retry.backoff
              ? {
                  backoff: {
                    duration: formatDuration(t.retry.backoff.durationSeconds),
                    factor: t.retry.backoff.factor,
                    ...(t.retry.backoff.maxDurationSeconds !== undefined ? { maxDuration: formatDuration(t.retry.backoff.maxDurationSeconds) } : {}),
                  },
                }
              : {}),
          },
        }
      : {}),
    ...(t.timeoutSeconds !== undefined ? { activeDeadlineSeconds: t.timeoutSeconds } : {}),
    ...(t.cache.enabled && !t.cache.contentKeyedOnly && inputNames.length === 0
      ? {
          memoize: {
            key: memoizeKey(t),
            maxAge: t.cache.maxAgeSeconds !== undefined ? formatDuration(t.cache.maxAgeSeconds) : '8760h',
            cache: { configMap: { name: `ghosteam-cache-${pipeline.name}`.slice(0, 253) } },
          },
        }
      : {}),
  };
  return tpl;
}

/** The Kubeflow Trainer runtime a distributed step's TrainJob uses (installed with Kubeflow Trainer v2). */
export const TRAINJOB_RUNTIME = { apiGroup: 'trainer.kubeflow.org', kind: 'ClusterTrainingRuntime', name: 'torch-distributed' } as const;
/** The runtime's replicated job and its container (Kubeflow Trainer's torch-distributed runtime names both 'node'). */
export const TRAINJOB_NODE = 'node';
/** The Kueue label that queues a workload; Kueue admits a TrainJob's pods as one gang. */
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';
/** The Kueue LocalQueue distributed steps go to (the operator's GPU placement creates and sizes it). */
export const TRAINJOB_QUEUE = 'ghosteam-training';

/**
 * A distributed step's artifacts pass through the workflow's exchange volume: a PVC Argo creates
 * from `volumeClaimTemplates` as `<workflow name>-ghosteam-exchange` (owned by the Workflow, deleted
 * with it), ReadWriteMany because every worker pod mounts it. Each distributed task has its folder.
 */
export const EXCHANGE = {
  volume: 'ghosteam-exchange',
  mountPath: '/tmp/exchange',
  /** The field manager of the TrainJob runtime patch that mounts it. */
  manager: 'ghosteam.io/pipelines',
} as const;

/** The exchange volume's size: the sum of what each distributed step asks for (each has its own folders on it). */
export function exchangeSize(spec: PipelineSpec): string {
  const sizes = spec.tasks.flatMap((t) => (t.distributed ? [t.distributed.exchangeSize] : []));
  return sizes.length === 1 ? sizes[0] : bytesQuantity(sizes.reduce((sum, q) => sum + quantityValue(q), 0));
}

/** The folders of a distributed task on the exchange volume, relative to the volume (subPaths) and as the staging steps see them. */
export function exchangeDirs(task: string): { inputs: string; outputs: string; mountedInputs: string; mountedOutputs: string; mountedParams: string } {
  return {
    inputs: `${task}/inputs`,
    outputs: `${task}/outputs`,
    mountedInputs: `${EXCHANGE.mountPath}/${task}/inputs`,
    mountedOutputs: `${EXCHANGE.mountPath}/${task}/outputs`,
    mountedParams: `${EXCHANGE.mountPath}/${task}/outputs/params`,
  };
}

/** Step names inside a distributed task's DAG, and their templates' suffixes. */
export const STAGE_IN = 'stage-in';
export const TRAINJOB_STEP = 'trainjob';
export const STAGE_OUT = 'stage-out';

/**
 * Stage-in: Argo has already put the input artifacts in the task's inputs folder; empty the outputs
 * folder (a retried step never hands on an earlier attempt's files) and create it, with the output
 * params folder, as the pods' user. argv: outputs folder, params folder, inputs folder.
 */
const STAGE_IN_SCRIPT =
  "const fs = require('node:fs'); const [out, params, inputs] = process.argv.slice(1); fs.rmSync(out, { recursive: true, force: true }); for (const d of [inputs, out, params]) fs.mkdirSync(d, { recursive: true, mode: 0o2775 });";

/**
 * Stage-out: every required output artifact and every output param must be there; else fail naming
 * what is missing (Argo would fail too, with a path and no hint). argv: step name, outputs folder,
 * then `a:<name>` for an output artifact and `p:<name>` for an output param.
 */
const STAGE_OUT_SCRIPT = `const fs = require('node:fs'); const path = require('node:path');
const [task, out, ...want] = process.argv.slice(1);
const missing = want.filter((w) => !fs.existsSync(w.startsWith('a:') ? path.join(out, w.slice(2)) : path.join(out, 'params', w.slice(2))));
if (missing.length) {
  console.error(\`distributed step '\${task}' finished without writing \${missing.map((w) => (w.startsWith('a:') ? \`output artifact '\${w.slice(2)}'\` : \`output param '\${w.slice(2)}'\`)).join(', ')}; one worker (rank 0, usually) must write each to the path its GHOSTEAM_OUTPUT_<NAME> or GHOSTEAM_OUTPUT_PARAMS_DIR names\`);
  process.exit(1);
}
console.log(\`distributed step '\${task}': outputs staged (\${want.length})\`);`;

/** The volumes and mounts that give a TrainJob's pods the step's contract paths (CONTAINER_DIRS) on the exchange volume. */
function trainJobVolumes(t: TaskSpec): { volumes: Record<string, unknown>[]; volumeMounts: Record<string, unknown>[] } {
  const dirs = exchangeDirs(t.name);
  return {
    volumes: [
      { name: 'tmp', emptyDir: {} },
      { name: 'ghosteam-work', emptyDir: {} },
      { name: EXCHANGE.volume, persistentVolumeClaim: { claimName: `{{workflow.name}}-${EXCHANGE.volume}` } },
    ],
    volumeMounts: [
      { name: 'tmp', mountPath: '/tmp' },
      { name: EXCHANGE.volume, mountPath: CONTAINER_DIRS.inputs, subPath: dirs.inputs, readOnly: true },
      { name: EXCHANGE.volume, mountPath: CONTAINER_DIRS.outputs, subPath: dirs.outputs },
      { name: 'ghosteam-work', mountPath: CONTAINER_DIRS.work },
    ],
  };
}

/**
 * The TrainJob (trainer.kubeflow.org/v1alpha1) a distributed step runs as: `workers` nodes, one
 * process each, every one with the step's contract environment and contract paths: the exchange
 * volume's folders of the task are mounted at /tmp/inputs (read-only) and /tmp/outputs, as a plain
 * step's emptyDirs are, by a runtime patch that also applies the restricted security context. The
 * runtime sets torchrun's rendezvous variables (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK,
 * LOCAL_RANK), as the local engine does on loopback. Queued for Kueue as one gang.
 */
export function trainJobManifest(t: TaskSpec, pipeline: PipelineSpec): Record<string, unknown> {
  const d = t.distributed!;
  const env: Record<string, unknown>[] = contractEnv(t, containerDirs(t), (k) => `{{inputs.parameters.${k}}}`, {
    runId: '{{workflow.name}}',
    pipeline: pipeline.name,
  });
  for (const [k, v] of Object.entries(t.env)) {
    env.push(typeof v === 'string' ? { name: k, value: v } : { name: k, valueFrom: { secretKeyRef: { name: v.secretKeyRef.name, key: v.secretKeyRef.key } } });
  }
  const { volumes, volumeMounts } = trainJobVolumes(t);
  return {
    apiVersion: 'trainer.kubeflow.org/v1alpha1',
    kind: 'TrainJob',
    metadata: {
      generateName: `${pipeline.name}-${t.name}-`.slice(0, 57),
      labels: {
        ...MANAGED_BY_LABEL,
        [PIPELINE_LABEL]: pipeline.name,
        [KUEUE_QUEUE_LABEL]: TRAINJOB_QUEUE,
        ...(t.container ? { [COMPONENT_LABEL]: t.container.name } : {}),
      },
      annotations: { [CONSTRUCT_PATH_ANNOTATION]: t.path },
    },
    spec: {
      runtimeRef: { ...TRAINJOB_RUNTIME },
      ...(t.timeoutSeconds !== undefined ? { activeDeadlineSeconds: t.timeoutSeconds } : {}),
      trainer: {
        image: t.image,
        ...(t.command ? { command: [...t.command] } : {}),
        ...(t.args ? { args: [...t.args] } : {}),
        env,
        numNodes: d.workers,
        numProcPerNode: 1,
        resourcesPerNode: podResources({ ...t.resources, ...(d.gpusPerWorker > 0 ? { gpu: { count: d.gpusPerWorker } } : { gpu: undefined }) }),
      },
      runtimePatches: [
        {
          manager: EXCHANGE.manager,
          trainingRuntimeSpec: {
            template: {
              spec: {
                replicatedJobs: [
                  {
                    name: TRAINJOB_NODE,
                    template: {
                      spec: {
                        template: {
                          spec: {
                            securityContext: podSecurityContext(),
                            volumes,
                            containers: [{ name: TRAINJOB_NODE, securityContext: containerSecurityContext(), volumeMounts }],
                          },
                        },
                      },
                    },
                  },
                ],
              },
            },
          },
        },
      ],
    },
  };
}

/**
 * A distributed step in Argo: a DAG template under the task's own name (so downstream tasks read its
 * artifacts and params as from any step) that runs stage-in → the TrainJob → stage-out. Stage-in
 * receives the input artifacts into the exchange volume; the TrainJob's pods find them at the
 * contract paths and write their outputs there; stage-out hands those to Argo as the step's output
 * artifacts and params, failing with the names of any the workers did not write.
 */
function distributedTemplates(t: TaskSpec, pipeline: PipelineSpec): ITemplate[] {
  const paramNames = Object.keys(t.params);
  const inputNames = Object.keys(t.inputs);
  const outputs = Object.entries(t.outputs);
  const dirs = exchangeDirs(t.name);
  const labels = { [PIPELINE_LABEL]: pipeline.name, ...(t.container ? { [COMPONENT_LABEL]: t.container.name } : {}) };
  const metadata = { annotations: { [CONSTRUCT_PATH_ANNOTATION]: t.path }, labels };
  const staging = (name: string, command: string[], io: Pick<ITemplate, 'inputs' | 'outputs'>): ITemplate => ({
    name,
    metadata,
    ...io,
    container: {
      name: 'main',
      image: t.distributed!.stagingImage,
      command,
      resources: podResources({ cpu: '100m', memory: '128Mi' }),
      securityContext: containerSecurityContext(),
      volumeMounts: [
        { name: 'tmp', mountPath: '/tmp' },
        { name: EXCHANGE.volume, mountPath: EXCHANGE.mountPath },
      ],
    },
    volumes: [{ name: 'tmp', emptyDir: {} }],
  });
  return [
    {
      name: t.name,
      metadata,
      ...(paramNames.length || inputNames.length
        ? {
            inputs: {
              ...(paramNames.length ? { parameters: paramNames.map((name) => ({ name })) } : {}),
              ...(inputNames.length ? { artifacts: inputNames.map((name) => ({ name, ...optionalInput(pipeline, t, name) })) } : {}),
            },
          }
        : {}),
      ...(outputs.length || t.outputParams.length
        ? {
            outputs: {
              ...(t.outputParams.length
                ? { parameters: t.outputParams.map((name) => ({ name, valueFrom: { parameter: `{{tasks.${STAGE_OUT}.outputs.parameters.${name}}}` } })) }
                : {}),
              ...(outputs.length
                ? { artifacts: outputs.map(([name]) => ({ name, from: `{{tasks.${STAGE_OUT}.outputs.artifacts.${name}}}`, ...optionalOutput(t, name) })) }
                : {}),
            },
          }
        : {}),
      dag: {
        tasks: [
          {
            name: STAGE_IN,
            template: `${t.name}-${STAGE_IN}`,
            ...(inputNames.length
              ? { arguments: { artifacts: inputNames.map((name) => ({ name, from: `{{inputs.artifacts.${name}}}`, ...optionalInput(pipeline, t, name) })) } }
              : {}),
          },
          {
            name: TRAINJOB_STEP,
            template: `${t.name}-${TRAINJOB_STEP}`,
            depends: `${STAGE_IN}.Succeeded`,
            ...(paramNames.length ? { arguments: { parameters: paramNames.map((name) => ({ name, value: `{{inputs.parameters.${name}}}` })) } } : {}),
          },
          { name: STAGE_OUT, template: `${t.name}-${STAGE_OUT}`, depends: `${TRAINJOB_STEP}.Succeeded` },
        ],
      },
    },
    staging(`${t.name}-${STAGE_IN}`, ['node', '-e', STAGE_IN_SCRIPT, dirs.mountedOutputs, dirs.mountedParams, dirs.mountedInputs], {
      ...(inputNames.length
        ? { inputs: { artifacts: inputNames.map((name) => ({ name, path: `${dirs.mountedInputs}/${name}`, ...optionalInput(pipeline, t, name) })) } }
        : {}),
    }),
    {
      name: `${t.name}-${TRAINJOB_STEP}`,
      metadata,
      ...(paramNames.length ? { inputs: { parameters: paramNames.map((name) => ({ name })) } } : {}),
      resource: {
        action: 'create',
        setOwnerReference: true,
        manifest: JSON.stringify(trainJobManifest(t, pipeline), null, 2),
        successCondition: 'status.conditions.#(type=="Complete").status == True',
        failureCondition: 'status.conditions.#(type=="Failed").status == True',
      },
      ...(t.timeoutSeconds !== undefined ? { activeDeadlineSeconds: t.timeoutSeconds } : {}),
    },
    staging(
      `${t.name}-${STAGE_OUT}`,
      ['node', '-e', STAGE_OUT_SCRIPT, t.name, dirs.mountedOutputs, ...outputs.map(([k]) => `a:${k}`), ...t.outputParams.map((p) => `p:${p}`)],
      outputs.length || t.outputParams.length
        ? {
            outputs: {
              ...(t.outputParams.length ? { parameters: t.outputParams.map((name) => ({ name, valueFrom: { path: `${dirs.mountedParams}/${name}` } })) } : {}),
              ...(outputs.length ? { artifacts: outputs.map(([name]) => ({ name, path: `${dirs.mountedOutputs}/${name}`, ...optionalOutput(t, name) })) } : {}),
            },
          }
        : {},
    ),
  ];
}

/** What Argo accepts as a memoization key (its ConfigMap cache refuses anything else: "invalid cache key"). */
export const ARGO_CACHE_KEY = /^[a-zA-Z0-9][-a-zA-Z0-9]*$/;

/**
 * A step's Argo memoization key: the task definition's hash (component version, image, command,
 * resources...), then a sha256 of its param values as a JSON array, computed by Argo's expression
 * language when the step runs (a param value itself may hold any character, and the key may hold
 * only letters, digits and '-'). Argo memoizes on the key alone and cannot see input artifacts, so
 * only steps without input artifacts are memoized (compileArgo): a step downstream of another would
 * otherwise be reused with a different upstream model or dataset. The local engine's cache also
 * keys on input digests and on the content of data read by path or URI; Argo cannot, so a step
 * that reads data by path (ingest) is not memoized by default (`Cache.contentKeyedOnly()`): a
 * retrain reads the new rows under the same name. `cache: Cache.enabled()` on the task memoizes it
 * for the same path within maxAge (immutable, versioned paths).
 */
export function memoizeKey(t: TaskSpec): string {
  const names = Object.keys(t.params);
  if (names.length === 0) return taskHash(t);
  const values = names.map((k) => `inputs.parameters['${k}']`).join(', ');
  return `${taskHash(t)}-{{=sprig.sha256sum(toJson([${values}]))}}`;
}

function taskHash(t: TaskSpec): string {
  const { path: _path, dependsOn: _deps, local: _local, ...rest } = t;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 16);
}

/**
 * A component may finish without writing an output it declares optional (the local engine then
 * passes nothing on). Argo saves such an output only if it exists when marked `optional`, and a
 * consumer's input of it must be optional too (argo-workflows#3019), or the step fails on a file
 * its component never promised.
 */
function optionalOutput(t: TaskSpec, name: string): { optional?: true } {
  return t.outputs[name]?.optional ? { optional: true } : {};
}

function optionalInput(pipeline: PipelineSpec, t: TaskSpec, name: string): { optional?: true } {
  const a = t.inputs[name];
  const upstream = a && pipeline.tasks.find((u) => u.name === a.task);
  return upstream?.outputs[a.output]?.optional ? { optional: true } : {};
}

function dagTask(pipeline: PipelineSpec, t: TaskSpec): IDAGTask {
  const data = new Set(dataDependencies(t));
  const depends = t.dependsOn.map((d) => (data.has(d) ? `${d}.Succeeded` : `(${d}.Succeeded || ${d}.Skipped)`)).join(' && ');
  const params = Object.entries(t.params);
  const inputs = Object.entries(t.inputs);
  return {
    name: t.name,
    template: t.name,
    ...(depends ? { depends } : {}),
    ...(params.length || inputs.length
      ? {
          arguments: {
            ...(params.length ? { parameters: params.map(([name, r]) => ({ name, value: argoValue(r) })) } : {}),
            ...(inputs.length
              ? {
                  artifacts: inputs.map(([name, a]) => ({
                    name,
                    from: `{{tasks.${a.task}.outputs.artifacts.${a.output}}}`,
                    ...optionalInput(pipeline, t, name),
                  })),
                }
              : {}),
          },
        }
      : {}),
    ...(t.when ? { when: argoWhen(t.when) } : {}),
    ...(t.parallelFor
      ? { withParam: t.parallelFor.items.kind === 'literal' ? JSON.stringify(t.parallelFor.items.value) : argoValue(t.parallelFor.items) }
      : {}),
  };
}

/** The ingest output param holding the Kafka range a step read (components/ingest). */
export const KAFKA_OFFSETS_OUTPUT = 'kafkaOffsets';
/** The exit handler's DAG template when only Kafka commits need one. */
export const COMMIT_EXIT_TEMPLATE = 'ghosteam-exit';

/**
 * Ingest tasks that read Kafka: a kafka:// `path`, written literally or as a pipeline param's
 * default (a run that passes another source gets `null`, and the commit does nothing). Their
 * ranges are exported as global outputs and committed by the exit handler only when the workflow
 * succeeded, so a failed run re-reads them (the local engine's rule, pipelines/local/engine.ts).
 * A task in a parallelFor or behind a `when` is left out: its output may be many or none.
 */
export function kafkaTasks(spec: PipelineSpec): TaskSpec[] {
  const isKafka = (v: unknown) => typeof v === 'string' && /^kafka:\/\//i.test(v);
  return spec.tasks.filter((t) => {
    if (t.component?.name !== 'ingest' || t.parallelFor || t.when || t.distributed) return false;
    const path = t.params.path;
    if (!path) return false;
    if (path.kind === 'literal') return isKafka(path.value);
    if (path.kind === 'param') return isKafka(spec.params.find((p) => p.name === path.name)?.default);
    return false;
  });
}

const globalOffsets = (t: TaskSpec) => `${t.name}-${KAFKA_OFFSETS_OUTPUT}`;

/**
 * The step that commits a Kafka task's range: the task's own image and env (its broker, SASL and
 * TLS settings, the password as the same Secret reference), `ghosteam kafka-commit`.
 */
function commitTemplate(t: TaskSpec, pipeline: PipelineSpec): ITemplate {
  const env: EnvVar[] = Object.entries(t.env).map(([k, v]) =>
    typeof v === 'string' ? { name: k, value: v } : { name: k, valueFrom: { secretKeyRef: { name: v.secretKeyRef.name, key: v.secretKeyRef.key } } },
  );
  return {
    name: `${t.name}-commit-offsets`,
    metadata: {
      annotations: { [CONSTRUCT_PATH_ANNOTATION]: t.path },
      labels: { [PIPELINE_LABEL]: pipeline.name },
    },
    inputs: { parameters: [{ name: 'offsets' }] },
    container: {
      name: 'main',
      image: t.image,
      command: ['ghosteam', 'kafka-commit'],
      args: ['--offsets', '{{inputs.parameters.offsets}}'],
      env,
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
      securityContext: containerSecurityContext(),
      volumeMounts: CONTRACT_VOLUMES.map((v) => ({ ...v })),
    },
    volumes: CONTRACT_VOLUMES.map((v) => ({ name: v.name, emptyDir: {} })),
    retryStrategy: { limit: 3, retryPolicy: 'Always', backoff: { duration: '5s', factor: 2 } },
  };
}

/** Exit-handler arguments: only literals and pipeline params can reach it. */
function exitArguments(t: TaskSpec): IDAGTask['arguments'] | undefined {
  const params = Object.entries(t.params);
  return params.length ? { parameters: params.map(([name, r]) => ({ name, value: argoValue(r) })) } : undefined;
}

export function compileArgo(spec: PipelineSpec): CompiledPipeline {
  const specHash = pipelineSpecHash(spec);
  const labels = { ...MANAGED_BY_LABEL, [PIPELINE_LABEL]: spec.name };
  const annotations: Record<string, string> = {
    [CONSTRUCT_PATH_ANNOTATION]: spec.path,
    [SPEC_HASH_ANNOTATION]: specHash,
    ...(spec.description ? { 'workflows.argoproj.io/description': spec.description } : {}),
  };
  const kafka = kafkaTasks(spec);
  const templates: ITemplate[] = [
    {
      name: DAG_TEMPLATE,
      dag: { tasks: spec.tasks.map((t) => dagTask(spec, t)) },
    },
    ...spec.tasks.flatMap((t) => {
      if (t.distributed) return distributedTemplates(t, spec);
      const tpl = template(t, spec, false);
      // A Kafka task's range becomes a workflow output, which the exit handler can read. It is
      // never memoized: Argo's key is the params, and the same kafka:// URI names new records each run.
      if (kafka.includes(t)) {
        tpl.outputs!.parameters = tpl.outputs!.parameters!.map((p) => (p.name === KAFKA_OFFSETS_OUTPUT ? { ...p, globalName: globalOffsets(t) } : p));
        delete tpl.memoize;
      }
      return [tpl];
    }),
    ...kafka.map((t) => commitTemplate(t, spec)),
  ];
  const names = new Set<string>();
  for (const tpl of templates) {
    if (names.has(tpl.name!))
      throw new Error(
        `pipeline '${spec.name}': two Argo templates are named '${tpl.name}' (a distributed step's ${STAGE_IN}/${TRAINJOB_STEP}/${STAGE_OUT} templates take '<task>-${STAGE_IN}' and so on); rename the task`,
      );
    names.add(tpl.name!);
  }
  const distributed = spec.tasks.some((t) => t.distributed);
  const exchangeClass = spec.tasks.find((t) => t.distributed?.storageClass)?.distributed?.storageClass;
  // The exit handler is a tiny DAG so it can receive arguments like any task: the pipeline's own
  // exit task, and a commit of each Kafka range when (and only when) the workflow succeeded.
  const commits: IDAGTask[] = kafka.map((t) => ({
    name: `${t.name}-commit-offsets`,
    template: `${t.name}-commit-offsets`,
    when: '{{workflow.status}} == Succeeded',
    arguments: { parameters: [{ name: 'offsets', value: `{{workflow.outputs.parameters.${globalOffsets(t)}}}` }] },
  }));
  let onExit: string | undefined;
  if (spec.exitHandler) {
    const eh = spec.exitHandler;
    onExit = `${eh.name}-exit`;
    templates.push({
      name: onExit,
      dag: { tasks: [{ name: eh.name, template: eh.name, ...(exitArguments(eh) ? { arguments: exitArguments(eh) } : {}) }, ...commits] },
    });
    templates.push(template(eh, spec, true));
  } else if (commits.length) {
    onExit = COMMIT_EXIT_TEMPLATE;
    templates.push({ name: onExit, dag: { tasks: commits } });
  }
  // Argo has no per-task fan-out limit in a DAG; the tightest parallelFor limit bounds the whole
  // workflow's concurrent pods instead (stricter than asked, never looser).
  const limits = spec.tasks.map((t) => t.parallelFor?.parallelism).filter((n): n is number => n !== undefined);
  const parallelism = limits.length ? Math.min(...limits) : undefined;
  const workflowSpec = {
    entrypoint: DAG_TEMPLATE,
    ...(spec.params.length
      ? {
          arguments: {
            parameters: spec.params.map((p) => ({
              name: p.name,
              ...(p.default !== undefined ? { value: paramString(p.default) } : {}),
              ...(p.description ? { description: p.description } : {}),
              ...(p.enum ? { enum: [...p.enum] } : {}),
            })),
          },
        }
      : {}),
    ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
    securityContext: podSecurityContext(),
    podMetadata: { labels: { [PIPELINE_LABEL]: spec.name } },
    ...(distributed
      ? {
          volumeClaimTemplates: [
            {
              apiVersion: 'v1' as const,
              kind: 'PersistentVolumeClaim' as const,
              metadata: { name: EXCHANGE.volume },
              spec: {
                accessModes: ['ReadWriteMany' as const],
                ...(exchangeClass ? { storageClassName: exchangeClass } : {}),
                resources: { requests: { storage: exchangeSize(spec) } },
              },
            },
          ],
        }
      : {}),
    ...(onExit ? { onExit } : {}),
    ...(parallelism ? { parallelism } : {}),
    templates,
  };
  const workflowTemplate: CompiledPipeline['workflowTemplate'] = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: { name: spec.name, labels, annotations },
    spec: workflowSpec,
  };
  let cronWorkflow: CompiledPipeline['cronWorkflow'];
  if (spec.schedule) {
    cronWorkflow = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'CronWorkflow',
      metadata: { name: spec.name, labels: { ...labels }, annotations: { ...annotations } },
      spec: {
        schedules: [spec.schedule.cron],
        ...(spec.schedule.timezone ? { timezone: spec.schedule.timezone } : {}),
        concurrencyPolicy: spec.schedule.concurrencyPolicy,
        workflowMetadata: {
          labels: { [PIPELINE_LABEL]: spec.name, [REASON_LABEL]: 'schedule' },
          annotations: { [SPEC_HASH_ANNOTATION]: specHash },
        },
        workflowSpec: { workflowTemplateRef: { name: spec.name } },
      },
    };
  }
  return { workflowTemplate, ...(cronWorkflow ? { cronWorkflow } : {}), specHash };
}
