/**
 * The ghosteam CustomResourceDefinitions, derived from the TypeBox schemas in ./types.ts.
 * `ghosteamCrds()` returns plain `apiextensions.k8s.io/v1` objects (ready for YAML or a kube API
 * server): structural openAPIV3Schema, status subresource, printer columns, short names.
 */
import type { K8sObject, ObjectMeta } from '../objects.ts';
import { toStructural, type JsonSchema } from './structural.ts';
import { GROUP, KINDS, VERSION, type KindDef } from './types.ts';

export * from './types.ts';
export { toStructural, type JsonSchema } from './structural.ts';

export interface CustomResourceDefinition extends K8sObject {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: ObjectMeta & { labels: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced';
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
      schema: { openAPIV3Schema: JsonSchema };
    }[];
  };
}

/** The openAPIV3Schema of a whole ghosteam object of this kind (apiVersion/kind/metadata/spec/status). */
export function objectSchema(def: KindDef): JsonSchema {
  return {
    type: 'object',
    description: `${def.kind} is a ghosteam ${def.kind} resource (${GROUP}/${VERSION}).`,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: toStructural(def.spec, `${def.kind}.spec`),
      status: toStructural(def.status, `${def.kind}.status`),
    },
    required: ['spec'],
  };
}

function crd(def: KindDef): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'ghosteam' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: [...def.shortNames],
        categories: ['ghosteam'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: objectSchema(def) },
        },
      ],
    },
  };
}

/** The ghosteam CRDs (Model, DriftMonitor, TrainingRun, FeatureView, FeatureService), as fresh plain objects. */
export function ghosteamCrds(): CustomResourceDefinition[] {
  return KINDS.map(crd);
}
