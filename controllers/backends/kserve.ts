/**
 * ServingBackend over a KServe InferenceService (serving.kserve.io/v1beta1). KServe's canary model:
 * the spec names the newest revision; with `canaryTrafficPercent` set, KServe splits traffic between
 * the previous ready revision (stable) and the newest (canary). The versions are recorded in
 * annotations so the observed split can be read back.
 */
import { ApiError, isAlreadyExists, TYPES, type ObjectStore } from '../runtime/store.ts';
import type { ServeRequest, ServingBackend, ServingObserved } from './types.ts';
import type { ModelSpec } from '../../api/crds/index.ts';
import { jsonEqual } from '../../api/json.ts';
import { type K8sObject, MANAGED_BY_LABEL, MODEL_LABEL } from '../../api/objects.ts';

export const STABLE_ANNOTATION = 'ghosteam.io/stable-version';
export const CANARY_ANNOTATION = 'ghosteam.io/canary-version';

export function ownerRef(o: K8sObject) {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** The InferenceService the operator wants for a serve request (only the fields it owns). */
export function desiredInferenceService(req: ServeRequest): K8sObject {
  const m = req.model;
  const s = m.spec;
  const newest = req.canary ?? req.stable;
  const gpu = s.resources.gpu;
  const gpuRes = gpu ? (gpu.mig ? `nvidia.com/mig-${gpu.mig}` : 'nvidia.com/gpu') : undefined;
  const requests: Record<string, string> = { cpu: s.resources.cpu, memory: s.resources.memory };
  const limits: Record<string, string> = { cpu: s.resources.cpuLimit ?? s.resources.cpu, memory: s.resources.memoryLimit ?? s.resources.memory };
  if (gpuRes && gpu) {
    requests[gpuRes] = String(gpu.count);
    limits[gpuRes] = String(gpu.count);
  }
  const predictor: Record<string, unknown> = {
    minReplicas: s.autoscaling.minReplicas,
    maxReplicas: s.autoscaling.maxReplicas,
    scaleMetric: 'concurrency',
    scaleTarget: s.autoscaling.targetConcurrency,
    model: {
      modelFormat: { name: s.format },
      runtime: s.runtime,
      storageUri: newest.source,
      resources: { requests, limits },
    },
  };
  if (req.canary && req.canaryPercent > 0) predictor.canaryTrafficPercent = req.canaryPercent;
  if (s.payloadLogging.enabled && s.payloadLogging.url) predictor.logger = { mode: s.payloadLogging.mode, url: s.payloadLogging.url };
  if (req.placement) {
    predictor.affinity = req.placement.affinity;
    predictor.tolerations = req.placement.tolerations;
  }
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      name: s.inferenceService,
      namespace: m.metadata.namespace,
      labels: { ...MANAGED_BY_LABEL, [MODEL_LABEL]: m.metadata.name },
      annotations: {
        [STABLE_ANNOTATION]: String(req.stable.version),
        ...(req.canary && req.canaryPercent > 0 ? { [CANARY_ANNOTATION]: String(req.canary.version) } : {}),
      },
      ownerReferences: [ownerRef(m)],
    },
    spec: { predictor },
  };
}

function readyOf(isvc: K8sObject): { ready: boolean; message?: string } {
  const st = (isvc.status ?? {}) as { conditions?: Array<{ type: string; status: string; message?: string }>; observedGeneration?: number };
  const c = st.conditions?.find((x) => x.type === 'Ready');
  const current = st.observedGeneration === undefined || st.observedGeneration >= (isvc.metadata.generation ?? 0);
  return { ready: c?.status === 'True' && current, message: c?.message };
}

export class KServeBackend implements ServingBackend {
  /** The InferenceService carries a controller owner reference: garbage collection removes it. */
  readonly needsFinalizer = false;
  /** The operator watches InferenceServices: a change made here comes back as an event. */
  readonly notifies = true;
  readonly names = { waitingFor: 'InferenceService', applied: 'InferenceService' };
  /** `cached` reads an informer cache: undefined = absent, null = no cache yet (read the API server). */
  constructor(
    private readonly store: ObjectStore,
    private readonly cached?: (ns: string, name: string) => K8sObject | undefined | null,
  ) {}

  async observe(model: K8sObject & { spec: ModelSpec }): Promise<ServingObserved> {
    const hit = this.cached ? this.cached(model.metadata.namespace!, model.spec.inferenceService) : null;
    const isvc = hit === null ? await this.store.get(TYPES.InferenceService, model.metadata.namespace, model.spec.inferenceService) : hit;
    if (!isvc) return { exists: false, ready: false };
    const { ready, message } = readyOf(isvc);
    const a = isvc.metadata.annotations ?? {};
    const pred = (isvc.spec as { predictor?: { canaryTrafficPercent?: number } })?.predictor ?? {};
    const url = (isvc.status as { url?: string } | undefined)?.url;
    const stable = a[STABLE_ANNOTATION] ? Number(a[STABLE_ANNOTATION]) : undefined;
    const canary = a[CANARY_ANNOTATION] ? Number(a[CANARY_ANNOTATION]) : undefined;
    const serving =
      ready && stable !== undefined
        ? {
            stableVersion: stable,
            ...(canary !== undefined ? { canaryVersion: canary } : {}),
            canaryPercent: canary !== undefined ? (pred.canaryTrafficPercent ?? 100) : 0,
          }
        : undefined;
    return { exists: true, ready, ...(serving ? { serving } : {}), ...(url ? { url } : {}), ...(message ? { message } : {}) };
  }

  async serve(req: ServeRequest): Promise<'unchanged' | 'created' | 'updated'> {
    const want = desiredInferenceService(req);
    const ns = want.metadata.namespace!;
    // Cache first: an up-to-date cached copy that already matches means no request at all.
    const hit = this.cached ? this.cached(ns, want.metadata.name) : null;
    if (hit && this.merged(hit, want, req) === undefined) return 'unchanged';
    // Write over the cached copy (its resourceVersion makes the PUT conditional); only when the
    // cache turns out to be behind (409) read the live object and merge again.
    if (hit) {
      try {
        return await this.update(hit, want, req);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409 && e.reason === 'Conflict')) throw e;
      }
    }
    let cur = hit === undefined ? undefined : await this.store.get(TYPES.InferenceService, ns, want.metadata.name);
    if (!cur) {
      try {
        await this.store.create(TYPES.InferenceService, want);
        return 'created';
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        // The cache was behind: read the live object and update it instead.
        cur = await this.store.get(TYPES.InferenceService, ns, want.metadata.name);
        if (!cur) throw e;
      }
    }
    return this.update(cur, want, req);
  }

  private async update(cur: K8sObject, want: K8sObject, req: ServeRequest): Promise<'unchanged' | 'updated'> {
    const owner = cur.metadata.ownerReferences?.find((o) => o.controller);
    if (owner && owner.uid !== req.model.metadata.uid) {
      throw new ApiError(
        409,
        'OwnedByAnother',
        `InferenceService ${want.metadata.namespace}/${want.metadata.name} is controlled by ${owner.kind} ${owner.name}; give Model ${req.model.metadata.name} another spec.inferenceService`,
      );
    }
    const next = this.merged(cur, want, req);
    if (!next) return 'unchanged';
    await this.store.replace(TYPES.InferenceService, next);
    return 'updated';
  }

  /** The object to write to bring `cur` to `want`, or undefined when nothing differs. */
  private merged(cur: K8sObject, want: K8sObject, req: ServeRequest): K8sObject | undefined {
    const annotations = { ...(cur.metadata.annotations ?? {}) };
    delete annotations[CANARY_ANNOTATION];
    const next: K8sObject = {
      ...cur,
      metadata: {
        ...cur.metadata,
        labels: { ...(cur.metadata.labels ?? {}), ...want.metadata.labels },
        annotations: { ...annotations, ...want.metadata.annotations },
        ownerReferences: [...(cur.metadata.ownerReferences ?? []).filter((o) => o.uid !== req.model.metadata.uid), ...want.metadata.ownerReferences!],
      },
      spec: { ...(cur.spec as object), predictor: (want.spec as { predictor: unknown }).predictor },
    };
    if (jsonEqual(next.metadata, cur.metadata) && jsonEqual(next.spec, cur.spec)) return undefined;
    return next;
  }

  async remove(model: K8sObject & { spec: ModelSpec }): Promise<void> {
    const cur = await this.store.get(TYPES.InferenceService, model.metadata.namespace, model.spec.inferenceService);
    if (cur && cur.metadata.ownerReferences?.some((o) => o.uid === model.metadata.uid)) {
      await this.store.delete(TYPES.InferenceService, model.metadata.namespace, model.spec.inferenceService);
    }
  }
}
