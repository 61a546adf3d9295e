/**
 * `Model`: serve a registered model version with KServe, rolled out by the ghosteam operator.
 * Synthesizes a KServe `InferenceService` (predictor on the ghosteam ServingRuntime), the runtime
 * itself (once per chart) and a ghosteam `Model` resource holding the rollout policy.
 * The version: a fixed reference in `registry` ('fraud@3') is served exactly and wins over the lock
 * file (that is how to force a version, an older one included). Otherwise the Model follows an alias
 * ('fraud@champion'; 'fraud' = 'fraud@latest') and, once `models.lock.json` next to the app pins the
 * model (GitOps writes it on every promotion), carries both: the pin as the promoted baseline and the
 * alias as where new candidates come from, so the operator canaries a newer version of the alias
 * against the pin (reverting the pin in Git to an older version does not roll back while the alias
 * points higher; write 'fraud@2' for that).
 */
import type { Alerts } from './alerts.ts';
import { Construct } from 'constructs';
import { parseModelRef } from '../components/registry/types.ts';
import { gpuPlacement, podResources } from '../pipelines/argo.ts';
import { messages } from '../pipelines/check.ts';
import { dnsLabelProblem } from '../api/names.ts';
import { Resources } from '../pipelines/resources.ts';
import { synthContext } from '../api/context.ts';
import { API_VERSION, type ModelRef, type ModelSpec } from '../api/crds/types.ts';
import { ValidationError } from '../api/errors.ts';
import type { InferenceService } from './kserve.ts';
import { readModelsLock } from '../api/lock.ts';
import { RenderedObject } from '../api/rendered-object.ts';
import { Autoscaling, PayloadLogging, Rollout } from './rollout.ts';
import { ModelServingRuntime } from './serving-runtime.ts';
import { containerSecurityContext, podSecurityContext } from '../api/security.ts';
import { MODEL_LABEL } from '../api/objects.ts';

export interface ModelProps {
  /** Name of the InferenceService and the Model resource (DNS-1123). @default - the construct id */
  readonly name?: string;
  /**
   * Registered model: 'fraud' (follows 'latest'), 'fraud@champion' (follows that alias), 'fraud@3'
   * (fixed: exactly version 3, whatever models.lock.json pins), or { name, version, alias }.
   */
  readonly registry: string | ModelRef;
  /** @default 'onnx' */
  readonly format?: 'onnx';
  /** Per replica. @default Resources.DEFAULT (500m CPU, 512Mi) */
  readonly resources?: Resources;
  /** @default Autoscaling.of() (1..3 replicas, 10 in-flight requests each) */
  readonly autoscaling?: Autoscaling;
  /** @default Rollout.canary({ steps: [10, 50, 100], interval: '5m', maxErrorRate: 0.05 }) */
  readonly rollout?: Rollout;
  /** @default PayloadLogging.enabled() (the drift monitor reads the logged payloads) */
  readonly payloadLogging?: PayloadLogging;
  /** @default ModelServingRuntime.defaultFor(this) (ghosteam-onnx, CPU) */
  readonly runtime?: ModelServingRuntime;
  /** Read version pins from models.lock.json next to the app (for a followed alias; a fixed version ignores them). @default true */
  readonly useLockFile?: boolean;
  /**
   * Where KServe downloads the model from (s3://, gs://, pvc://, https://). Normally the operator
   * sets it from the registry version it resolves; give it to serve a fixed file.
   * @default - set by the operator
   */
  readonly storageUri?: string;
  readonly serviceAccountName?: string;
  /**
   * Prometheus alerts on this model's series, as a prometheus-operator `PrometheusRule` named
   * `<name>-alerts` (accuracy from feedback, p99 latency, error rate).
   * @default - no PrometheusRule
   * @see ./alerts.ts
   */
  readonly alerts?: Alerts;
  /** @default - the chart's namespace */
  readonly namespace?: string;
}

export class Model extends Construct {
  readonly name: string;
  readonly runtime: ModelServingRuntime;
  private readonly ref: ModelRef;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: ModelProps,
  ) {
    super(scope, id);
    const path = this.node.path;
    this.name = props.name ?? id;
    if (dnsLabelProblem(this.name)) throw new ValidationError([{ path, field: 'name', message: messages.notDns(this.name) }]);
    this.ref = Model.toRef(props.registry, path);
    this.runtime = props.runtime ?? ModelServingRuntime.defaultFor(this);
    const gpu = props.resources?.spec.gpu;
    if (gpu && !this.runtime.supportsGpu) {
      throw new ValidationError([{ path, field: 'resources.gpu', message: gpuOnCpuRuntime(gpu.count, this.runtime.name) }]);
    }

    new RenderedObject(this, 'InferenceService', {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      name: this.name,
      namespace: props.namespace,
      owner: this,
      render: () => ({ labels: { [MODEL_LABEL]: this.name }, body: { spec: this.inferenceServiceSpec() } }),
    });
    if (props.alerts) {
      const alerts = props.alerts;
      new RenderedObject(this, 'PrometheusRule', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        name: `${this.name}-alerts`,
        namespace: props.namespace,
        owner: this,
        render: () => ({ labels: { [MODEL_LABEL]: this.name }, body: { spec: alerts.ruleSpec(this.modelRef.name) } }),
      });
    }
    new RenderedObject(this, 'Model', {
      apiVersion: API_VERSION,
      kind: 'Model',
      name: this.name,
      namespace: props.namespace,
      owner: this,
      render: () => ({ labels: { [MODEL_LABEL]: this.name }, body: { spec: this.modelSpec() } }),
    });
  }

  private static toRef(registry: string | ModelRef, path: string): ModelRef {
    if (typeof registry !== 'string') {
      if (!registry.name) throw new ValidationError([{ path, field: 'registry.name', message: 'is required; name the registered model' }]);
      return { ...registry };
    }
    let parsed;
    try {
      parsed = parseModelRef(registry);
    } catch (err) {
      throw new ValidationError([{ path, field: 'registry', message: (err as Error).message }]);
    }
    return typeof parsed.version === 'number' ? { name: parsed.name, version: parsed.version } : { name: parsed.name, alias: parsed.version };
  }

  /**
   * The registry reference after applying the lock file pin (if any). A fixed version ('fraud@3', or
   * { name, version } with no alias) is kept as written: the user's fixed version wins over the pin.
   * A followed alias gets the pin as spec.modelRef.version next to the alias ('latest' by default),
   * so the pin is the baseline and the operator still rolls out newer versions of the alias.
   */
  get modelRef(): ModelRef {
    const fixed = this.ref.version !== undefined && this.ref.alias === undefined;
    if (this.props.useLockFile === false || fixed) return { ...this.ref };
    const dir = synthContext().appDir;
    const pin = dir ? readModelsLock(dir)?.models[this.ref.name] : undefined;
    return pin ? { ...this.ref, version: pin.version, alias: this.ref.alias ?? 'latest' } : { ...this.ref };
  }

  modelSpec(): ModelSpec {
    const p = this.props;
    return {
      modelRef: this.modelRef,
      format: p.format ?? 'onnx',
      inferenceService: this.name,
      runtime: this.runtime.name,
      resources: (p.resources ?? Resources.DEFAULT).spec,
      autoscaling: (p.autoscaling ?? Autoscaling.DEFAULT).spec,
      rollout: (p.rollout ?? Rollout.canary({ steps: [10, 50, 100], interval: '5m', maxErrorRate: 0.05 })).spec,
      payloadLogging: (p.payloadLogging ?? PayloadLogging.enabled()).spec,
    };
  }

  inferenceServiceSpec(): InferenceService['spec'] {
    const s = this.modelSpec();
    const placement = gpuPlacement(s.resources.gpu);
    const version = s.modelRef.version !== undefined ? String(s.modelRef.version) : (s.modelRef.alias ?? 'latest');
    return {
      predictor: {
        minReplicas: s.autoscaling.minReplicas,
        maxReplicas: s.autoscaling.maxReplicas,
        scaleMetric: 'concurrency',
        scaleTarget: s.autoscaling.targetConcurrency,
        ...(s.payloadLogging.enabled ? { logger: { mode: s.payloadLogging.mode, ...(s.payloadLogging.url ? { url: s.payloadLogging.url } : {}) } } : {}),
        ...(this.props.serviceAccountName ? { serviceAccountName: this.props.serviceAccountName } : {}),
        securityContext: podSecurityContext(),
        ...(placement.nodeSelector ? { nodeSelector: placement.nodeSelector } : {}),
        ...(placement.tolerations ? { tolerations: placement.tolerations as InferenceService['spec']['predictor']['tolerations'] } : {}),
        ...(placement.affinity ? { affinity: placement.affinity as InferenceService['spec']['predictor']['affinity'] } : {}),
        model: {
          modelFormat: { name: s.format },
          runtime: s.runtime,
          protocolVersion: 'v2',
          ...(this.props.storageUri ? { storageUri: this.props.storageUri } : {}),
          env: [
            { name: 'GHOSTEAM_MODEL_NAME', value: s.modelRef.name },
            { name: 'GHOSTEAM_MODEL_VERSION', value: version },
          ],
          resources: podResources(s.resources),
          securityContext: containerSecurityContext(),
        },
      },
    };
  }
}

export function gpuOnCpuRuntime(count: number, runtime: string): string {
  return `requests ${count} GPU${count === 1 ? '' : 's'} but runtime '${runtime}' can't use one (onnxruntime-node CPU build); drop the GPU request, or serve with a ModelServingRuntime created with gpu: true`;
}
