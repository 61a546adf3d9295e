/**
 * What `ghosteam status` shows, from the operator's objects (local state directory or a cluster) and
 * the registry: each Model with its stable and canary versions, traffic, phase and the registry's
 * versions; rollouts in progress; the most recent TrainingRuns. Pure: gathering is the command's.
 */
import { registeredModelOf, type K8sObject } from '../api/objects.ts';

export interface StatusInput {
  readonly models: readonly K8sObject[];
  readonly trainingRuns: readonly K8sObject[];
  /** Registered versions per registered model name (newest last). */
  readonly versions: Readonly<Record<string, readonly { version: number; aliases?: readonly string[]; reason?: string }[]>>;
}

export interface StatusReport {
  readonly models: Array<{
    namespace: string;
    name: string;
    registered: string;
    phase: string;
    stable?: number;
    canary?: number;
    trafficPercent?: number;
    step?: number;
    message: string;
    versions: number[];
    champion?: number;
  }>;
  readonly rollouts: Array<{ namespace: string; name: string; canary: number; trafficPercent: number; message: string }>;
  readonly trainingRuns: Array<{
    namespace: string;
    name: string;
    pipeline: string;
    reason: string;
    phase: string;
    registeredVersion?: number;
    gateRejected?: boolean;
    message: string;
    created?: string;
  }>;
}

/** The most recent TrainingRuns shown. */
export const RECENT_RUNS = 10;

type Cond = { type: string; status: string; message?: string };

export function buildStatus(i: StatusInput): StatusReport {
  const models = i.models.map((m) => {
    const st = (m.status ?? {}) as {
      phase?: string;
      stableVersion?: number;
      canaryVersion?: number;
      trafficPercent?: number;
      stepIndex?: number;
      conditions?: Cond[];
    };
    const registered = registeredModelOf(m);
    const vs = i.versions[registered] ?? [];
    const ready = st.conditions?.find((c) => c.type === 'Progressing' && c.status === 'True') ?? st.conditions?.find((c) => c.type === 'Ready');
    const champion = vs.find((v) => v.aliases?.includes('champion'))?.version;
    return {
      namespace: m.metadata.namespace ?? 'default',
      name: m.metadata.name,
      registered,
      phase: st.phase ?? 'Pending',
      ...(st.stableVersion !== undefined ? { stable: st.stableVersion } : {}),
      ...(st.canaryVersion !== undefined ? { canary: st.canaryVersion } : {}),
      ...(st.trafficPercent !== undefined ? { trafficPercent: st.trafficPercent } : {}),
      ...(st.stepIndex !== undefined ? { step: st.stepIndex } : {}),
      message: ready?.message ?? '',
      versions: vs.map((v) => v.version),
      ...(champion !== undefined ? { champion } : {}),
    };
  });
  const rollouts = models
    .filter((m) => m.canary !== undefined)
    .map((m) => ({ namespace: m.namespace, name: m.name, canary: m.canary!, trafficPercent: m.trafficPercent ?? 0, message: m.message }));
  const trainingRuns = [...i.trainingRuns]
    .sort(
      (a, b) =>
        String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')) || b.metadata.name.localeCompare(a.metadata.name),
    )
    .slice(0, RECENT_RUNS)
    .map((r) => {
      const spec = r.spec as { pipeline: string; reason: string };
      const st = (r.status ?? {}) as { phase?: string; registeredVersion?: number; gate?: { passed: boolean }; message?: string };
      return {
        namespace: r.metadata.namespace ?? 'default',
        name: r.metadata.name,
        pipeline: spec.pipeline,
        reason: spec.reason,
        phase: st.phase ?? 'Pending',
        ...(st.registeredVersion !== undefined ? { registeredVersion: st.registeredVersion } : {}),
        ...(st.gate?.passed === false ? { gateRejected: true } : {}),
        message: st.message ?? '',
        ...(r.metadata.creationTimestamp ? { created: String(r.metadata.creationTimestamp) } : {}),
      };
    });
  return { models, rollouts, trainingRuns };
}

export function renderStatus(r: StatusReport): string {
  const out: string[] = [];
  out.push('Models');
  if (!r.models.length) out.push('  (none: apply one with `ghosteam watch` or `ghosteam operator --local --manifests`)');
  for (const m of r.models) {
    const serving =
      m.stable !== undefined ? `v${m.stable}${m.canary !== undefined ? ` + canary v${m.canary} at ${m.trafficPercent ?? 0}%` : ''}` : 'nothing serving';
    out.push(
      `  ${m.namespace}/${m.name} (${m.registered}): ${m.phase}, ${serving}; versions ${m.versions.length ? m.versions.join(', ') : 'none'}${m.champion !== undefined ? ` (champion v${m.champion})` : ''}${m.message ? ` — ${m.message}` : ''}`,
    );
  }
  out.push('', 'Rollouts in progress');
  if (!r.rollouts.length) out.push('  (none)');
  for (const x of r.rollouts) out.push(`  ${x.namespace}/${x.name}: canary v${x.canary} at ${x.trafficPercent}%${x.message ? ` — ${x.message}` : ''}`);
  out.push('', `Recent TrainingRuns (newest first, at most ${RECENT_RUNS})`);
  if (!r.trainingRuns.length) out.push('  (none)');
  for (const t of r.trainingRuns) {
    const outcome = t.gateRejected ? 'gate rejected, nothing registered' : t.registeredVersion !== undefined ? `registered v${t.registeredVersion}` : t.message;
    out.push(`  ${t.namespace}/${t.name}: ${t.pipeline} (${t.reason}) ${t.phase}${outcome ? ` — ${outcome}` : ''}`);
  }
  return `${out.join('\n')}\n`;
}
