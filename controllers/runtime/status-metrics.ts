/**
 * What the operator knows, as Prometheus series on its own /metrics (read from its informer cache at
 * scrape time, so they are exactly the objects' statuses): the canary's step and traffic per Model,
 * and the last drift check per DriftMonitor, per feature. Dashboards (charts/dashboard.ts) and alert
 * rules query them by these names:
 *
 * - ghosteam_model_canary_step{namespace,model_resource,model}         1-based step of the canary in progress, 0 when none
 * - ghosteam_model_canary_traffic_percent{namespace,model_resource,model}  share of traffic on the canary (0–100)
 * - ghosteam_model_served_version{namespace,model_resource,model,role}   the stable (role="stable") and canary version numbers
 * - ghosteam_drift_share{namespace,monitor,model_resource}               share of features drifted at the last check
 * - ghosteam_drift_dataset_drift{namespace,monitor,model_resource}       1 when the last check found dataset drift
 * - ghosteam_drift_feature_statistic{namespace,monitor,model_resource,feature,test}  the feature's test statistic
 * - ghosteam_drift_feature_drifted{namespace,monitor,model_resource,feature}         1 when the feature drifted
 *
 * `model_resource` is the Model resource's name; `model` (on Model series) the registered model it
 * serves, the label the model server's series carry.
 */
import { Gauge, type Registry } from 'prom-client';
import type { DriftMonitorStatus, ModelStatus } from '../../api/crds/index.ts';
import { registeredModelOf, type K8sObject } from '../../api/objects.ts';

export interface StatusSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export const STATUS_METRICS = {
  canaryStep: {
    name: 'ghosteam_model_canary_step',
    help: 'Step (1-based) of the canary in progress; 0 when none',
    labels: ['namespace', 'model_resource', 'model'],
  },
  canaryTraffic: {
    name: 'ghosteam_model_canary_traffic_percent',
    help: 'Percent of traffic on the canary; 0 when none',
    labels: ['namespace', 'model_resource', 'model'],
  },
  servedVersion: {
    name: 'ghosteam_model_served_version',
    help: 'Version number served as stable (role="stable") and as canary (role="canary")',
    labels: ['namespace', 'model_resource', 'model', 'role'],
  },
  driftShare: { name: 'ghosteam_drift_share', help: 'Share of features drifted at the last drift check', labels: ['namespace', 'monitor', 'model_resource'] },
  datasetDrift: {
    name: 'ghosteam_drift_dataset_drift',
    help: '1 when the last drift check found dataset drift',
    labels: ['namespace', 'monitor', 'model_resource'],
  },
  featureStatistic: {
    name: 'ghosteam_drift_feature_statistic',
    help: "A feature's drift test statistic at the last check",
    labels: ['namespace', 'monitor', 'model_resource', 'feature', 'test'],
  },
  featureDrifted: {
    name: 'ghosteam_drift_feature_drifted',
    help: '1 when the feature drifted at the last check',
    labels: ['namespace', 'monitor', 'model_resource', 'feature'],
  },
} as const;

/** The series of these Models and DriftMonitors (pure: the statuses in, the samples out). */
export function statusSamples(models: readonly K8sObject[], monitors: readonly K8sObject[]): StatusSample[] {
  const out: StatusSample[] = [];
  for (const m of models) {
    const s = (m.status ?? {}) as ModelStatus;
    const l = {
      namespace: m.metadata.namespace ?? 'default',
      model_resource: m.metadata.name,
      model: registeredModelOf(m),
    };
    const canary = s.canaryVersion !== undefined;
    out.push({ name: STATUS_METRICS.canaryStep.name, labels: l, value: canary ? (s.stepIndex ?? 0) + 1 : 0 });
    out.push({ name: STATUS_METRICS.canaryTraffic.name, labels: l, value: canary ? (s.trafficPercent ?? 0) : 0 });
    if (s.stableVersion !== undefined) out.push({ name: STATUS_METRICS.servedVersion.name, labels: { ...l, role: 'stable' }, value: s.stableVersion });
    if (canary) out.push({ name: STATUS_METRICS.servedVersion.name, labels: { ...l, role: 'canary' }, value: s.canaryVersion! });
  }
  for (const d of monitors) {
    const s = (d.status ?? {}) as DriftMonitorStatus;
    if (s.driftShare === undefined && !s.features) continue;
    const l = {
      namespace: d.metadata.namespace ?? 'default',
      monitor: d.metadata.name,
      model_resource: (d.spec as { model?: string } | undefined)?.model ?? '',
    };
    if (s.driftShare !== undefined) out.push({ name: STATUS_METRICS.driftShare.name, labels: l, value: s.driftShare });
    if (s.datasetDrift !== undefined) out.push({ name: STATUS_METRICS.datasetDrift.name, labels: l, value: s.datasetDrift ? 1 : 0 });
    for (const f of s.features ?? []) {
      out.push({ name: STATUS_METRICS.featureStatistic.name, labels: { ...l, feature: f.name, test: f.test }, value: f.statistic });
      out.push({ name: STATUS_METRICS.featureDrifted.name, labels: { ...l, feature: f.name }, value: f.drifted ? 1 : 0 });
    }
  }
  return out;
}

/** Registers the status gauges on `registry`; each scrape reads the objects from `list`. */
export function registerStatusMetrics(
  registry: Registry,
  list: { readonly models: () => readonly K8sObject[]; readonly monitors: () => readonly K8sObject[] },
): void {
  const gauges = new Map<string, Gauge<string>>();
  let cached: { at: number; samples: StatusSample[] } | undefined;
  // One read of the cache per scrape, shared by the gauges' collect calls.
  const samples = () => {
    const now = Date.now();
    if (!cached || now - cached.at > 250) cached = { at: now, samples: statusSamples(list.models(), list.monitors()) };
    return cached.samples;
  };
  for (const def of Object.values(STATUS_METRICS)) {
    const g: Gauge<string> = new Gauge({
      name: def.name,
      help: def.help,
      labelNames: [...def.labels],
      registers: [registry],
      collect() {
        g.reset();
        for (const s of samples()) if (s.name === def.name) g.set(s.labels, s.value);
      },
    });
    gauges.set(def.name, g);
  }
}
