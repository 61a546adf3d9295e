/**
 * `alerts: Alerts.of(...)` on a Model → a PrometheusRule: checked against the real prometheus-operator
 * CRD (../shared/upstream, strict), and its rules against real Prometheus tooling: `promtool check
 * rules` and `promtool test rules` with series that must and must not fire (the Prometheus peer's
 * promtool, installed with it from Debian's prometheus package).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { Alerts, Model } from '../../charts/index.ts';
import { chart, find, issuesOf, synth } from './helpers.ts';
import { upstreamValidator } from './upstream.ts';
import { usePeers } from '../peers/index.ts';
import { prometheusBinary, which } from '../peers/install.ts';

const peers = await usePeers(['prometheus']);

function rule(alerts: Alerts, registry = 'fraud@champion') {
  const { app, chart: c } = chart('serving');
  new Model(c, 'fraud', { registry, alerts });
  return find(synth(app).objects, 'PrometheusRule', 'fraud-alerts');
}

describe('Alerts.of on a Model', () => {
  test('the defaults: accuracy < 0.85, p99 > 500 ms, error rate > 5%, on the model server series; valid against the upstream CRD', () => {
    const r = rule(Alerts.of());
    assert.equal(r.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal((r.metadata as { namespace?: string }).namespace, 'serving');
    const valid = upstreamValidator('prometheus-operator/monitoring.coreos.com_prometheusrules.yaml', 'v1', r);
    assert.ok(valid(r), JSON.stringify(valid.errors));
    // The strict check does catch a mistake.
    const bad = { ...r, spec: { groups: [{ ...r.spec.groups[0], rules: [{ ...r.spec.groups[0].rules[0], severity: 'x' }] }] } };
    assert.equal(upstreamValidator('prometheus-operator/monitoring.coreos.com_prometheusrules.yaml', 'v1', bad)(bad), false);
    const rules = r.spec.groups[0].rules as Array<{ alert: string; expr: string; for: string; labels: Record<string, string> }>;
    assert.deepEqual(
      rules.map((x) => [x.alert, x.expr, x.for]),
      [
        [
          'GhosteamModelAccuracyLow',
          'ghosteam_model_quality{model="fraud",metric="accuracy"} < 0.85 and on (model, version) ghosteam_model_quality_samples{model="fraud"} >= 30',
          '5m',
        ],
        [
          'GhosteamModelEstimatedAccuracyLow',
          'ghosteam_model_quality_estimate{model="fraud",metric="accuracy"} < 0.85 and on (model, version) ghosteam_model_quality_estimate_samples{model="fraud"} >= 30',
          '5m',
        ],
        [
          'GhosteamModelLatencyHigh',
          'histogram_quantile(0.99, sum by (model, version, le) (rate(ghosteam_model_request_duration_seconds_bucket{model="fraud"}[5m]))) > 0.5',
          '5m',
        ],
        [
          'GhosteamModelErrorRateHigh',
          'sum by (model, version) (rate(ghosteam_model_errors_total{model="fraud"}[5m])) / sum by (model, version) (rate(ghosteam_model_requests_total{model="fraud"}[5m])) > 0.05',
          '5m',
        ],
      ],
    );
    assert.deepEqual(rules[0].labels, { severity: 'warning', model: 'fraud' });
    // The conditions the expressions were rendered from ride along for the local evaluator.
    const conditions = JSON.parse((r.metadata as { annotations: Record<string, string> }).annotations['ghosteam.io/alert-conditions']);
    assert.deepEqual(
      conditions.map((c: { alert: string; condition: { kind: string } }) => [c.alert, c.condition.kind]),
      [
        ['GhosteamModelAccuracyLow', 'gauge'],
        ['GhosteamModelEstimatedAccuracyLow', 'gauge'],
        ['GhosteamModelLatencyHigh', 'quantile'],
        ['GhosteamModelErrorRateHigh', 'ratio'],
      ],
    );
  });

  test('a condition set to false has no rule; no alerts prop, no PrometheusRule', () => {
    const r = rule(Alerts.of({ maxP99LatencyMs: false, maxErrorRate: false, minAccuracy: 0.9, minEstimatedAccuracy: false }));
    assert.deepEqual(
      r.spec.groups[0].rules.map((x: { alert: string }) => x.alert),
      ['GhosteamModelAccuracyLow'],
    );
    // The estimate's floor follows minAccuracy unless given.
    const follows = rule(Alerts.of({ maxP99LatencyMs: false, maxErrorRate: false, minAccuracy: 0.9 }));
    assert.match(follows.spec.groups[0].rules[1].expr, /^ghosteam_model_quality_estimate\{model="fraud",metric="accuracy"\} < 0\.9 and/);
    const { app, chart: c } = chart('serving');
    new Model(c, 'fraud', { registry: 'fraud' });
    assert.equal(
      synth(app).objects.some((o) => (o as { kind: string }).kind === 'PrometheusRule'),
      false,
    );
  });

  test('bad thresholds name the field and the fix', () => {
    assert.deepEqual(
      issuesOf(() => Alerts.of({ minAccuracy: 85, minEstimatedAccuracy: 0.8, maxErrorRate: 5, for: 'soon', severity: 'PAGE' })),
      [
        "Alerts.of: 'alerts.minAccuracy' (85) must be above 0 and at most 1, e.g. 0.85; or false for no accuracy alert",
        "Alerts.of: 'alerts.maxErrorRate' (5) must be a share from 0 to below 1, e.g. 0.05 for 5%; or false",
        "Alerts.of: 'alerts.for' 'soon' is not a duration; write e.g. '30s', '5m', '1h30m' or '7d'",
        "Alerts.of: 'alerts.severity' 'PAGE' must be a lowercase word like warning or critical",
      ],
    );
  });
});

describe('the rules under promtool (Prometheus peer)', { skip: peers.skip }, () => {
  const bin = prometheusBinary();
  const promtool = (bin && which(join(dirname(bin), 'promtool'))) ?? which('promtool');

  test(
    'promtool check rules passes and promtool test rules fires exactly where it must',
    { skip: promtool ? false : 'promtool not found next to prometheus' },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ghosteam-alerts-'));
      writeFileSync(join(dir, 'rules.yaml'), stringify(rule(Alerts.of()).spec));
      const run = promisify(execFile);
      const check = await run(promtool!, ['check', 'rules', join(dir, 'rules.yaml')]);
      assert.match(check.stdout, /SUCCESS: 4 rules found/);
      const fraud = (v: string, extra = '') => `{model="fraud",version="${v}"${extra}}`;
      const tests = {
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              // version 2 is bad and has enough labels; 1 is good; 3 is bad on too few labels.
              { series: `ghosteam_model_quality${fraud('2', ',metric="accuracy"')}`, values: '0.8x10' },
              { series: `ghosteam_model_quality_samples${fraud('2')}`, values: '100x10' },
              { series: `ghosteam_model_quality${fraud('1', ',metric="accuracy"')}`, values: '0.95x10' },
              { series: `ghosteam_model_quality_samples${fraud('1')}`, values: '100x10' },
              { series: `ghosteam_model_quality${fraud('3', ',metric="accuracy"')}`, values: '0.5x10' },
              { series: `ghosteam_model_quality_samples${fraud('3')}`, values: '5x10' },
              // The estimate (CBPE): version 1's is low on 40 waiting predictions, version 2's fine.
              { series: `ghosteam_model_quality_estimate${fraud('1', ',metric="accuracy"')}`, values: '0.7x10' },
              { series: `ghosteam_model_quality_estimate_samples${fraud('1')}`, values: '40x10' },
              { series: `ghosteam_model_quality_estimate${fraud('2', ',metric="accuracy"')}`, values: '0.9x10' },
              { series: `ghosteam_model_quality_estimate_samples${fraud('2')}`, values: '40x10' },
              // version 2: every request between 0.5 s and 1 s, 10% errors; version 1 fast and clean.
              { series: `ghosteam_model_request_duration_seconds_bucket${fraud('2', ',le="0.5"')}`, values: '0+0x10' },
              { series: `ghosteam_model_request_duration_seconds_bucket${fraud('2', ',le="1"')}`, values: '0+100x10' },
              { series: `ghosteam_model_request_duration_seconds_bucket${fraud('2', ',le="+Inf"')}`, values: '0+100x10' },
              { series: `ghosteam_model_requests_total${fraud('2')}`, values: '0+100x10' },
              { series: `ghosteam_model_errors_total${fraud('2', ',code="500"')}`, values: '0+10x10' },
              { series: `ghosteam_model_request_duration_seconds_bucket${fraud('1', ',le="0.5"')}`, values: '0+100x10' },
              { series: `ghosteam_model_request_duration_seconds_bucket${fraud('1', ',le="1"')}`, values: '0+100x10' },
              { series: `ghosteam_model_request_duration_seconds_bucket${fraud('1', ',le="+Inf"')}`, values: '0+100x10' },
              { series: `ghosteam_model_requests_total${fraud('1')}`, values: '0+100x10' },
              { series: `ghosteam_model_errors_total${fraud('1', ',code="500"')}`, values: '0+0x10' },
            ],
            alert_rule_test: [
              // Pending, not firing, before `for` has passed.
              { eval_time: '3m', alertname: 'GhosteamModelAccuracyLow', exp_alerts: [] },
              {
                eval_time: '8m',
                alertname: 'GhosteamModelAccuracyLow',
                exp_alerts: [
                  {
                    exp_labels: { severity: 'warning', model: 'fraud', version: '2', metric: 'accuracy' },
                    exp_annotations: {
                      summary: 'fraud version 2: accuracy 80% is below 85%',
                      description: 'Accuracy from delayed labels (POST /v2/models/fraud/feedback) over the quality window has been below 0.85 for 5m.',
                    },
                  },
                ],
              },
              {
                eval_time: '8m',
                alertname: 'GhosteamModelEstimatedAccuracyLow',
                exp_alerts: [
                  {
                    exp_labels: { severity: 'warning', model: 'fraud', version: '1', metric: 'accuracy' },
                    exp_annotations: {
                      summary: 'fraud version 1: estimated accuracy 70% is below 85% (CBPE, before labels)',
                      description:
                        'Accuracy estimated by CBPE from the logged probabilities of predictions still waiting for labels has been below 0.85 for 5m: an estimate, not a measurement.',
                    },
                  },
                ],
              },
              {
                eval_time: '8m',
                alertname: 'GhosteamModelLatencyHigh',
                exp_alerts: [
                  {
                    exp_labels: { severity: 'warning', model: 'fraud', version: '2' },
                    exp_annotations: {
                      summary: 'fraud version 2: p99 latency 995ms is above 500 ms',
                      description: 'The 99th percentile of inference latency over 5m has been above 500 ms for 5m.',
                    },
                  },
                ],
              },
              {
                eval_time: '8m',
                alertname: 'GhosteamModelErrorRateHigh',
                exp_alerts: [
                  {
                    exp_labels: { severity: 'warning', model: 'fraud', version: '2' },
                    exp_annotations: {
                      summary: 'fraud version 2: 10% of requests fail (limit 5%)',
                      description: 'The share of non-2xx answers over 5m has been above 0.05 for 5m.',
                    },
                  },
                ],
              },
            ],
          },
        ],
      };
      writeFileSync(join(dir, 'tests.yaml'), stringify(tests));
      const res = await run(promtool!, ['test', 'rules', join(dir, 'tests.yaml')]).catch((e: { stdout: string; stderr: string }) => {
        throw new Error(`promtool test rules failed:\n${e.stdout}\n${e.stderr}`);
      });
      assert.match(res.stdout + res.stderr, /SUCCESS/);
    },
  );
});
