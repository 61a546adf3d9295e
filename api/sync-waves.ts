/**
 * Argo CD sync waves for synthesized objects, so that a sync applies definitions before the objects
 * that use them: CRDs and namespaces first, then RBAC and config, then the things other objects
 * reference (serving runtimes, workflow templates), then everything else. Custom resources whose
 * CRD ships in the same sync also get `SkipDryRunOnMissingResource=true`: Argo CD's dry run happens
 * before wave -3 creates the CRD. Pure.
 *
 * Call `applySyncWaves(objects)` on the synthesized objects before writing them; an object that
 * already has a wave keeps it.
 */
import { apiGroup, SYNC_OPTIONS_ANNOTATION, SYNC_WAVE_ANNOTATION, type K8sObject } from './objects.ts';

export const WAVES = {
  definitions: -3,
  access: -2,
  referenced: -1,
  workloads: 0,
} as const;

const DEFINITIONS = new Set(['CustomResourceDefinition', 'Namespace']);
const ACCESS = new Set([
  'ServiceAccount',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ConfigMap',
  'Secret',
  'PersistentVolumeClaim',
  'PriorityClass',
  'StorageClass',
  'ResourceQuota',
  'LimitRange',
  'NetworkPolicy',
]);
const REFERENCED = new Set([
  'ServingRuntime',
  'ClusterServingRuntime',
  'WorkflowTemplate',
  'ClusterWorkflowTemplate',
  'ResourceFlavor',
  'ClusterQueue',
  'LocalQueue',
  'AnalysisTemplate',
]);

/** The wave an object belongs in. */
export function syncWaveFor(o: Pick<K8sObject, 'kind' | 'apiVersion'>): number {
  if (DEFINITIONS.has(o.kind)) return WAVES.definitions;
  const group = apiGroup(o.apiVersion);
  if (ACCESS.has(o.kind) && (group === '' || group.endsWith('k8s.io'))) return WAVES.access;
  if (REFERENCED.has(o.kind)) return WAVES.referenced;
  return WAVES.workloads;
}

/** True for a custom resource whose CRD is among `objects` (so Argo CD's dry run can't know it yet). */
function definedInSameSync(o: K8sObject, crdGroups: ReadonlySet<string>): boolean {
  return crdGroups.has(`${apiGroup(o.apiVersion)}/${o.kind}`);
}

/** Returns copies of the objects annotated with their sync wave (and sync options where needed). */
export function applySyncWaves<T extends K8sObject>(objects: readonly T[]): T[] {
  const crdGroups = new Set<string>();
  for (const o of objects) {
    if (o.kind !== 'CustomResourceDefinition') continue;
    const spec = o.spec as { group?: string; names?: { kind?: string } } | undefined;
    if (spec?.group && spec.names?.kind) crdGroups.add(`${spec.group}/${spec.names.kind}`);
  }
  return objects.map((o) => {
    const annotations: Record<string, string> = { ...(o.metadata.annotations ?? {}) };
    if (annotations[SYNC_WAVE_ANNOTATION] === undefined) annotations[SYNC_WAVE_ANNOTATION] = String(syncWaveFor(o));
    if (definedInSameSync(o, crdGroups)) {
      const opts = (annotations[SYNC_OPTIONS_ANNOTATION] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (!opts.includes('SkipDryRunOnMissingResource=true')) opts.push('SkipDryRunOnMissingResource=true');
      annotations[SYNC_OPTIONS_ANNOTATION] = opts.join(',');
    }
    const sorted = Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return { ...o, metadata: { ...o.metadata, annotations: sorted } };
  });
}
