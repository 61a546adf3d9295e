/**
 * `Alerting` → a plain Alertmanager configuration in a ConfigMap: routes and receivers for email,
 * Slack, PagerDuty and webhooks, every secret by reference (a `*_file` path, never the secret). The
 * generated file is checked by the real `amtool check-config` (Debian's prometheus-alertmanager,
 * installed by the peers harness) and loaded by a real Alertmanager, whose status API must show the
 * same routes; bad input names the field and the fix. (The prometheus-operator AlertmanagerConfig CRD
 * is not in ../shared/upstream, so only the plain-config form is emitted.)
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { Alerting, type AlertingProps } from '../../charts/index.ts';
import { chart, find, issuesOf, synth } from './helpers.ts';
import { startTestAlertmanager, useAmtool } from '../peers/index.ts';

const { amtool, skip } = await useAmtool();
const run = promisify(execFile);

const FULL: AlertingProps = {
  receivers: {
    team: {
      slack: [{ apiUrl: { secret: 'slack', key: 'webhook-url' }, channel: '#ml-alerts' }],
      email: [
        {
          to: ['ml@example.com', 'ops@example.com'],
          from: 'alerts@example.com',
          smarthost: 'smtp.example.com:587',
          authUsername: 'alerts',
          authPassword: { secret: 'smtp', key: 'password' },
        },
      ],
    },
    oncall: { pagerduty: [{ routingKey: { secret: 'pagerduty', key: 'routing-key' } }] },
    audit: { webhook: [{ url: 'https://audit.example.com/alerts', bearerToken: { file: '/var/run/secrets/audit/token' }, maxAlerts: 10 }] },
  },
  route: {
    receiver: 'team',
    routes: [
      { matchers: { severity: 'critical' }, receiver: 'oncall', continue: true, groupWait: '10s' },
      { matchers: { alertname: 'GhosteamModelAccuracyLow' }, receiver: 'audit', repeatInterval: '1h30m' },
    ],
  },
};

function alerting(props: AlertingProps = FULL) {
  const { app, chart: c } = chart('monitoring');
  const a = new Alerting(c, 'alerting', props);
  return { a, objects: synth(app).objects };
}

describe('Alerting', () => {
  test('routes and receivers for email, Slack, PagerDuty and a webhook, every secret as a file reference', () => {
    const { a, objects } = alerting();
    const cm = find(objects, 'ConfigMap', 'ghosteam-alertmanager') as unknown as {
      metadata: { namespace: string; annotations: Record<string, string> };
      data: Record<string, string>;
    };
    assert.equal(cm.metadata.namespace, 'monitoring');
    assert.equal(cm.metadata.annotations['ghosteam.io/alertmanager-secrets'], 'pagerduty,slack,smtp');
    assert.deepEqual(a.secrets, ['pagerduty', 'slack', 'smtp']);
    const config = parse(cm.data['alertmanager.yml']);
    assert.deepEqual(config, a.alertmanagerConfig());
    assert.deepEqual(config.route, {
      receiver: 'team',
      group_by: ['alertname', 'model', 'version'],
      group_wait: '30s',
      group_interval: '5m',
      repeat_interval: '4h',
      routes: [
        { receiver: 'oncall', matchers: ['severity="critical"'], group_wait: '10s', continue: true },
        { receiver: 'audit', matchers: ['alertname="GhosteamModelAccuracyLow"'], repeat_interval: '1h30m' },
      ],
    });
    const byName = Object.fromEntries((config.receivers as Array<Record<string, unknown> & { name: string }>).map((r) => [r.name, r]));
    assert.deepEqual(byName.team, {
      name: 'team',
      email_configs: [
        {
          send_resolved: false,
          to: 'ml@example.com, ops@example.com',
          from: 'alerts@example.com',
          smarthost: 'smtp.example.com:587',
          auth_username: 'alerts',
          auth_password_file: '/etc/alertmanager/secrets/smtp/password',
          require_tls: true,
        },
      ],
      slack_configs: [{ send_resolved: true, api_url_file: '/etc/alertmanager/secrets/slack/webhook-url', channel: '#ml-alerts' }],
    });
    assert.deepEqual(byName.oncall.pagerduty_configs, [{ send_resolved: true, routing_key_file: '/etc/alertmanager/secrets/pagerduty/routing-key' }]);
    assert.deepEqual(byName.audit.webhook_configs, [
      {
        send_resolved: true,
        url: 'https://audit.example.com/alerts',
        http_config: { authorization: { type: 'Bearer', credentials_file: '/var/run/secrets/audit/token' } },
        max_alerts: 10,
      },
    ]);
    // No secret value anywhere: only paths.
    assert.doesNotMatch(cm.data['alertmanager.yml'], /(api_url|routing_key|service_key|auth_password|credentials):/);
  });

  test('bad input names the field and the fix', () => {
    assert.deepEqual(
      issuesOf(() =>
        alerting({
          receivers: {
            team: { slack: [{ apiUrl: 'https://hooks.slack.com/services/T0/B0/XXXX' as never, channel: '' }] },
            mail: { email: [{ to: 'nobody', from: 'a@b.c', smarthost: 'smtp.example.com', authPassword: { file: 'pw' } }] },
            hook: { webhook: [{ url: 'https://user:pw@hooks.example.com/x' }] },
            empty: {},
          },
          route: { receiver: 'team', groupWait: 'soon', routes: [{ matchers: { 'bad-label': 'x' }, receiver: 'pager' }] },
        }),
      ),
      [
        "test/alerting: 'receivers.team.slack[0].channel' is missing; e.g. '#ml-alerts'",
        "test/alerting: 'receivers.team.slack[0].apiUrl' is given inline; a secret goes by reference: { secret: 'NAME', key: 'KEY' } (a Secret mounted into Alertmanager) or { file: '/path' }",
        "test/alerting: 'receivers.mail.email[0].to' 'nobody' must be one or more e-mail addresses",
        "test/alerting: 'receivers.mail.email[0].smarthost' 'smtp.example.com' must be host:port, e.g. smtp.example.com:587",
        "test/alerting: 'receivers.mail.email[0].authUsername' is missing; a password needs a user name",
        "test/alerting: 'receivers.mail.email[0].authPassword.file' 'pw' must be an absolute path",
        "test/alerting: 'receivers.hook.webhook[0].url' holds credentials in the URL; drop them and give a token (bearerToken) by reference instead, e.g. { secret: 'NAME', key: 'KEY' }",
        "test/alerting: 'receivers.empty' notifies no one; give email, slack, pagerduty or webhook",
        "test/alerting: 'route.groupWait' 'soon' is not a duration; write e.g. '30s', '5m', '1h30m' or '7d'",
        "test/alerting: 'route.routes[0].matchers' 'bad-label' is not a Prometheus label name",
        "test/alerting: 'route.routes[0].receiver' 'pager' is not one of the receivers (team, mail, hook, empty); add it to receivers or name one of those",
      ],
    );
  });
});

describe('the generated config under real Alertmanager tooling', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-alerting-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('amtool check-config passes; a broken route fails it (the check is real)', async () => {
    const { a } = alerting();
    const file = join(dir, 'alertmanager.yml');
    writeFileSync(file, a.configYaml());
    const ok = await run(amtool, ['check-config', file]);
    assert.match(ok.stdout, /SUCCESS/);
    assert.match(ok.stdout, /- 3 receivers/);
    const broken = join(dir, 'broken.yml');
    writeFileSync(broken, a.configYaml().replace('receiver: audit', 'receiver: nobody'));
    await assert.rejects(run(amtool, ['check-config', broken]), (e: { stdout: string }) => /undefined receiver "nobody"/.test(e.stdout));
  });

  test('a real Alertmanager loads it and shows the same routes in its status', async (t) => {
    // Alertmanager reads the secret files when it notifies, not when it loads: none exist here.
    const { a } = alerting();
    const am = await startTestAlertmanager(a.configYaml());
    if (am.skip) return t.skip(am.skip);
    try {
      const status = (await (await fetch(`${am.url}/api/v2/status`)).json()) as { config: { original: string } };
      const loaded = parse(status.config.original) as { route: { receiver: string; routes: Array<{ receiver: string; matchers: string[] }> } };
      assert.equal(loaded.route.receiver, 'team');
      assert.deepEqual(
        loaded.route.routes.map((r) => [r.receiver, r.matchers]),
        [
          ['oncall', ['severity="critical"']],
          ['audit', ['alertname="GhosteamModelAccuracyLow"']],
        ],
      );
      // amtool's route test agrees: a critical accuracy alert goes to oncall (continue) and audit.
      const routes = await run(amtool, [
        'config',
        'routes',
        'test',
        `--config.file=${am.configFile}`,
        'severity=critical',
        'alertname=GhosteamModelAccuracyLow',
      ]);
      assert.equal(routes.stdout.trim(), 'oncall,audit');
      const plain = await run(amtool, ['config', 'routes', 'test', `--config.file=${am.configFile}`, 'severity=warning', 'alertname=Other']);
      assert.equal(plain.stdout.trim(), 'team');
    } finally {
      await am.stop();
    }
  });
});
