/**
 * `Alerting`: where the alerts of `Alerts.of` (and any other rule) go. Emits the configuration of a
 * plain Alertmanager (routes and receivers for email, Slack, PagerDuty and webhooks) in a ConfigMap
 * (`alertmanager.yml`, for a plain Alertmanager or the prometheus-community chart), and as text for a
 * file (`configYaml()`). Every secret goes by reference: a Kubernetes Secret key, read from where
 * prometheus-operator mounts an Alertmanager's `spec.secrets` (`/etc/alertmanager/secrets/NAME/KEY`),
 * or a file path; Alertmanager reads them itself (`*_file` fields), so the config holds no secret and
 * can live in Git. Checked by `amtool check-config` and a real Alertmanager in the tests.
 *
 *   new Alerting(chart, 'alerting', {
 *     receivers: {
 *       team: { slack: [{ apiUrl: { secret: 'slack', key: 'webhook-url' }, channel: '#ml' }] },
 *       oncall: { pagerduty: [{ routingKey: { secret: 'pagerduty', key: 'routing-key' } }] },
 *     },
 *     route: { receiver: 'team', routes: [{ matchers: { severity: 'critical' }, receiver: 'oncall' }] },
 *   });
 *
 * @see https://prometheus.io/docs/alerting/0.25/configuration/
 */
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { ValidationError, type Issue } from '../api/errors.ts';
import { dnsLabelProblem, formatDuration, parseDuration } from '../api/names.ts';
import { RenderedObject } from '../api/rendered-object.ts';

/** A secret by reference: a key of a Kubernetes Secret mounted into Alertmanager, or a file Alertmanager can read. */
export type SecretRef = { readonly secret: string; readonly key: string } | { readonly file: string };

export interface EmailNotifier {
  /** One address or several. */
  readonly to: string | readonly string[];
  readonly from: string;
  /** The SMTP server, `host:port`. */
  readonly smarthost: string;
  readonly authUsername?: string;
  readonly authPassword?: SecretRef;
  /** @default true (Alertmanager's default: STARTTLS required) */
  readonly requireTls?: boolean;
  /** @default false */
  readonly sendResolved?: boolean;
}

export interface SlackNotifier {
  /** The incoming-webhook URL (it is the credential). */
  readonly apiUrl: SecretRef;
  readonly channel: string;
  /** @default true */
  readonly sendResolved?: boolean;
}

export interface PagerDutyNotifier {
  /** The Events API v2 integration key. */
  readonly routingKey: SecretRef;
  /** @default - PagerDuty's Events API (https://events.pagerduty.com/v2/enqueue) */
  readonly url?: string;
  /** @default true */
  readonly sendResolved?: boolean;
}

export interface WebhookNotifier {
  /** Where Alertmanager POSTs its JSON (webhook format version 4). No credentials in it: use `bearerToken`. */
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly bearerToken?: SecretRef;
  /** At most this many alerts per message; 0 = all. @default 0 */
  readonly maxAlerts?: number;
  /** @default true */
  readonly sendResolved?: boolean;
}

/** One receiver: any mix of notifiers, all notified. */
export interface AlertReceiver {
  readonly email?: readonly EmailNotifier[];
  readonly slack?: readonly SlackNotifier[];
  readonly pagerduty?: readonly PagerDutyNotifier[];
  readonly webhook?: readonly WebhookNotifier[];
}

export interface AlertRouteTiming {
  /** Alert labels that make a group (one notification per group). @default ['alertname', 'model', 'version'] at the root */
  readonly groupBy?: readonly string[];
  /** How long a new group waits for more alerts. @default '30s' at the root */
  readonly groupWait?: string;
  /** How long before a group's new alerts are sent. @default '5m' at the root */
  readonly groupInterval?: string;
  /** How long before a still-firing alert is sent again. @default '4h' at the root */
  readonly repeatInterval?: string;
}

export interface AlertRoute extends AlertRouteTiming {
  /** The receiver (a key of `receivers`). */
  readonly receiver: string;
  /** Alerts whose labels equal all of these, e.g. { severity: 'critical' }. */
  readonly matchers: Readonly<Record<string, string>>;
  /** Go on to the next sibling route after this one matched. @default false */
  readonly continue?: boolean;
  readonly routes?: readonly AlertRoute[];
}

export interface AlertingProps {
  readonly receivers: Readonly<Record<string, AlertReceiver>>;
  /** The root route: its receiver gets what no child route takes. */
  readonly route: AlertRouteTiming & { readonly receiver: string; readonly routes?: readonly AlertRoute[] };
  /** The ConfigMap's name. @default 'ghosteam-alertmanager' */
  readonly name?: string;
  /** @default - the chart's namespace */
  readonly namespace?: string;
  /** Where the Secrets of `{ secret, key }` references are mounted. @default '/etc/alertmanager/secrets' (prometheus-operator's mount of an Alertmanager's spec.secrets) */
  readonly secretsDir?: string;
  /** @default '5m' */
  readonly resolveTimeout?: string;
}

export const ALERTING_DEFAULTS = {
  name: 'ghosteam-alertmanager',
  configKey: 'alertmanager.yml',
  secretsDir: '/etc/alertmanager/secrets',
  groupBy: ['alertname', 'model', 'version'],
  groupWait: '30s',
  groupInterval: '5m',
  repeatInterval: '4h',
  resolveTimeout: '5m',
} as const;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export class Alerting extends Construct {
  readonly name: string;
  private readonly config: Record<string, unknown>;
  /** The Secrets the config reads (`{ secret }` references), each to mount into Alertmanager. */
  readonly secrets: readonly string[];

  constructor(scope: Construct, id: string, props: AlertingProps) {
    super(scope, id);
    this.name = props.name ?? ALERTING_DEFAULTS.name;
    const issues: Issue[] = [];
    const path = this.node.path;
    const problem = (field: string, message: string) => issues.push({ path, field, message });
    const secretsDir = (props.secretsDir ?? ALERTING_DEFAULTS.secretsDir).replace(/\/+$/, '');
    if (!secretsDir.startsWith('/')) problem('secretsDir', `'${secretsDir}' must be an absolute path`);
    const nameProblem = dnsLabelProblem(this.name);
    if (nameProblem) problem('name', nameProblem);
    const secrets = new Set<string>();

    /** The file Alertmanager reads the secret from. */
    const ref = (field: string, r: SecretRef | undefined): string | undefined => {
      if (r === undefined) return undefined;
      if (typeof r !== 'object' || r === null) {
        problem(field, `is given inline; a secret goes by reference: { secret: 'NAME', key: 'KEY' } (a Secret mounted into Alertmanager) or { file: '/path' }`);
        return undefined;
      }
      if ('file' in r) {
        if (typeof r.file !== 'string' || !r.file.startsWith('/')) problem(`${field}.file`, `'${String(r.file)}' must be an absolute path`);
        return r.file;
      }
      if (!('secret' in r) || typeof r.secret !== 'string' || typeof r.key !== 'string') {
        problem(field, "must be { secret: 'NAME', key: 'KEY' } or { file: '/path' }");
        return undefined;
      }
      const p = dnsLabelProblem(r.secret);
      if (p) problem(`${field}.secret`, p);
      if (!SECRET_KEY.test(r.key)) problem(`${field}.key`, `'${r.key}' is not a Secret key; use letters, digits, '-', '_' or '.'`);
      secrets.add(r.secret);
      return `${secretsDir}/${r.secret}/${r.key}`;
    };
    const url = (field: string, u: string | undefined, what: string): string | undefined => {
      if (u === undefined) return undefined;
      let parsed: URL;
      try {
        parsed = new URL(u);
      } catch {
        problem(field, `'${u}' is not a URL; write e.g. https://alerts.example.com/hook`);
        return u;
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') problem(field, `'${u}' must be an http or https URL`);
      if (parsed.username || parsed.password)
        problem(field, `holds credentials in the URL; drop them and give ${what} by reference instead, e.g. { secret: 'NAME', key: 'KEY' }`);
      return u;
    };
    const duration = (field: string, d: string | undefined): string | undefined => {
      if (d === undefined) return undefined;
      try {
        return formatDuration(parseDuration(d));
      } catch (e) {
        problem(field, (e as Error).message);
        return undefined;
      }
    };
    const labels = (field: string, names: readonly string[] | undefined) => {
      for (const [i, n] of (names ?? []).entries()) if (!LABEL_NAME.test(n) && n !== '...') problem(`${field}[${i}]`, `'${n}' is not a Prometheus label name`);
      return names ? [...names] : undefined;
    };
    const sendResolved = (v: boolean | undefined, dflt: boolean) => ({ send_resolved: v ?? dflt });

    const receivers: Array<Record<string, unknown>> = [];
    const receiverNames = Object.keys(props.receivers ?? {});
    if (receiverNames.length === 0) problem('receivers', "is empty; give at least one, e.g. { team: { webhook: [{ url: 'https://…' }] } }");
    for (const [name, r] of Object.entries(props.receivers ?? {})) {
      const at = `receivers.${name}`;
      if (!/^[a-zA-Z0-9][-_.a-zA-Z0-9]*$/.test(name)) problem(at, "is not a receiver name; use letters, digits, '-', '_' or '.'");
      const out: Record<string, unknown> = { name };
      const email = (r.email ?? []).map((e, i) => {
        const f = `${at}.email[${i}]`;
        const to = typeof e.to === 'string' ? [e.to] : [...(e.to ?? [])];
        if (to.length === 0 || to.some((t) => !/^[^@\s]+@[^@\s]+$/.test(t))) problem(`${f}.to`, `'${to.join(', ')}' must be one or more e-mail addresses`);
        if (!/^[^@\s]+@[^@\s]+$/.test(e.from ?? '')) problem(`${f}.from`, `'${e.from}' must be an e-mail address`);
        if (!/^[^:\s]+:\d+$/.test(e.smarthost ?? '')) problem(`${f}.smarthost`, `'${e.smarthost}' must be host:port, e.g. smtp.example.com:587`);
        if (e.authPassword && !e.authUsername) problem(`${f}.authUsername`, 'is missing; a password needs a user name');
        return {
          ...sendResolved(e.sendResolved, false),
          to: to.join(', '),
          from: e.from,
          smarthost: e.smarthost,
          ...(e.authUsername ? { auth_username: e.authUsername } : {}),
          ...(e.authPassword ? { auth_password_file: ref(`${f}.authPassword`, e.authPassword) } : {}),
          require_tls: e.requireTls ?? true,
        };
      });
      const slack = (r.slack ?? []).map((s, i) => {
        const f = `${at}.slack[${i}]`;
        if (s.apiUrl === undefined) problem(`${f}.apiUrl`, "is missing; give the webhook URL by reference, e.g. { secret: 'slack', key: 'webhook-url' }");
        if (!s.channel) problem(`${f}.channel`, "is missing; e.g. '#ml-alerts'");
        return { ...sendResolved(s.sendResolved, true), api_url_file: ref(`${f}.apiUrl`, s.apiUrl), channel: s.channel };
      });
      const pagerduty = (r.pagerduty ?? []).map((p, i) => {
        const f = `${at}.pagerduty[${i}]`;
        if (p.routingKey === undefined)
          problem(`${f}.routingKey`, "is missing; give the integration key by reference, e.g. { secret: 'pagerduty', key: 'routing-key' }");
        return {
          ...sendResolved(p.sendResolved, true),
          routing_key_file: ref(`${f}.routingKey`, p.routingKey),
          ...(p.url ? { url: url(`${f}.url`, p.url, 'the routing key') } : {}),
        };
      });
      const webhook = (r.webhook ?? []).map((w, i) => {
        const f = `${at}.webhook[${i}]`;
        if (!w.url) problem(`${f}.url`, "is missing; e.g. 'https://alerts.example.com/hook'");
        if (w.maxAlerts !== undefined && !(Number.isInteger(w.maxAlerts) && w.maxAlerts >= 0))
          problem(`${f}.maxAlerts`, `(${w.maxAlerts}) must be an integer >= 0`);
        const token = ref(`${f}.bearerToken`, w.bearerToken);
        return {
          ...sendResolved(w.sendResolved, true),
          url: url(`${f}.url`, w.url, 'a token (bearerToken)'),
          ...(token ? { http_config: { authorization: { type: 'Bearer', credentials_file: token } } } : {}),
          ...(w.maxAlerts ? { max_alerts: w.maxAlerts } : {}),
        };
      });
      if (email.length) out.email_configs = email;
      if (slack.length) out.slack_configs = slack;
      if (pagerduty.length) out.pagerduty_configs = pagerduty;
      if (webhook.length) out.webhook_configs = webhook;
      if (!email.length && !slack.length && !pagerduty.length && !webhook.length) problem(at, 'notifies no one; give email, slack, pagerduty or webhook');
      receivers.push(out);
    }

    const timing = (field: string, t: AlertRouteTiming, root: boolean) => {
      const d = ALERTING_DEFAULTS;
      const groupBy = labels(`${field}.groupBy`, t.groupBy ?? (root ? d.groupBy : undefined));
      const groupWait = duration(`${field}.groupWait`, t.groupWait ?? (root ? d.groupWait : undefined));
      const groupInterval = duration(`${field}.groupInterval`, t.groupInterval ?? (root ? d.groupInterval : undefined));
      const repeatInterval = duration(`${field}.repeatInterval`, t.repeatInterval ?? (root ? d.repeatInterval : undefined));
      return {
        ...(groupBy ? { group_by: groupBy } : {}),
        ...(groupWait ? { group_wait: groupWait } : {}),
        ...(groupInterval ? { group_interval: groupInterval } : {}),
        ...(repeatInterval ? { repeat_interval: repeatInterval } : {}),
      };
    };
    const receiverOf = (field: string, name: string) => {
      if (!receiverNames.includes(name))
        problem(`${field}.receiver`, `'${name}' is not one of the receivers (${receiverNames.join(', ') || 'none'}); add it to receivers or name one of those`);
      return name;
    };
    const route = (field: string, r: AlertRoute): Record<string, unknown> => {
      const matchers = Object.entries(r.matchers ?? {});
      if (matchers.length === 0) problem(`${field}.matchers`, "is empty; a child route needs labels to match, e.g. { severity: 'critical' }");
      for (const [k] of matchers) if (!LABEL_NAME.test(k)) problem(`${field}.matchers`, `'${k}' is not a Prometheus label name`);
      return {
        receiver: receiverOf(field, r.receiver),
        matchers: matchers.map(([k, v]) => `${k}=${JSON.stringify(v)}`),
        ...timing(field, r, false),
        ...(r.continue ? { continue: true } : {}),
        ...(r.routes?.length ? { routes: r.routes.map((c, i) => route(`${field}.routes[${i}]`, c)) } : {}),
      };
    };
    const root = props.route ?? ({} as AlertingProps['route']);
    const rootRoute = {
      receiver: receiverOf('route', root.receiver),
      ...timing('route', root, true),
      ...(root.routes?.length ? { routes: root.routes.map((c, i) => route(`route.routes[${i}]`, c)) } : {}),
    };
    const resolveTimeout = duration('resolveTimeout', props.resolveTimeout ?? ALERTING_DEFAULTS.resolveTimeout);
    if (issues.length) throw new ValidationError(issues);
    this.secrets = [...secrets].sort();
    this.config = { global: { resolve_timeout: resolveTimeout }, route: rootRoute, receivers };

    new RenderedObject(this, 'ConfigMap', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: this.name,
      namespace: props.namespace,
      render: () => ({
        labels: { 'app.kubernetes.io/component': 'alertmanager-config' },
        ...(this.secrets.length ? { annotations: { 'ghosteam.io/alertmanager-secrets': this.secrets.join(',') } } : {}),
        body: { data: { [ALERTING_DEFAULTS.configKey]: this.configYaml() } },
      }),
    });
  }

  /** The Alertmanager configuration (snake_case, as Alertmanager reads it). */
  alertmanagerConfig(): Record<string, unknown> {
    return structuredClone(this.config);
  }

  /** The Alertmanager configuration file (`alertmanager.yml`). */
  configYaml(): string {
    return stringify(this.config, { lineWidth: 0 });
  }
}
