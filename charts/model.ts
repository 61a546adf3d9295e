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
import { ALERT_CONDITIONS_ANNOTATION } from '../api/alert-rules.ts';
import type { Dashboard } from './dashboard.ts';
import { Construct } from 'constructs';
import { Chart } from 'cdk8s';
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
import { MODEL_SERVER_PORT, ModelServingRuntime } from './serving-runtime.ts';
import { containerSecurityContext, podSecurityContext } from '../api/security.ts';
import { MODEL_LABEL } from '../api/objects.ts';
import { parseGrant } from '../components/security/auth.ts';
import { TLS_ENV } from '../components/security/tls.ts';
import { createHash } from 'node:crypto';
import { FEATURE_SPEC_ENV, modelFeaturesDoc, STORE_URL_ENV } from '../components/features/open-store.ts';
import { FeatureService } from './feature-service.ts';

/** Namespaces of the ingress in front of KServe predictors (Istio's gateway, Knative's activator). */
export const DEFAULT_GATEWAY_NAMESPACES = ['istio-system', 'knative-serving'] as const;
/** The namespace `ghosteam install` puts the operator in. */
export const DEFAULT_OPERATOR_NAMESPACE = 'ghosteam-system';
/** Where prometheus-operator (kube-prometheus) runs Prometheus. */
export const DEFAULT_PROMETHEUS: ModelCaller = { namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'prometheus' } };
/** The label KServe puts on every pod of an InferenceService. */
export const ISVC_POD_LABEL = 'serving.kserve.io/inferenceservice';

/** Who may reach the predictor's pods besides the gateway and the operator (a NetworkPolicy peer). */
export interface ModelCaller {
  /** @default - the Model's own namespace when only podLabels are given */
  readonly namespace?: string;
  /** @default - every pod of the namespace */
  readonly podLabels?: Readonly<Record<string, string>>;
}

export interface ModelNetworkProps {
  /** Further callers allowed to reach the predictor. @default [] */
  readonly allowFrom?: readonly ModelCaller[];
  /**
   * The Prometheus that scrapes the predictor's /metrics (canary analysis and the Model's alerts read
   * those series); false when nothing scrapes it.
   * @default DEFAULT_PROMETHEUS (pods labelled app.kubernetes.io/name=prometheus in namespace monitoring, as prometheus-operator runs it)
   */
  readonly prometheus?: ModelCaller | false;
  /** @default DEFAULT_GATEWAY_NAMESPACES (istio-system, knative-serving) */
  readonly gatewayNamespaces?: readonly string[];
  /** @default DEFAULT_OPERATOR_NAMESPACE (ghosteam-system) */
  readonly operatorNamespace?: string;
}

/** OIDC/JWT on the predictor (`ghosteam serve --auth-*`, passed as GHOSTEAM_AUTH_* variables). */
export interface ModelAuthProps {
  /** The issuer whose tokens are accepted (its `iss`). */
  readonly issuer: string;
  /** The `aud` tokens must carry. */
  readonly audience: string;
  /** @default - from the issuer's discovery document */
  readonly jwksUrl?: string;
  /**
   * Who may call: `PERMISSION[:MODEL]=CLAIM:VALUE` grants, e.g. 'infer=groups:fraud-callers'.
   * @default - the scopes ghosteam:infer / ghosteam:infer:<model>, ghosteam:metrics, ghosteam:admin
   */
  readonly grants?: readonly string[];
}

/**
 * TLS on the predictor from a Secret of type kubernetes.io/tls (keys `tls.crt` and `tls.key`, the
 * layout cert-manager writes). The Secret is mounted read-only at TLS_MOUNT and the server reloads
 * the pair when the kubelet updates the volume (a renewal needs no restart).
 */
export interface ModelTlsProps {
  /** The Secret holding tls.crt and tls.key. */
  readonly secretName: string;
  /**
   * Also emit a cert-manager `Certificate` that issues into `secretName` (and renews it).
   * @default - none: the Secret is made some other way
   */
  readonly certManager?: ModelCertManagerProps;
}

export interface ModelCertManagerProps {
  /** The Issuer or ClusterIssuer that signs. */
  readonly issuerRef: { readonly name: string; /** @default 'Issuer' */ readonly kind?: string; /** @default 'cert-manager.io' */ readonly group?: string };
  /** @default - the predictor Service's names: <name>-predictor, .<ns>, .<ns>.svc, .<ns>.svc.cluster.local */
  readonly dnsNames?: readonly string[];
  /** @default - cert-manager's (90 days) */
  readonly duration?: string;
  /** @default - cert-manager's (a third of the duration) */
  readonly renewBefore?: string;
}

/** Where the predictor's TLS Secret is mounted. */
export const TLS_MOUNT = '/etc/ghosteam/tls';
const TLS_VOLUME = 'ghosteam-tls';
/** Where a Model's feature spec (its `<name>-features` ConfigMap) is mounted. */
export const FEATURES_MOUNT = '/etc/ghosteam/features';
export const FEATURES_FILE = 'features.json';
const FEATURES_VOLUME = 'ghosteam-features';
/** On the InferenceService (KServe copies it onto the pods): a changed feature spec rolls the pods, which read it at start. */
export const FEATURES_DIGEST_ANNOTATION = 'ghosteam.io/features-digest';
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$/;

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
  /**
   * A Grafana dashboard for this model (traffic, latency, errors, quality, feedback, alerts): a
   * ConfigMap `<name>-dashboard` for Grafana's sidecar and, with `grafanaOperator`, a `GrafanaDashboard`.
   * @default - no dashboard
   * @see ./dashboard.ts
   */
  readonly dashboard?: Dashboard;
  /** @default - the chart's namespace */
  readonly namespace?: string;
  /**
   * A NetworkPolicy lets only the gateway, the operator and `allowFrom` reach the predictor's pods;
   * false leaves the pods open to every pod in the cluster.
   * @default {} (gateway and operator only)
   * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/
   */
  readonly network?: ModelNetworkProps | false;
  /** OIDC/JWT on the predictor. @default - none: the runtime's own token, if any */
  readonly auth?: ModelAuthProps;
  /**
   * The predictor serves HTTPS with the certificate in a Secret (cert-manager compatible). It then
   * runs as a KServe RawDeployment: Knative's queue-proxy only speaks plain HTTP to the container.
   * KServe's payload logger (an agent proxying plain HTTP to the container) can't sit in front of
   * it, so payloadLogging must be disabled; a mesh's mutual TLS is the way to have both.
   * @default - plain HTTP inside the pod (TLS ends at the gateway or the mesh)
   */
  readonly tls?: ModelTlsProps;
  /**
   * The FeatureService whose features the model takes (or its name, declared in the same app):
   * requests may then send entity keys (`{"entities": [{"driver_id": 1001}]}`) and the predictor
   * looks the features up in the service's online store, runs the model on them and logs features
   * and prediction. Synthesizes a `<name>-features` ConfigMap (the service and its views, what the
   * server reads) mounted into the predictor, and the store's URL from the Secret the views name.
   * The views must be online and on Redis (a pod has no local SQLite file), the features numeric,
   * and the model one [N, k] input for the k features (checked when the server loads it).
   * @default - none: requests send tensors
   */
  readonly features?: FeatureService | string;
}

export class Model extends Construct {
  readonly name: string;
  readonly runtime: ModelServingRuntime;
  private readonly ref: ModelRef;
  private resolvedFeatures?: FeatureService;

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
      render: () => ({
        labels: { [MODEL_LABEL]: this.name },
        annotations: {
          // Knative's queue-proxy speaks plain HTTP to the container: a predictor serving TLS itself is a raw Deployment.
          ...(props.tls ? { 'serving.kserve.io/deploymentMode': 'RawDeployment' } : {}),
          ...(props.features !== undefined ? { [FEATURES_DIGEST_ANNOTATION]: digest(this.featuresJson()) } : {}),
        },
        body: { spec: this.inferenceServiceSpec() },
      }),
    });
    if (props.auth) {
      const a = props.auth;
      const issues = [];
      if (!/^https:\/\//.test(a.issuer))
        issues.push({ path, field: 'auth.issuer', message: `'${a.issuer}' must be an https:// URL (the issuer's keys come from it)` });
      if (!a.audience) issues.push({ path, field: 'auth.audience', message: 'is required; without it a token issued for any service would be accepted' });
      (a.grants ?? []).forEach((g, i) => {
        try {
          parseGrant(g);
        } catch (e) {
          issues.push({ path, field: `auth.grants[${i}]`, message: (e as Error).message });
        }
      });
      if (issues.length > 0) throw new ValidationError(issues);
    }
    if (props.tls) {
      const issues = tlsProblems(props.tls, props.payloadLogging?.spec.enabled ?? true).map((i) => ({ path, ...i }));
      if (issues.length > 0) throw new ValidationError(issues);
      const cm = props.tls.certManager;
      if (cm) {
        const secretName = props.tls.secretName;
        new RenderedObject(this, 'Certificate', {
          apiVersion: 'cert-manager.io/v1',
          kind: 'Certificate',
          name: `${this.name}-predictor`,
          namespace: props.namespace,
          owner: this,
          render: () => ({ labels: { [MODEL_LABEL]: this.name }, body: { spec: this.certificateSpec(secretName, cm) } }),
        });
      }
    }
    if (props.network !== false) {
      const net = props.network ?? {};
      const callers: Array<[string, ModelCaller]> = (net.allowFrom ?? []).map((c, i) => [`network.allowFrom[${i}]`, c]);
      if (net.prometheus) callers.push(['network.prometheus', net.prometheus]);
      const issues = networkProblems(net, callers);
      if (issues.length > 0) throw new ValidationError(issues.map((i) => ({ path, ...i })));
      new RenderedObject(this, 'NetworkPolicy', {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        name: `${this.name}-predictor`,
        namespace: props.namespace,
        owner: this,
        render: () => ({ labels: { [MODEL_LABEL]: this.name }, body: { spec: this.networkPolicySpec(net) } }),
      });
    }
    if (props.alerts) {
      const alerts = props.alerts;
      new RenderedObject(this, 'PrometheusRule', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        name: `${this.name}-alerts`,
        namespace: props.namespace,
        owner: this,
        // The conditions ride along for the embedded operator's evaluator (api/alert-rules.ts): one definition, two evaluators.
        render: () => ({
          labels: { [MODEL_LABEL]: this.name },
          annotations: { [ALERT_CONDITIONS_ANNOTATION]: alerts.conditionsAnnotation(this.modelRef.name) },
          body: { spec: alerts.ruleSpec(this.modelRef.name) },
        }),
      });
    }
    if (props.dashboard) {
      const dashboard = props.dashboard;
      const json = () => JSON.stringify(dashboard.json(this.name, this.modelRef.name), null, 2);
      new RenderedObject(this, 'DashboardConfigMap', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        name: `${this.name}-dashboard`,
        namespace: props.namespace,
        owner: this,
        render: () => ({ labels: { [MODEL_LABEL]: this.name, ...dashboard.sidecarLabel }, body: { data: { [`${this.name}.json`]: json() } } }),
      });
      const op = dashboard.options.grafanaOperator;
      if (op)
        new RenderedObject(this, 'GrafanaDashboard', {
          apiVersion: 'grafana.integreatly.org/v1beta1',
          kind: 'GrafanaDashboard',
          name: this.name,
          namespace: props.namespace,
          owner: this,
          render: () => ({
            labels: { [MODEL_LABEL]: this.name },
            body: { spec: { instanceSelector: { matchLabels: { ...op.instanceSelector } }, ...(op.folder ? { folder: op.folder } : {}), json: json() } },
          }),
        });
    }
    if (props.features !== undefined) {
      // A construct is checked now; a name once the whole app is declared (the service may come later).
      if (props.features instanceof FeatureService) this.featureService();
      new RenderedObject(this, 'FeaturesConfigMap', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        name: `${this.name}-features`,
        namespace: props.namespace,
        owner: this,
        render: () => ({ labels: { [MODEL_LABEL]: this.name }, body: { data: { [FEATURES_FILE]: this.featuresJson() } } }),
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

  /** The FeatureService the model takes, resolved and checked (a ValidationError naming this construct otherwise). */
  featureService(): FeatureService | undefined {
    const f = this.props.features;
    if (f === undefined) return undefined;
    if (this.resolvedFeatures) return this.resolvedFeatures;
    const path = this.node.path;
    let svc: FeatureService;
    if (f instanceof FeatureService) svc = f;
    else {
      const declared = this.node.root.node.findAll().filter((c): c is FeatureService => c instanceof FeatureService);
      const found = declared.filter((c) => c.name === f);
      if (found.length !== 1)
        throw new ValidationError([
          {
            path,
            field: 'features',
            message:
              found.length === 0
                ? `names FeatureService '${f}', which the app does not declare; it declares ${declared.map((c) => `'${c.name}'`).join(', ') || 'none'}`
                : `names FeatureService '${f}', which the app declares ${found.length} times (${found.map((c) => c.node.path).join(', ')}); pass the construct itself`,
          },
        ]);
      svc = found[0];
    }
    const issues = modelFeatureProblems(svc).map((message) => ({ path, field: 'features', message }));
    if (issues.length > 0) throw new ValidationError(issues);
    this.resolvedFeatures = svc;
    return svc;
  }

  /** The `<name>-features` ConfigMap's document: the service and its views (components/features/open-store.ts reads it). */
  private featuresJson(): string {
    const svc = this.featureService()!;
    return `${JSON.stringify(modelFeaturesDoc(svc), null, 2)}\n`;
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
      ...(p.features !== undefined ? { featureService: this.featureService()!.name, features: this.featureService()!.featureRefs } : {}),
    };
  }

  /** The cert-manager Certificate spec issuing the predictor's TLS Secret. */
  certificateSpec(secretName: string, cm: ModelCertManagerProps): Record<string, unknown> {
    const ns = this.props.namespace ?? Chart.of(this).namespace;
    const svc = `${this.name}-predictor`;
    const dnsNames = cm.dnsNames ?? (ns ? [svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`] : [svc]);
    return {
      secretName,
      issuerRef: { name: cm.issuerRef.name, kind: cm.issuerRef.kind ?? 'Issuer', group: cm.issuerRef.group ?? 'cert-manager.io' },
      dnsNames: [...dnsNames],
      ...(cm.duration !== undefined ? { duration: cm.duration } : {}),
      ...(cm.renewBefore !== undefined ? { renewBefore: cm.renewBefore } : {}),
      // A fresh key on every renewal; ECDSA P-256 as the server's TLS expects nothing else.
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      usages: ['server auth', 'digital signature'],
    };
  }

  /**
   * Only the gateway, the operator, Prometheus and the declared callers reach the predictor's pods:
   * selecting the pods makes them deny every other ingress. Egress stays open (the storage
   * initializer, the payload logger and the registry live at addresses a policy can't name). Kubelet
   * probes come from the node, which NetworkPolicy always lets through.
   */
  networkPolicySpec(net: ModelNetworkProps): Record<string, unknown> {
    const ns = (name: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } } });
    const peer = (c: ModelCaller) => ({
      ...(c.namespace !== undefined ? ns(c.namespace) : {}),
      ...(c.podLabels !== undefined ? { podSelector: { matchLabels: { ...c.podLabels } } } : {}),
    });
    const prometheus = net.prometheus ?? DEFAULT_PROMETHEUS;
    return {
      podSelector: { matchLabels: { [ISVC_POD_LABEL]: this.name } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            ...(net.gatewayNamespaces ?? DEFAULT_GATEWAY_NAMESPACES).map(ns),
            { ...ns(net.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE), podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ghosteam-operator' } } },
            ...(prometheus === false ? [] : [peer(prometheus)]),
            ...(net.allowFrom ?? []).map(peer),
          ],
        },
      ],
    };
  }

  inferenceServiceSpec(): InferenceService['spec'] {
    const s = this.modelSpec();
    const placement = gpuPlacement(s.resources.gpu);
    const version = s.modelRef.version !== undefined ? String(s.modelRef.version) : (s.modelRef.alias ?? 'latest');
    const tls = this.props.tls;
    const features = this.featureService();
    const storeSecret = features ? [...features.views.values()][0].onlineStore?.secretRef : undefined;
    const volumes = [
      ...(tls ? [{ name: TLS_VOLUME, secret: { secretName: tls.secretName } }] : []),
      ...(features ? [{ name: FEATURES_VOLUME, configMap: { name: `${this.name}-features` } }] : []),
    ];
    const mounts = [
      ...(tls ? [{ name: TLS_VOLUME, mountPath: TLS_MOUNT, readOnly: true }] : []),
      ...(features ? [{ name: FEATURES_VOLUME, mountPath: FEATURES_MOUNT, readOnly: true }] : []),
    ];
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
        ...(volumes.length ? { volumes } : {}),
        model: {
          modelFormat: { name: s.format },
          runtime: s.runtime,
          protocolVersion: 'v2',
          ...(this.props.storageUri ? { storageUri: this.props.storageUri } : {}),
          env: [
            { name: 'GHOSTEAM_MODEL_NAME', value: s.modelRef.name },
            { name: 'GHOSTEAM_MODEL_VERSION', value: version },
            ...(this.props.auth
              ? [
                  { name: 'GHOSTEAM_AUTH_ISSUER', value: this.props.auth.issuer },
                  { name: 'GHOSTEAM_AUTH_AUDIENCE', value: this.props.auth.audience },
                  ...(this.props.auth.jwksUrl ? [{ name: 'GHOSTEAM_AUTH_JWKS_URL', value: this.props.auth.jwksUrl }] : []),
                  ...(this.props.auth.grants?.length ? [{ name: 'GHOSTEAM_AUTH_GRANTS', value: this.props.auth.grants.join(' ') }] : []),
                ]
              : []),
            ...(tls
              ? [
                  { name: TLS_ENV.cert, value: `${TLS_MOUNT}/tls.crt` },
                  { name: TLS_ENV.key, value: `${TLS_MOUNT}/tls.key` },
                ]
              : []),
            ...(features
              ? [
                  { name: FEATURE_SPEC_ENV, value: `${FEATURES_MOUNT}/${FEATURES_FILE}` },
                  // The store's URL (with its password) by reference only: the Secret the views name.
                  ...(storeSecret ? [{ name: STORE_URL_ENV, valueFrom: { secretKeyRef: { name: storeSecret.name, key: storeSecret.key } } }] : []),
                ]
              : []),
          ],
          resources: podResources(s.resources),
          securityContext: containerSecurityContext(),
          ...(mounts.length ? { volumeMounts: mounts } : {}),
          ...(tls
            ? {
                readinessProbe: { httpGet: { path: '/v2/health/ready', port: MODEL_SERVER_PORT, scheme: 'HTTPS' as const }, periodSeconds: 5 },
              }
            : {}),
        },
      },
    };
  }
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** What is wrong with a Model's network settings (pure): each problem names the field and the fix. */
export function networkProblems(net: ModelNetworkProps, callers: ReadonlyArray<[string, ModelCaller]>): Array<{ field: string; message: string }> {
  const out: Array<{ field: string; message: string }> = [];
  for (const [field, c] of callers) {
    if (c.namespace === undefined && c.podLabels === undefined) out.push({ field, message: 'names nobody; give a namespace, podLabels, or both' });
    if (c.namespace !== undefined && dnsLabelProblem(c.namespace)) out.push({ field: `${field}.namespace`, message: messages.notDns(c.namespace) });
    for (const [k, v] of Object.entries(c.podLabels ?? {})) {
      if (!LABEL_KEY.test(k) || k.length > 317)
        out.push({ field: `${field}.podLabels`, message: `'${k}' is not a label key; write [prefix/]name, e.g. 'app' or 'app.kubernetes.io/name'` });
      else if (typeof v !== 'string' || !LABEL_VALUE.test(v))
        out.push({ field: `${field}.podLabels.${k}`, message: `'${String(v)}' is not a label value (at most 63 letters, digits, '-', '_' or '.')` });
    }
  }
  (net.gatewayNamespaces ?? []).forEach((n, i) => {
    if (dnsLabelProblem(n)) out.push({ field: `network.gatewayNamespaces[${i}]`, message: messages.notDns(n) });
  });
  if (net.operatorNamespace !== undefined && dnsLabelProblem(net.operatorNamespace))
    out.push({ field: 'network.operatorNamespace', message: messages.notDns(net.operatorNamespace) });
  return out;
}

/** What is wrong with a Model's TLS settings (pure): each problem names the field and the fix. */
export function tlsProblems(tls: ModelTlsProps, payloadLogging: boolean): Array<{ field: string; message: string }> {
  const out: Array<{ field: string; message: string }> = [];
  const dns = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  if (!dns.test(tls.secretName ?? '') || tls.secretName.length > 253)
    out.push({ field: 'tls.secretName', message: `'${tls.secretName}' is not a Secret name (lower-case letters, digits, '-' and '.')` });
  if (payloadLogging)
    out.push({
      field: 'tls',
      message:
        "KServe's payload logger proxies plain HTTP to the container, so it can't log a predictor that serves TLS itself; set payloadLogging: PayloadLogging.disabled(), or leave tls out and let the mesh (Istio mTLS) encrypt",
    });
  const cm = tls.certManager;
  if (cm) {
    if (!cm.issuerRef?.name) out.push({ field: 'tls.certManager.issuerRef.name', message: 'is required; name the Issuer or ClusterIssuer that signs' });
    if (cm.issuerRef?.kind !== undefined && !['Issuer', 'ClusterIssuer'].includes(cm.issuerRef.kind) && cm.issuerRef.group === undefined)
      out.push({
        field: 'tls.certManager.issuerRef.kind',
        message: `'${cm.issuerRef.kind}' is not Issuer or ClusterIssuer; an external issuer also needs its group`,
      });
    if (cm.dnsNames !== undefined && cm.dnsNames.length === 0)
      out.push({ field: 'tls.certManager.dnsNames', message: 'is empty; leave it out for the predictor Service names' });
    (cm.dnsNames ?? []).forEach((d, i) => {
      if (!/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(d))
        out.push({ field: `tls.certManager.dnsNames[${i}]`, message: `'${d}' is not a DNS name` });
    });
    for (const k of ['duration', 'renewBefore'] as const) {
      const v = cm[k];
      if (v !== undefined && !GO_DURATION.test(v))
        out.push({ field: `tls.certManager.${k}`, message: `'${v}' is not a duration; write e.g. 2160h (hours, minutes, seconds)` });
    }
  }
  return out;
}

/**
 * What keeps a predictor pod from feeding a model from `svc` (pure): a view that is not online, a
 * store the pod can't reach (a local SQLite file), views on different stores, a string feature.
 */
export function modelFeatureProblems(svc: FeatureService): string[] {
  const out: string[] = [];
  const stores = new Set<string>();
  for (const [name, v] of svc.views) {
    if (!v.online) {
      out.push(`reads feature view '${name}' (FeatureService '${svc.name}'), which is not online (online: false); make it online and materialize it`);
      continue;
    }
    const store = v.onlineStore ?? { type: 'sqlite' as const };
    if (store.type === 'sqlite')
      out.push(
        `reads feature view '${name}', whose online values are in a local SQLite file, which a predictor pod does not have; declare the view with onlineStore: OnlineStore.redis({ name, key }) (locally, serve with 'ghosteam serve --feature-service')`,
      );
    else if (!store.secretRef) out.push(`reads feature view '${name}', whose Redis store names no Secret; use OnlineStore.redis({ name, key })`);
    stores.add(JSON.stringify(store));
  }
  if (stores.size > 1)
    out.push(
      `reads FeatureService '${svc.name}', whose views are on ${stores.size} different online stores; a model reads one: put its views on the same OnlineStore`,
    );
  for (const g of svc.spec.features) {
    const view = svc.views.get(g.featureView);
    for (const f of g.features)
      if (view?.features.find((x) => x.name === f)?.type === 'string')
        out.push(
          `takes the string feature '${g.featureView}:${f}' of FeatureService '${svc.name}', which cannot feed the model's numeric input; encode it as a number in the view`,
        );
  }
  return out;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function gpuOnCpuRuntime(count: number, runtime: string): string {
  return `requests ${count} GPU${count === 1 ? '' : 's'} but runtime '${runtime}' can't use one (onnxruntime-node CPU build); drop the GPU request, or serve with a ModelServingRuntime created with gpu: true`;
}
