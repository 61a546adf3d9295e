/**
 * A Grafana dashboard for a Model, as code: `dashboard: Dashboard.of()` on a `Model` emits the
 * dashboard JSON in a ConfigMap that Grafana's sidecar loads (label `grafana_dashboard: "1"`), and,
 * with `grafanaOperator`, a grafana-operator `GrafanaDashboard`. The panels query the series the
 * model server, the payload sink, the operator and Prometheus itself really export: traffic, p99
 * latency and error rate per version, quality from delayed labels per metric and version, CBPE's
 * estimate with its ±3σ bound, labelled predictions and feedback outcomes, the canary's step, traffic
 * and versions, drift share and each feature's statistic at the last check (the operator's status
 * series, controllers/runtime/status-metrics.ts), and the model's firing alerts (`ALERTS`).
 *
 * @see https://grafana.github.io/grafana-operator/docs/api/#grafanadashboard
 * @see https://github.com/grafana/helm-charts/tree/main/charts/grafana#sidecar-for-dashboards
 */
import { ValidationError } from '../api/errors.ts';

/** @see DashboardOptions */
export const DASHBOARD_DEFAULTS = {
  sidecarLabel: 'grafana_dashboard',
  sidecarLabelValue: '1',
  refresh: '30s',
  timeFrom: 'now-6h',
} as const;

export interface DashboardOptions {
  /**
   * Also emit a grafana-operator `GrafanaDashboard` selecting the Grafana instances with these labels.
   * @default - ConfigMap only
   */
  readonly grafanaOperator?: { readonly instanceSelector: Readonly<Record<string, string>>; readonly folder?: string };
  /** The ConfigMap label Grafana's dashboard sidecar watches, and its value. @default { grafana_dashboard: '1' } */
  readonly sidecarLabel?: { readonly name: string; readonly value: string };
  /** @default '30s' */
  readonly refresh?: string;
}

interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly targets: ReadonlyArray<{ readonly expr: string; readonly legendFormat: string }>;
}

export class Dashboard {
  private constructor(readonly options: DashboardOptions) {}

  static of(options: DashboardOptions = {}): Dashboard {
    const issues: Array<{ path: string; field: string; message: string }> = [];
    const sel = options.grafanaOperator?.instanceSelector;
    if (options.grafanaOperator && (!sel || Object.keys(sel).length === 0))
      issues.push({
        path: 'Dashboard.of',
        field: 'grafanaOperator.instanceSelector',
        message: "is empty; give the labels of your Grafana resource, e.g. { dashboards: 'grafana' }",
      });
    const label = options.sidecarLabel;
    if (label && !/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(label.name))
      issues.push({ path: 'Dashboard.of', field: 'sidecarLabel.name', message: `'${label.name}' is not a Kubernetes label key` });
    if (issues.length) throw new ValidationError(issues);
    return new Dashboard(options);
  }

  /** The sidecar label of the ConfigMap. */
  get sidecarLabel(): Record<string, string> {
    const l = this.options.sidecarLabel ?? { name: DASHBOARD_DEFAULTS.sidecarLabel, value: DASHBOARD_DEFAULTS.sidecarLabelValue };
    return { [l.name]: l.value };
  }

  /**
   * The panels for registered model `model` served by the Model resource `resource`, in order. The
   * canary and drift panels read the operator's status series (controllers/runtime/status-metrics.ts),
   * labelled by the Model resource. Exported for tests that run their queries on a real Prometheus.
   */
  static panels(model: string, resource: string = model): Panel[] {
    const sel = `model=${JSON.stringify(model)}`;
    const res = `model_resource=${JSON.stringify(resource)}`;
    const rate = '$__rate_interval';
    return [
      {
        title: 'Requests per second by version',
        unit: 'reqps',
        targets: [{ expr: `sum by (version) (rate(ghosteam_model_requests_total{${sel}}[${rate}]))`, legendFormat: 'v{{version}}' }],
      },
      {
        title: 'p99 latency by version',
        unit: 's',
        targets: [
          {
            expr: `histogram_quantile(0.99, sum by (version, le) (rate(ghosteam_model_request_duration_seconds_bucket{${sel}}[${rate}])))`,
            legendFormat: 'v{{version}}',
          },
        ],
      },
      {
        title: 'Error rate by version',
        unit: 'percentunit',
        targets: [
          {
            expr: `sum by (version) (rate(ghosteam_model_errors_total{${sel}}[${rate}])) / sum by (version) (rate(ghosteam_model_requests_total{${sel}}[${rate}]))`,
            legendFormat: 'v{{version}}',
          },
        ],
      },
      {
        title: 'Quality from delayed labels',
        unit: 'none',
        targets: [
          {
            expr: `sum by (version, metric) (ghosteam_model_quality{${sel}} * ignoring (metric) group_left ghosteam_model_quality_samples{${sel}}) / ignoring (metric) group_left sum by (version) (ghosteam_model_quality_samples{${sel}})`,
            legendFormat: 'v{{version}} {{metric}}',
          },
        ],
      },
      {
        title: 'Quality estimated before the labels arrive (CBPE)',
        unit: 'none',
        targets: [
          { expr: `ghosteam_model_quality_estimate{${sel}}`, legendFormat: 'v{{version}} {{metric}} (estimate)' },
          {
            expr: `ghosteam_model_quality_estimate{${sel}} - 3 * ghosteam_model_quality_estimate_sampling_error{${sel}}`,
            legendFormat: 'v{{version}} {{metric}} lower bound',
          },
          {
            expr: `ghosteam_model_quality_estimate{${sel}} + 3 * ghosteam_model_quality_estimate_sampling_error{${sel}}`,
            legendFormat: 'v{{version}} {{metric}} upper bound',
          },
        ],
      },
      {
        title: 'Labelled predictions in the quality window',
        unit: 'short',
        targets: [{ expr: `sum by (version) (ghosteam_model_quality_samples{${sel}})`, legendFormat: 'v{{version}}' }],
      },
      {
        title: 'Feedback by outcome',
        unit: 'short',
        targets: [{ expr: `sum by (outcome) (increase(ghosteam_model_feedback_total{${sel}}[${rate}]))`, legendFormat: '{{outcome}}' }],
      },
      {
        title: 'Canary step and traffic',
        unit: 'short',
        targets: [
          { expr: `max by (model_resource) (ghosteam_model_canary_step{${res}})`, legendFormat: 'step' },
          { expr: `max by (model_resource) (ghosteam_model_canary_traffic_percent{${res}})`, legendFormat: '% traffic on the canary' },
          { expr: `max by (role) (ghosteam_model_served_version{${res}})`, legendFormat: '{{role}} version' },
        ],
      },
      {
        title: 'Drift share (last check)',
        unit: 'percentunit',
        targets: [
          { expr: `max by (monitor) (ghosteam_drift_share{${res}})`, legendFormat: '{{monitor}}' },
          { expr: `max by (monitor) (ghosteam_drift_dataset_drift{${res}})`, legendFormat: '{{monitor}} dataset drift' },
        ],
      },
      {
        title: 'Drift statistic per feature (last check)',
        unit: 'none',
        targets: [{ expr: `max by (feature, test) (ghosteam_drift_feature_statistic{${res}})`, legendFormat: '{{feature}} ({{test}})' }],
      },
      {
        title: 'Drifted features',
        unit: 'short',
        targets: [{ expr: `max by (feature) (ghosteam_drift_feature_drifted{${res}}) > 0`, legendFormat: '{{feature}}' }],
      },
      {
        title: 'Firing alerts',
        unit: 'short',
        targets: [{ expr: `sum by (alertname, version) (ALERTS{${sel},alertstate="firing"})`, legendFormat: '{{alertname}} v{{version}}' }],
      },
    ];
  }

  /** The Grafana dashboard JSON model for Model `name` serving registered model `model`. */
  json(name: string, model: string): Record<string, unknown> {
    const panels = Dashboard.panels(model, name).map((p, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: p.title,
      gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 },
      datasource: { type: 'prometheus', uid: '${datasource}' },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      targets: p.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), datasource: { type: 'prometheus', uid: '${datasource}' }, ...t })),
    }));
    return {
      uid: `ghosteam-${name}`.slice(0, 40),
      title: `ghosteam / ${name}`,
      tags: ['ghosteam', 'model'],
      timezone: 'browser',
      schemaVersion: 39,
      editable: false,
      refresh: this.options.refresh ?? DASHBOARD_DEFAULTS.refresh,
      time: { from: DASHBOARD_DEFAULTS.timeFrom, to: 'now' },
      templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus' }] },
      panels,
    };
  }
}
