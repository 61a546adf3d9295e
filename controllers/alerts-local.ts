/**
 * The embedded operator's alerting: it evaluates the Model's alert rules (the PrometheusRule that
 * `Alerts.of` synthesizes: one definition, see api/alert-rules.ts) on a schedule over the local model
 * server's series, and sends what fires or resolves to the console (the operator's log), a webhook
 * (Alertmanager's webhook payload, version 4, so an Alertmanager-style receiver takes it unchanged),
 * and any listener (the demo's report). The evaluation is controllers/planners/alerts.ts.
 *
 * The local series come from the model server's admin stats, under the names Prometheus scrapes from
 * /metrics: quality and its labelled samples, the CBPE estimate and the predictions it covers,
 * requests and errors (counters since the version was loaded), and the p99 latency over the server's
 * recent requests as a summary-style `ghosteam_model_request_duration_seconds{quantile="0.99"}` (the
 * stats keep no buckets: locally p99 is the server's own window's, not the rule's rate window).
 */
import { planAlerts, rulesFromPrometheusRule, type AlertsState, type LocalAlert, type Sample, type Scrape } from './planners/alerts.ts';
import { parseDuration } from '../api/names.ts';
import { writeAlertState } from './runtime/alert-state.ts';
import type { AlertRule } from '../api/alert-rules.ts';
import type { ModelServerAdmin } from './backends/metrics.ts';
import type { K8sObject } from '../api/objects.ts';
import type { Logger } from './runtime/log.ts';

export interface LocalAlertsOptions {
  /** The rules: PrometheusRule objects from synth (checked, see rulesFromPrometheusRule) or rules as they are. */
  readonly rules: ReadonlyArray<AlertRule | K8sObject>;
  /** The local series now. @default - modelServerSamples over the rules' models */
  readonly samples?: () => Promise<Sample[]>;
  readonly modelServer?: ModelServerAdmin;
  /** @default 5000 */
  readonly intervalMs?: number;
  /** POST Alertmanager's webhook payload here on every change. */
  readonly webhook?: { readonly url: string; readonly bearerToken?: string };
  readonly log?: Pick<Logger, 'info' | 'warn'>;
  readonly onChange?: (changes: readonly LocalAlert[]) => void;
  /** Write the alerts pending or firing to `<stateDir>/alerts.json` on every change (what `ghosteam ui` shows). */
  readonly stateDir?: string;
  readonly now?: () => number;
}

/** The Alertmanager webhook payload (version 4) for a batch of changes. */
export function webhookPayload(changes: readonly LocalAlert[], receiver = 'ghosteam-local'): Record<string, unknown> {
  const common = (pick: (a: LocalAlert) => Readonly<Record<string, string>>) => {
    const [first, ...rest] = changes.map(pick);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(first ?? {})) if (rest.every((r) => r[k] === v)) out[k] = v;
    return out;
  };
  const status = changes.some((a) => a.state === 'firing') ? 'firing' : 'resolved';
  const alertnames = [...new Set(changes.map((a) => a.alert))];
  return {
    version: '4',
    groupKey: `{}:{alertname=~"${alertnames.join('|')}"}`,
    truncatedAlerts: 0,
    status,
    receiver,
    groupLabels: alertnames.length === 1 ? { alertname: alertnames[0] } : {},
    commonLabels: common((a) => a.labels),
    commonAnnotations: common((a) => a.annotations),
    externalURL: '',
    alerts: changes.map((a) => ({
      status: a.state === 'resolved' ? 'resolved' : 'firing',
      labels: a.labels,
      annotations: a.annotations,
      startsAt: new Date(a.firedAt ?? a.activeAt).toISOString(),
      endsAt: a.resolvedAt !== undefined ? new Date(a.resolvedAt).toISOString() : '0001-01-01T00:00:00Z',
      generatorURL: '',
      fingerprint: fingerprint(a.labels),
    })),
  };
}

function fingerprint(labels: Readonly<Record<string, string>>): string {
  // FNV-1a 64 over the sorted labels, as hex (Alertmanager's fingerprint is a 64-bit label hash too).
  let h = 0xcbf29ce484222325n;
  for (const [k, v] of Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))
    for (const ch of `${k}\u00ff${v}\u00ff`) {
      h ^= BigInt(ch.codePointAt(0)!);
      h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
    }
  return h.toString(16).padStart(16, '0');
}

/** The local model server's series for `models`, under Prometheus' names (see the header). */
export async function modelServerSamples(admin: ModelServerAdmin, models: readonly string[]): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const model of models) {
    const stats = await admin.stats(model).catch(() => undefined);
    for (const [version, v] of Object.entries(stats?.versions ?? {})) {
      const l = { model, version };
      out.push({ name: 'ghosteam_model_requests_total', labels: l, value: v.requests });
      out.push({ name: 'ghosteam_model_errors_total', labels: l, value: v.errors });
      if (v.latencyMs.window > 0)
        out.push({ name: 'ghosteam_model_request_duration_seconds', labels: { ...l, quantile: '0.99' }, value: v.latencyMs.p99 / 1000 });
      if (v.quality && v.quality.samples > 0) {
        out.push({ name: 'ghosteam_model_quality_samples', labels: l, value: v.quality.samples });
        for (const [metric, value] of Object.entries(v.quality.metrics))
          if (typeof value === 'number') out.push({ name: 'ghosteam_model_quality', labels: { ...l, metric }, value });
      }
      if (v.qualityEstimate && v.qualityEstimate.samples > 0) {
        out.push({ name: 'ghosteam_model_quality_estimate_samples', labels: l, value: v.qualityEstimate.samples });
        for (const [metric, e] of Object.entries(v.qualityEstimate.metrics))
          if (e) out.push({ name: 'ghosteam_model_quality_estimate', labels: { ...l, metric }, value: e.value });
      }
    }
  }
  return out;
}

export class LocalAlertEvaluator {
  readonly rules: readonly AlertRule[];
  private history: Scrape[] = [];
  private state: AlertsState = new Map();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly keepMs: number;
  /** Every change so far, oldest first (what the demo's report shows). */
  readonly log: LocalAlert[] = [];

  constructor(private readonly o: LocalAlertsOptions) {
    this.rules = o.rules.flatMap((r) => ('condition' in r ? [r as AlertRule] : rulesFromPrometheusRule(r)));
    if (!o.samples && !o.modelServer) throw new Error('LocalAlertEvaluator: give samples or a modelServer to read the series from');
    // Keep what the longest window and Prometheus' 5-minute lookback need.
    this.keepMs = Math.max(5 * 60_000, ...this.rules.map((r) => ('window' in r.condition ? parseDuration(r.condition.window) * 1000 : 0))) + 60_000;
  }

  /** The alerts pending or firing now. */
  get active(): LocalAlert[] {
    return [...this.state.values()];
  }

  /** Scrapes once, evaluates every rule, notifies about what changed, and returns it. */
  async evaluate(): Promise<readonly LocalAlert[]> {
    const now = (this.o.now ?? Date.now)();
    const models = [...new Set(this.rules.map((r) => r.model))];
    const samples = await (this.o.samples ?? (() => modelServerSamples(this.o.modelServer!, models)))();
    this.history = [...this.history.filter((s) => s.t > now - this.keepMs), { t: now, samples }];
    const plan = planAlerts(this.rules, this.history, this.state, now);
    const before = this.state;
    this.state = plan.state;
    const moved = before.size !== plan.state.size || [...plan.state].some(([k, a]) => before.get(k)?.state !== a.state);
    if (this.o.stateDir && (moved || plan.changes.length > 0)) await writeAlertState(this.o.stateDir, this.active, now);
    if (plan.changes.length > 0) await this.notify(plan.changes);
    return plan.changes;
  }

  private async notify(changes: readonly LocalAlert[]): Promise<void> {
    this.log.push(...changes);
    for (const a of changes) {
      const line = `alert ${a.alert} ${a.state === 'resolved' ? 'resolved' : 'FIRING'}: ${a.annotations.summary ?? JSON.stringify(a.labels)}`;
      if (a.state === 'resolved') this.o.log?.info(line);
      else this.o.log?.warn(line);
    }
    this.o.onChange?.(changes);
    const hook = this.o.webhook;
    if (hook) {
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(hook.bearerToken ? { authorization: `Bearer ${hook.bearerToken}` } : {}) },
          body: JSON.stringify(webhookPayload(changes)),
          signal: AbortSignal.timeout(10_000),
        });
        if (!res.ok) this.o.log?.warn(`alert webhook ${hook.url} answered ${res.status}`);
      } catch (e) {
        this.o.log?.warn(`alert webhook ${hook.url} failed: ${(e as Error).message}`);
      }
    }
  }

  start(): this {
    const every = this.o.intervalMs ?? 5000;
    const tick = () => {
      this.running = this.evaluate()
        .catch((e: Error) => this.o.log?.warn(`alert evaluation failed: ${e.message}`))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, every);
        });
    };
    this.timer = setTimeout(tick, 0);
    return this;
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running;
  }
}
