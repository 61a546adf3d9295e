/**
 * `ModelServingRuntime`: a KServe `ServingRuntime` for ghosteam's own model server (onnxruntime-node
 * behind the Open Inference Protocol, `ghosteam serve`). One per chart is enough; `Model` creates the
 * default one on demand.
 */
import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { podResources } from '../pipelines/argo.ts';
import { messages } from '../pipelines/check.ts';
import { dnsLabelProblem } from '../api/names.ts';
import { Resources } from '../pipelines/resources.ts';
import { ValidationError } from '../api/errors.ts';
import type { ServingRuntime } from './kserve.ts';
import { RenderedObject } from '../api/rendered-object.ts';
import { containerSecurityContext } from '../api/security.ts';

export const DEFAULT_MODEL_SERVER_IMAGE = 'ghcr.io/ghosteam/model-server:0.1.0';
export const DEFAULT_RUNTIME_NAME = 'ghosteam-onnx';
/** The model formats ghosteam's server serves (KServe's modelFormat names). */
export const SUPPORTED_MODEL_FORMATS = [{ name: 'onnx', version: '1', autoSelect: true, priority: 1 }] as const;
export const MODEL_SERVER_PORT = 8080;
/** Where KServe's storage initializer places the model. */
export const KSERVE_MODEL_DIR = '/mnt/models';
/** Annotation saying whether a runtime can use GPUs ("true"/"false"); read by validation. */
export const GPU_CAPABLE_ANNOTATION = 'ghosteam.io/gpu-capable';

export interface ModelServingRuntimeProps {
  /** @default 'ghosteam-onnx' */
  readonly name?: string;
  /** @default DEFAULT_MODEL_SERVER_IMAGE */
  readonly image?: string;
  /** Model registry the server loads versions from (env GHOSTEAM_REGISTRY_URL). @default - the server's own default */
  readonly registryUrl?: string;
  /** Default resources of the server container (a Model's own resources win). @default 500m CPU, 512Mi */
  readonly resources?: Resources;
  /**
   * Whether the image can use an NVIDIA GPU. ghosteam's server ships onnxruntime-node's CPU build.
   * @default false
   */
  readonly gpu?: boolean;
  /** @default - the chart's namespace */
  readonly namespace?: string;
}

export class ModelServingRuntime extends Construct {
  readonly name: string;
  readonly supportsGpu: boolean;

  /** The default runtime of the chart that `scope` belongs to (created on first use). */
  static defaultFor(scope: Construct): ModelServingRuntime {
    const chart = Chart.of(scope);
    const id = 'ghosteam-serving-runtime';
    const existing = chart.node.tryFindChild(id);
    if (existing instanceof ModelServingRuntime) return existing;
    return new ModelServingRuntime(chart, id);
  }

  constructor(scope: Construct, id: string, props: ModelServingRuntimeProps = {}) {
    super(scope, id);
    this.name = props.name ?? DEFAULT_RUNTIME_NAME;
    this.supportsGpu = props.gpu ?? false;
    if (dnsLabelProblem(this.name)) throw new ValidationError([{ path: this.node.path, field: 'name', message: messages.notDns(this.name) }]);
    const image = props.image ?? DEFAULT_MODEL_SERVER_IMAGE;
    const resources = (props.resources ?? Resources.DEFAULT).spec;
    new RenderedObject(this, 'Resource', {
      apiVersion: 'serving.kserve.io/v1alpha1',
      kind: 'ServingRuntime',
      name: this.name,
      namespace: props.namespace,
      owner: this,
      render: () => {
        const spec: ServingRuntime['spec'] = {
          // What the server really loads: ONNX (a file, a directory holding one, or an MLflow model
          // directory of the onnx flavor), answered over the Open Inference Protocol and KServe V1.
          // Native sklearn/XGBoost/LightGBM/PyTorch files are refused with the converter to use.
          supportedModelFormats: SUPPORTED_MODEL_FORMATS.map((f) => ({ ...f })),
          protocolVersions: ['v2', 'v1'],
          multiModel: false,
          annotations: { 'prometheus.kserve.io/port': String(MODEL_SERVER_PORT), 'prometheus.kserve.io/path': '/metrics' },
          containers: [
            {
              name: 'kserve-container',
              image,
              // The image's entrypoint is `ghosteam serve --host 0.0.0.0`; KServe's storage initializer
              // puts the model file under /mnt/models (images/model-server/Dockerfile). Beyond loopback
              // the server needs a token or an explicit --unauthenticated: here the mesh/ingress in
              // front of the InferenceService is what authenticates, so it is said explicitly (the
              // admin API stays off without a token).
              args: ['--port', String(MODEL_SERVER_PORT), '--model', `{{.Name}}=${KSERVE_MODEL_DIR}`, '--unauthenticated'],
              ...(props.registryUrl ? { env: [{ name: 'GHOSTEAM_REGISTRY_URL', value: props.registryUrl }] } : {}),
              ports: [{ containerPort: MODEL_SERVER_PORT, protocol: 'TCP', name: 'http' }],
              resources: podResources(resources),
              securityContext: containerSecurityContext(),
              readinessProbe: { httpGet: { path: '/v2/health/ready', port: MODEL_SERVER_PORT }, periodSeconds: 5 },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        };
        return { annotations: { [GPU_CAPABLE_ANNOTATION]: String(this.supportsGpu) }, body: { spec } };
      },
    });
  }
}
