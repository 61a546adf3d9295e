/** ServingBackend over the local model server's admin API: versions loaded from the registry, traffic split set by weight. */
import type { ModelSpec } from '../../api/crds/index.ts';
import type { ServeRequest, ServingBackend, ServingObserved } from './types.ts';
import type { ModelServerAdmin } from './metrics.ts';
import type { K8sObject } from '../../api/objects.ts';

type M = K8sObject & { spec: ModelSpec };

export class ModelServerBackend implements ServingBackend {
  readonly needsFinalizer = true;
  /** The reconciler polls: the admin API has no watch. */
  readonly notifies = false;
  readonly names = { waitingFor: 'the model server', applied: 'Served model' };
  constructor(
    private readonly admin: ModelServerAdmin,
    private readonly url?: string,
  ) {}

  async observe(m: M): Promise<ServingObserved> {
    const models = await this.admin.listModels();
    const info = models.find((x) => x.name === m.spec.modelRef.name);
    if (!info || !info.traffic) return { exists: !!info, ready: false };
    const t = info.traffic;
    const pct = t.canary ? (t.canaryPercent ?? 0) : 0;
    return {
      exists: true,
      ready: true,
      serving: { stableVersion: Number(t.stable), ...(t.canary && pct > 0 ? { canaryVersion: Number(t.canary) } : {}), canaryPercent: pct },
      ...(this.url ? { url: `${this.url}/v2/models/${m.spec.modelRef.name}` } : {}),
    };
  }

  async serve(req: ServeRequest): Promise<'unchanged' | 'created' | 'updated'> {
    const name = req.model.spec.modelRef.name;
    const models = await this.admin.listModels();
    const info = models.find((x) => x.name === name);
    const loaded = new Set(info?.versions.map((v) => v.version) ?? []);
    let changed = false;
    for (const v of [req.stable, ...(req.canary ? [req.canary] : [])]) {
      if (!loaded.has(String(v.version))) {
        await this.admin.load({ name, version: String(v.version), path: v.source, ...(info ? {} : { stable: true }) });
        changed = true;
      }
    }
    const split: { stable: string; canary?: string; canaryPercent: number } =
      req.canary && req.canaryPercent > 0
        ? { stable: String(req.stable.version), canary: String(req.canary.version), canaryPercent: req.canaryPercent }
        : { stable: String(req.stable.version), canaryPercent: 0 };
    const t = info?.traffic;
    const same = t && t.stable === split.stable && (t.canary ?? undefined) === split.canary && (t.canaryPercent ?? 0) === split.canaryPercent;
    if (!same) {
      await this.admin.setTraffic(name, split);
      changed = true;
    }
    // Unload versions that no longer take traffic (a rolled-back canary, a replaced stable).
    const keep = new Set(split.canary === undefined ? [split.stable] : [split.stable, split.canary]);
    for (const v of loaded) if (!keep.has(v)) await this.admin.unload(name, v).catch(() => undefined);
    return !info ? 'created' : changed ? 'updated' : 'unchanged';
  }

  async remove(m: M): Promise<void> {
    await this.admin.unload(m.spec.modelRef.name).catch(() => undefined);
  }
}
