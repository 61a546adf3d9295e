/**
 * Alerts that reach people, end to end on real peers: two real model servers (version 3 gets wrong
 * labels back through POST /v2/models/fraud/feedback, version 4 right ones); a real Prometheus (the
 * peer's binary) scrapes them and evaluates the rules `Alerts.of` generates; its accuracy alert fires
 * for version 3 only; a real Alertmanager (Debian's) running the config `Alerting` generates routes it
 * to the team's receiver: a Slack notifier and a webhook, both local HTTP servers in this test. The
 * Slack webhook URL and the webhook's bearer token are files (secrets by reference): the receivers see
 * them arrive. The on-call receiver (critical only) gets nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { stringify } from 'yaml';
import { Alerting, Alerts } from '../../charts/index.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/server.ts';
import { ModelServerAdminClient } from '../../components/model-server/admin-client.ts';
import { eventually, promQuery, startTestAlertmanager, startTestPrometheus, useAmtool, type TestAlertmanager, type TestPrometheus } from '../peers/index.ts';
import { prometheusBinary } from '../peers/install.ts';
import { UP_HINT } from '../peers/config.ts';
import { inferBody, post, rows, tempDir, writeFraudModel } from '../model-server/fixtures.ts';

// Its own Prometheus and Alertmanager (the peers' binaries), not the shared ones: the rules and the
// alerting config are this test's. In CI a missing binary fails (useAmtool, startTestPrometheus throw).
const { skip: amSkip } = await useAmtool();
const promSkip = prometheusBinary() || process.env.CI === 'true' ? undefined : `needs prometheus on PATH; ${UP_HINT}`;
const skip = promSkip ?? amSkip;

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
}

/** A local HTTP receiver that records every POST. */
async function receiver(): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(text || 'null') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, got, server };
}

describe('an accuracy drop from feedback reaches the team through Prometheus and Alertmanager', { skip }, () => {
  const dir = tempDir('gt-alerting-');
  const servers: ModelServer[] = [];
  let prom: TestPrometheus | undefined;
  let am: (TestAlertmanager & { skip?: string }) | undefined;
  let hook: Awaited<ReturnType<typeof receiver>>;

  before(async () => {
    hook = await receiver();
    // Secrets by reference: files Alertmanager reads when it notifies.
    mkdirSync(join(dir, 'secrets/slack'), { recursive: true });
    mkdirSync(join(dir, 'secrets/hook'), { recursive: true });
    mkdirSync(join(dir, 'secrets/pagerduty'), { recursive: true });
    writeFileSync(join(dir, 'secrets/slack/webhook-url'), `${hook.url}/slack\n`);
    writeFileSync(join(dir, 'secrets/hook/token'), 's3cret-token\n');
    writeFileSync(join(dir, 'secrets/pagerduty/routing-key'), 'pd-key\n');
    const app = new App();
    const chart = new Chart(app, 'monitoring', { namespace: 'monitoring' });
    const alerting = new Alerting(chart, 'alerting', {
      secretsDir: join(dir, 'secrets'),
      receivers: {
        team: {
          slack: [{ apiUrl: { secret: 'slack', key: 'webhook-url' }, channel: '#ml-alerts' }],
          webhook: [{ url: `${hook.url}/hook`, bearerToken: { secret: 'hook', key: 'token' } }],
        },
        oncall: { pagerduty: [{ routingKey: { secret: 'pagerduty', key: 'routing-key' }, url: `${hook.url}/pagerduty` }] },
      },
      route: { receiver: 'team', groupWait: '1s', groupInterval: '1s', routes: [{ matchers: { severity: 'critical' }, receiver: 'oncall' }] },
    });
    am = await startTestAlertmanager(alerting.configYaml());
    if (am.skip) return;

    const model = writeFraudModel(dir, 4).path;
    for (const version of ['3', '4']) {
      const s = await startModelServer({ port: 0 });
      await new ModelServerAdminClient(s.url).load({ name: 'fraud', version, path: model, stable: true });
      servers.push(s);
    }
    // Latency is judged at 10 s: a busy test machine must not fire it.
    const rules = Alerts.of({ for: '2s', minSamples: 20, maxP99LatencyMs: 10_000 }).ruleSpec('fraud');
    writeFileSync(join(dir, 'rules.yaml'), stringify(rules));
    prom = await startTestPrometheus({
      scrape: [{ job: 'model-server', targets: servers.map((s) => new URL(s.url).host) }],
      ruleFiles: [join(dir, 'rules.yaml')],
      alertmanagers: [am.host],
    });
  });
  after(async () => {
    await prom?.stop();
    await am?.stop();
    for (const s of servers) await s.close();
    hook?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('version 3 (labels say it is wrong) fires and is routed to Slack and the webhook; version 4 does not fire', async (t) => {
    if (am?.skip) return t.skip(am.skip);
    // 25 predictions each; version 3's labels are the opposite of what it predicted, version 4's agree.
    for (const [i, right] of [
      [0, false],
      [1, true],
    ] as const) {
      const feedback = [];
      for (const [j, row] of rows(25, 20 + i).entries()) {
        const r = await post(`${servers[i].url}/v2/models/fraud/infer`, inferBody([row], { id: `v${i}-${j}` }));
        assert.equal(r.status, 200);
        const predicted = (r.json.outputs[0].data[0] as number) >= 0.5 ? 1 : 0;
        feedback.push({ id: r.json.id, label: right ? predicted : 1 - predicted });
      }
      assert.equal((await post(`${servers[i].url}/v2/models/fraud/feedback`, JSON.stringify(feedback))).status, 200);
    }

    const slack = await eventually('the Slack notification', () => hook.got.find((g) => g.path === '/slack'), { timeoutMs: 60_000, intervalMs: 250 });
    const webhook = await eventually('the webhook notification', () => hook.got.find((g) => g.path === '/hook'), { timeoutMs: 30_000, intervalMs: 250 });

    // The webhook: Alertmanager's v4 payload, the bearer token read from its file.
    assert.equal(webhook.headers.authorization, 'Bearer s3cret-token');
    assert.equal(webhook.body.version, '4');
    assert.equal(webhook.body.receiver, 'team');
    assert.equal(webhook.body.status, 'firing');
    assert.equal(webhook.body.alerts.length, 1, JSON.stringify(webhook.body.alerts));
    const [alert] = webhook.body.alerts;
    assert.equal(alert.status, 'firing');
    assert.deepEqual(
      { ...alert.labels, instance: undefined, job: undefined },
      { alertname: 'GhosteamModelAccuracyLow', metric: 'accuracy', model: 'fraud', version: '3', severity: 'warning', instance: undefined, job: undefined },
    );
    assert.equal(alert.annotations.summary, 'fraud version 3: accuracy 0% is below 85%');
    assert.match(alert.generatorURL, /^http:\/\/.*\/graph\?g0\.expr=ghosteam_model_quality/);

    // Slack: posted to the URL from its file, to the configured channel, naming the alert.
    assert.equal(slack.body.channel, '#ml-alerts');
    assert.match(JSON.stringify(slack.body.attachments), /GhosteamModelAccuracyLow/);

    // Nothing for on-call (not critical); nothing about version 4 anywhere.
    assert.equal(
      hook.got.some((g) => g.path === '/pagerduty'),
      false,
    );
    assert.equal(
      hook.got.some((g) => g.path === '/hook' && g.body.alerts.some((a: { labels: { version: string } }) => a.labels.version !== '3')),
      false,
    );
    const firing = await promQuery(prom!.url, 'ALERTS{alertstate="firing"}');
    assert.deepEqual(
      firing.map((f) => [f.metric.alertname, f.metric.version]),
      [['GhosteamModelAccuracyLow', '3']],
    );
    // Alertmanager's own view agrees.
    const alerts = (await (await fetch(`${am!.url}/api/v2/alerts`)).json()) as Array<{ labels: Record<string, string>; receivers: Array<{ name: string }> }>;
    assert.deepEqual(
      alerts.map((a) => [a.labels.alertname, a.labels.version, a.receivers.map((r) => r.name)]),
      [['GhosteamModelAccuracyLow', '3', ['team']]],
    );
  });
});
