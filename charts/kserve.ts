/**
 * KServe types for the fields ghosteam uses, written once as TypeBox schemas (the TS types are
 * `Static<>` of them). At run time synthesized KServe objects are validated against these schemas
 * (closed: unknown fields rejected); tests check them against the real upstream CRDs in
 * ../shared/upstream/kserve. Not the whole KServe API on purpose.
 * @see https://kserve.github.io/website/latest/reference/api/
 */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from '../api/crds/types.ts';

const StrMap = Type.Record(Type.String(), Type.String());

export const EnvVarSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  value: Type.Optional(Type.String()),
  valueFrom: Type.Optional(Type.Object({ secretKeyRef: Type.Object({ name: Type.String(), key: Type.String() }) })),
});

export const ResourceRequirementsSchema = Type.Object({
  requests: StrMap,
  limits: StrMap,
});

export const ContainerSecurityContextSchema = Type.Object({
  runAsNonRoot: Type.Boolean(),
  readOnlyRootFilesystem: Type.Boolean(),
  allowPrivilegeEscalation: Type.Boolean(),
  capabilities: Type.Object({ drop: Type.Array(Type.String()) }),
  seccompProfile: Type.Object({ type: Type.String() }),
});

export const PodSecurityContextSchema = Type.Object({
  runAsNonRoot: Type.Boolean(),
  runAsUser: Type.Integer(),
  runAsGroup: Type.Integer(),
  fsGroup: Type.Integer(),
  seccompProfile: Type.Object({ type: Type.String() }),
});

export const TolerationSchema = Type.Object({
  key: Type.String(),
  operator: StringEnum(['Exists', 'Equal'] as const),
  effect: Type.String(),
});

export const AffinitySchema = Type.Object({
  nodeAffinity: Type.Object({
    requiredDuringSchedulingIgnoredDuringExecution: Type.Object({
      nodeSelectorTerms: Type.Array(
        Type.Object({ matchExpressions: Type.Array(Type.Object({ key: Type.String(), operator: Type.String(), values: Type.Array(Type.String()) })) }),
      ),
    }),
  }),
});

const MetadataSchema = Type.Object({
  name: Type.String(),
  namespace: Type.Optional(Type.String()),
  labels: Type.Optional(StrMap),
  annotations: Type.Optional(StrMap),
});

export const InferenceServiceSchema = Type.Object({
  apiVersion: Type.Literal('serving.kserve.io/v1beta1'),
  kind: Type.Literal('InferenceService'),
  metadata: MetadataSchema,
  spec: Type.Object({
    predictor: Type.Object({
      minReplicas: Type.Integer({ minimum: 0 }),
      maxReplicas: Type.Integer({ minimum: 1 }),
      scaleMetric: StringEnum(['cpu', 'memory', 'concurrency', 'rps'] as const),
      scaleTarget: Type.Integer({ minimum: 1 }),
      /** Percent of traffic to the latest revision; the operator sets it during a canary. */
      canaryTrafficPercent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
      logger: Type.Optional(Type.Object({ mode: StringEnum(['all', 'request', 'response'] as const), url: Type.Optional(Type.String()) })),
      serviceAccountName: Type.Optional(Type.String()),
      securityContext: PodSecurityContextSchema,
      nodeSelector: Type.Optional(StrMap),
      tolerations: Type.Optional(Type.Array(TolerationSchema)),
      affinity: Type.Optional(AffinitySchema),
      /** Secret volumes (a TLS certificate from a Secret) and ConfigMap volumes (a Model's feature spec). */
      volumes: Type.Optional(
        Type.Array(
          Type.Object({
            name: Type.String(),
            secret: Type.Optional(Type.Object({ secretName: Type.String() })),
            configMap: Type.Optional(Type.Object({ name: Type.String() })),
          }),
        ),
      ),
      model: Type.Object({
        modelFormat: Type.Object({ name: Type.String(), version: Type.Optional(Type.String()) }),
        runtime: Type.String(),
        protocolVersion: StringEnum(['v1', 'v2', 'grpc-v2'] as const),
        storageUri: Type.Optional(Type.String()),
        env: Type.Array(EnvVarSchema),
        resources: ResourceRequirementsSchema,
        securityContext: ContainerSecurityContextSchema,
        volumeMounts: Type.Optional(Type.Array(Type.Object({ name: Type.String(), mountPath: Type.String(), readOnly: Type.Optional(Type.Boolean()) }))),
        /** Merged over the ServingRuntime container's probe by KServe (an HTTPS probe when the predictor serves TLS). */
        readinessProbe: Type.Optional(
          Type.Object({
            httpGet: Type.Object({ path: Type.String(), port: Type.Integer(), scheme: Type.Optional(StringEnum(['HTTP', 'HTTPS'] as const)) }),
            periodSeconds: Type.Optional(Type.Integer()),
          }),
        ),
      }),
    }),
  }),
});
export type InferenceService = Static<typeof InferenceServiceSchema>;

export const ServingRuntimeSchema = Type.Object({
  apiVersion: Type.Literal('serving.kserve.io/v1alpha1'),
  kind: Type.Literal('ServingRuntime'),
  metadata: MetadataSchema,
  spec: Type.Object({
    supportedModelFormats: Type.Array(
      Type.Object({ name: Type.String(), version: Type.Optional(Type.String()), autoSelect: Type.Boolean(), priority: Type.Integer({ minimum: 1 }) }),
      { minItems: 1 },
    ),
    protocolVersions: Type.Array(StringEnum(['v1', 'v2', 'grpc-v2'] as const)),
    multiModel: Type.Boolean(),
    annotations: Type.Optional(StrMap),
    containers: Type.Array(
      Type.Object({
        name: Type.String(),
        image: Type.String({ minLength: 1 }),
        args: Type.Array(Type.String()),
        env: Type.Optional(Type.Array(EnvVarSchema)),
        ports: Type.Array(Type.Object({ containerPort: Type.Integer(), protocol: StringEnum(['TCP'] as const), name: Type.Optional(Type.String()) })),
        resources: ResourceRequirementsSchema,
        securityContext: ContainerSecurityContextSchema,
        readinessProbe: Type.Optional(
          Type.Object({
            httpGet: Type.Object({ path: Type.String(), port: Type.Integer() }),
            initialDelaySeconds: Type.Optional(Type.Integer()),
            periodSeconds: Type.Optional(Type.Integer()),
          }),
        ),
        volumeMounts: Type.Optional(Type.Array(Type.Object({ name: Type.String(), mountPath: Type.String() }))),
      }),
      { minItems: 1 },
    ),
    volumes: Type.Optional(Type.Array(Type.Object({ name: Type.String(), emptyDir: Type.Object({}) }))),
  }),
});
export type ServingRuntime = Static<typeof ServingRuntimeSchema>;
