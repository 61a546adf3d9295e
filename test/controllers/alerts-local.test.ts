/**
 * One rule definition, two evaluators. The rules `Alerts.of` synthesizes into a PrometheusRule are
 * evaluated by the embedded operator (controllers/planners/alerts.ts) and by Prometheus:
 *
 * 1. the same series, minute by minute: what the local evaluator fires at each evaluation time becomes
 *    the expected alerts (labels and rendered annotations) of `promtool test rules` (Debian's, the
 *    Prometheus peer's), which passes only if Prometheus fires exactly those;
 * 2. a real model server: a real Prometheus scrapes it and evaluates the PrometheusRule, the local
 *    evaluator reads the same server's stats; the bad version fires in both, the good one in neither,
 *    and the local webhook receives Alertmanager's payload;
 * 3. a PrometheusRule edited by hand is refused by name.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { Alerts, Model } from '../../charts/index.ts';
import { planAlerts, rulesFromPrometheusRule, histogramQuantile, type AlertsState, type Scrape } from '../../controllers/planners/alerts.ts';
import { LocalAlertEvaluator } from '../../controllers/alerts-local.ts';
import { readAlertState } from '../../controllers/runtime/alert-state.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/server.ts';
import { ModelServerAdminClient } from '../../components/model-server/admin-client.ts';
import { renderAnnotation } from '../../api/alert-rules.ts';
import { chart, find, synth } from '../constructs/helpers.ts';
import { eventually, promQuery, startTestPrometheus, usePeers, type TestPrometheus } from '../peers/index.ts';
import { prometheusBinary, which } from '../peers/install.ts';
import { inferBody, post, rows, tempDir, writeFraudModel } from '../model-server/fixtures.ts';

const peers = await usePeers(['prometheus']);
const MIN = 60_000;

function prometheusRule(alerts: Alerts) {
  const { app, chart: c } = chart('serving');
  new Model(c, 'fraud', { registry: 'fraud@champion', alerts });
  return find(synth(app).objects, 'PrometheusRule', 'fraud-alerts') as { metadata: { name: string; annotations: Record<string, string> }; spec: any };
}

/** Minute-by-minute series for 11 minutes: name{labels} → values. */
function series(): Array<{ name: string; labels: Record<string, string>; values: number[] }> {
  const f = (version: string, extra: Record<string, string> = {}) => ({ model: 'fraud', version, ...extra });
  const ramp = (start: number, step: number) => Array.from({ length: 11 }, (_, i) => start + step * i);
  const flat = (v: number) => Array.from({ length: 11 }, () => v);
  // Version 2's accuracy falls from 0.95 to 0.6 from minute 3: the alert is pending, then fires.
  const falling = Array.from({ length: 11 }, (_, i) => (i < 3 ? 0.95 : 0.6));
  return [
    { name: 'ghosteam_model_quality', labels: f('2', { metric: 'accuracy' }), values: falling },
    { name: 'ghosteam_model_quality_samples', labels: f('2'), values: flat(120) },
    { name: 'ghosteam_model_quality', labels: f('1', { metric: 'accuracy' }), values: flat(0.93) },
    { name: 'ghosteam_model_quality_samples', labels: f('1'), values: flat(120) },
    // Bad but on too few labels: must not fire.
    { name: 'ghosteam_model_quality', labels: f('3', { metric: 'accuracy' }), values: flat(0.4) },
    { name: 'ghosteam_model_quality_samples', labels: f('3'), values: flat(5) },
    { name: 'ghosteam_model_quality_estimate', labels: f('1', { metric: 'accuracy' }), values: flat(0.71) },
    { name: 'ghosteam_model_quality_estimate_samples', labels: f('1'), values: flat(45) },
    { name: 'ghosteam_model_quality_estimate', labels: f('2', { metric: 'accuracy' }), values: flat(0.9) },
    { name: 'ghosteam_model_quality_estimate_samples', labels: f('2'), values: flat(45) },
    // Version 2 slow (all between 0.5 s and 1 s), 8% errors; version 1 fast, 1% errors.
    { name: 'ghosteam_model_request_duration_seconds_bucket', labels: f('2', { le: '0.5' }), values: ramp(0, 10) },
    { name: 'ghosteam_model_request_duration_seconds_bucket', labels: f('2', { le: '1' }), values: ramp(0, 100) },
    { name: 'ghosteam_model_request_duration_seconds_bucket', labels: f('2', { le: '+Inf' }), values: ramp(0, 100) },
    { name: 'ghosteam_model_requests_total', labels: f('2'), values: ramp(0, 100) },
    { name: 'ghosteam_model_errors_total', labels: f('2', { code: '500' }), values: ramp(0, 5) },
    { name: 'ghosteam_model_errors_total', labels: f('2', { code: '503' }), values: ramp(0, 3) },
    { name: 'ghosteam_model_request_duration_seconds_bucket', labels: f('1', { le: '0.5' }), values: ramp(0, 200) },
    { name: 'ghosteam_model_request_duration_seconds_bucket', labels: f('1', { le: '1' }), values: ramp(0, 200) },
    { name: 'ghosteam_model_request_duration_seconds_bucket', labels: f('1', { le: '+Inf' }), values: ramp(0, 200) },
    { name: 'ghosteam_model_requests_total', labels: f('1'), values: ramp(0, 200) },
    { name: 'ghosteam_model_errors_total', labels: f('1', { code: '500' }), values: ramp(0, 2) },
  ];
}

describe('the local evaluator', () => {
  test('fires what the rules say, after `for`, and resolves', () => {
    const rules = rulesFromPrometheusRule(prometheusRule(Alerts.of({ for: '3m', rateWindow: '5m' })));
    const input = series();
    const scrapes: Scrape[] = Array.from({ length: 11 }, (_, i) => ({
      t: i * MIN,
      samples: input.map((s) => ({ name: s.name, labels: s.labels, value: s.values[i] })),
    }));
    let state: AlertsState = new Map();
    const fired: string[] = [];
    for (let i = 0; i <= 10; i++) {
      const p = planAlerts(rules, scrapes.slice(0, i + 1), state, i * MIN);
      state = p.state;
      for (const c of p.changes) fired.push(`${i}m ${c.state} ${c.alert} v${c.labels.version}`);
    }
    // Accuracy of v2 breaks at 3m: pending at 3m, firing at 6m. Latency and errors hold from 1m (two samples): firing at 4m.
    assert.deepEqual(fired, [
      '3m firing GhosteamModelEstimatedAccuracyLow v1',
      '4m firing GhosteamModelLatencyHigh v2',
      '4m firing GhosteamModelErrorRateHigh v2',
      '6m firing GhosteamModelAccuracyLow v2',
    ]);
    const acc = [...state.values()].find((a) => a.alert === 'GhosteamModelAccuracyLow')!;
    assert.equal(acc.annotations.summary, 'fraud version 2: accuracy 60% is below 85%');
    // The condition ends: the firing alert resolves once.
    const recovered: Scrape = { t: 11 * MIN, samples: scrapes[10].samples.map((s) => (s.name === 'ghosteam_model_quality' ? { ...s, value: 0.95 } : s)) };
    const p = planAlerts(rules, [...scrapes, recovered], state, 11 * MIN);
    assert.deepEqual(
      p.changes.map((c) => `${c.state} ${c.alert} v${c.labels.version}`),
      ['resolved GhosteamModelAccuracyLow v2'],
    );
  });

  test("histogram_quantile and the annotation functions are Prometheus'", () => {
    assert.equal(
      histogramQuantile(0.99, [
        [0.5, 10],
        [1, 100],
        [Infinity, 100],
      ]),
      0.5 + 0.5 * ((99 - 10) / 90),
    );
    assert.equal(
      histogramQuantile(0.5, [
        [0.1, 0],
        [Infinity, 10],
      ]),
      0.1,
    );
    assert.ok(
      Number.isNaN(
        histogramQuantile(0.5, [
          [0.1, 0],
          [1, 0],
        ]),
      ),
      'no +Inf bucket',
    );
    const l = { version: '7' };
    assert.equal(renderAnnotation('v{{ $labels.version }} {{ $value | humanizePercentage }}', l, 0.12345), 'v7 12.35%');
    assert.equal(renderAnnotation('{{ $value | humanizeDuration }}', l, 0.995), '995ms');
    assert.equal(renderAnnotation('{{ $value | humanizeDuration }}', l, 3725.5), '1h 2m 5s');
    assert.equal(renderAnnotation('{{ $value | humanize }}', l, 12345), '12.35k');
    assert.equal(renderAnnotation('{{ $value }}', l, 0.5), '0.5');
    assert.throws(() => renderAnnotation('{{ $externalLabels.x }}', l, 1), /annotation template \{\{ \$externalLabels\.x \}\}: the local evaluator renders/);
  });

  test('a PrometheusRule edited by hand is refused, naming the rule', () => {
    const r = prometheusRule(Alerts.of());
    r.spec.groups[0].rules[2].expr = r.spec.groups[0].rules[2].expr.replace('> 0.5', '> 0.7');
    assert.throws(
      () => rulesFromPrometheusRule(r),
      /^Error: PrometheusRule fraud-alerts: spec\.groups\[0\]\.rules\[2\] \(GhosteamModelLatencyHigh\): expr '.*> 0\.7' is not the one its condition renders \('.*> 0\.5'\); it was edited by hand: change Alerts\.of instead$/,
    );
    const bare = { ...r, metadata: { name: 'x', annotations: {} } };
    assert.throws(() => rulesFromPrometheusRule(bare), /PrometheusRule x: no ghosteam\.io\/alert-conditions annotation/);
  });
});

describe('the same rules, the same series: the local evaluator and Prometheus agree', { skip: peers.skip }, () => {
  const bin = prometheusBinary();
  const promtool = (bin && which(join(dirname(bin), 'promtool'))) ?? which('promtool');

  test('promtool test rules expects exactly what the local evaluator fired, at every minute', { skip: promtool ? false : 'promtool not found' }, async () => {
    const obj = prometheusRule(Alerts.of({ for: '3m', rateWindow: '5m' }));
    const rules = rulesFromPrometheusRule(obj);
    const input = series();
    const scrapes: Scrape[] = Array.from({ length: 11 }, (_, i) => ({
      t: i * MIN,
      samples: input.map((s) => ({ name: s.name, labels: s.labels, value: s.values[i] })),
    }));
    const alertTests: Array<Record<string, unknown>> = [];
    let state: AlertsState = new Map();
    let firingSeen = 0;
    for (let i = 0; i <= 10; i++) {
      state = planAlerts(rules, scrapes.slice(0, i + 1), state, i * MIN).state;
      for (const rule of rules) {
        const firing = [...state.values()].filter((a) => a.alert === rule.alert && a.state === 'firing');
        firingSeen += firing.length;
        alertTests.push({
          eval_time: `${i}m`,
          alertname: rule.alert,
          exp_alerts: firing.map((a) => {
            const { alertname: _, ...labels } = a.labels;
            return { exp_labels: labels, exp_annotations: a.annotations };
          }),
        });
      }
    }
    assert.ok(firingSeen >= 10, `the comparison is not vacuous: ${firingSeen} firing alert-minutes`);
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-parity-'));
    try {
      writeFileSync(join(dir, 'rules.yaml'), stringify(obj.spec));
      const tests = {
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: input.map((s) => ({
              series: `${s.name}{${Object.entries(s.labels)
                .map(([k, v]) => `${k}="${v}"`)
                .join(',')}}`,
              values: s.values.join(' '),
            })),
            alert_rule_test: alertTests,
          },
        ],
      };
      writeFileSync(join(dir, 'tests.yaml'), stringify(tests));
      const res = await promisify(execFile)(promtool!, ['test', 'rules', join(dir, 'tests.yaml')]).catch((e: { stdout: string; stderr: string }) => {
        throw new Error(`Prometheus disagrees with the local evaluator:\n${e.stdout}\n${e.stderr}`);
      });
      assert.match(res.stdout + res.stderr, /SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('on a real model server, scraped by a real Prometheus', () => {
    const dir = tempDir('gt-alerts-local-');
    let server: ModelServer;
    let prom: TestPrometheus | undefined;
    let hook: { url: string; got: Array<{ headers: IncomingHttpHeaders; body: any }>; server: Server };
    const obj = prometheusRule(Alerts.of({ for: '2s', minSamples: 20, maxP99LatencyMs: 10_000, minEstimatedAccuracy: false }));

    before(async () => {
      const got: Array<{ headers: IncomingHttpHeaders; body: any }> = [];
      const hs = createServer((req, res) => {
        let text = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (text += c));
        req.on('end', () => {
          got.push({ headers: req.headers, body: JSON.parse(text) });
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((r) => hs.listen(0, '127.0.0.1', r));
      hook = { url: `http://127.0.0.1:${(hs.address() as { port: number }).port}/alerts`, got, server: hs };
      server = await startModelServer({ port: 0 });
      const admin = new ModelServerAdminClient(server.url);
      await admin.load({ name: 'fraud', version: '3', path: writeFraudModel(dir, 4).path, stable: true });
      await admin.load({ name: 'fraud', version: '4', path: writeFraudModel(dir, 5).path });
      writeFileSync(join(dir, 'rules.yaml'), stringify(obj.spec));
      prom = await startTestPrometheus({ scrape: [{ job: 'model-server', targets: [new URL(server.url).host] }], ruleFiles: [join(dir, 'rules.yaml')] });
    });
    after(async () => {
      await prom?.stop();
      await server?.close();
      hook?.server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('version 3 (labels say it is wrong) fires in both; version 4 in neither; the webhook gets the alert', async () => {
      // Version 3's answers get the opposite label, version 4's the one it predicted (V2 infer by version).
      for (const [version, right] of [
        ['3', false],
        ['4', true],
      ] as const) {
        const feedback = [];
        for (const [j, row] of rows(25, Number(version)).entries()) {
          const r = await post(`${server.url}/v2/models/fraud/versions/${version}/infer`, inferBody([row], { id: `v${version}-${j}` }));
          assert.equal(r.status, 200, JSON.stringify(r.json));
          const predicted = (r.json.outputs[0].data[0] as number) >= 0.5 ? 1 : 0;
          feedback.push({ id: r.json.id, label: right ? predicted : 1 - predicted });
        }
        assert.equal((await post(`${server.url}/v2/models/fraud/feedback`, JSON.stringify(feedback))).status, 200);
      }
      const stateDir = mkdtempSync(join(tmpdir(), 'gt-alert-state-'));
      const local = new LocalAlertEvaluator({
        rules: [obj as never],
        modelServer: new ModelServerAdminClient(server.url),
        webhook: { url: hook.url, bearerToken: 't0k' },
        stateDir,
      });
      await local.evaluate();
      assert.deepEqual(
        local.active.map((a) => [a.alert, a.state, a.labels.version]),
        [['GhosteamModelAccuracyLow', 'pending', '3']],
      );
      // What `ghosteam ui` reads from the state directory follows each change.
      assert.deepEqual(
        readAlertState(stateDir).map((a) => [a.alert, a.state]),
        [['GhosteamModelAccuracyLow', 'pending']],
      );
      await new Promise((r) => setTimeout(r, 2100));
      await local.evaluate();
      assert.deepEqual(
        readAlertState(stateDir).map((a) => [a.alert, a.state, a.labels.model]),
        [['GhosteamModelAccuracyLow', 'firing', 'fraud']],
      );
      rmSync(stateDir, { recursive: true, force: true });
      const firing = local.active.filter((a) => a.state === 'firing');
      assert.deepEqual(
        firing.map((a) => a.labels),
        [{ model: 'fraud', version: '3', metric: 'accuracy', severity: 'warning', alertname: 'GhosteamModelAccuracyLow' }],
      );

      // Prometheus, on the same server's /metrics, fires the same alert for the same version.
      const remote = await eventually(
        'Prometheus fires the accuracy alert',
        async () => {
          const r = await promQuery(prom!.url, 'ALERTS{alertstate="firing"}');
          return r.length > 0 ? r : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      assert.deepEqual(
        remote.map((r) => [r.metric.alertname, r.metric.version, r.metric.metric]),
        firing.map((a) => [a.alert, a.labels.version, a.labels.metric]),
      );
      const promAlerts = (await (await fetch(`${prom!.url}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ annotations: Record<string, string> }> } };
      assert.deepEqual(
        promAlerts.data.alerts.map((a) => a.annotations),
        firing.map((a) => a.annotations),
      );

      // The webhook: Alertmanager's payload, once, with the bearer token.
      assert.equal(hook.got.length, 1);
      assert.equal(hook.got[0].headers.authorization, 'Bearer t0k');
      const body = hook.got[0].body;
      assert.equal(body.version, '4');
      assert.equal(body.status, 'firing');
      assert.equal(body.alerts.length, 1);
      assert.equal(body.alerts[0].labels.version, '3');
      assert.equal(body.alerts[0].annotations.summary, 'fraud version 3: accuracy 0% is below 85%');
      assert.match(body.alerts[0].fingerprint, /^[0-9a-f]{16}$/);
    });
  });
});
