/**
 * `ArgoCdApps`: Argo CD `Application`s (one per environment) or one `ApplicationSet` (a list
 * generator over the environments) that sync ghosteam's synthesized output from Git.
 *
 *   new ArgoCdApps(chart, 'gitops', {
 *     repoURL: 'https://github.com/acme/ml.git',
 *     environments: [Environment.of('dev'), Environment.of('staging'), Environment.of('prod', { autoSync: false })],
 *   });
 *
 * Each environment syncs `<path>/<env>` (e.g. dist/dev: `ghosteam synth` output for that environment)
 * into its own namespace with its own values. Sync is server-side apply; fields the ghosteam
 * operator owns (canary traffic, storage URI, status) are ignored through `managedFieldsManagers`
 * and `RespectIgnoreDifferences`, so Argo CD neither shows them OutOfSync nor reverts a rollout.
 * Ordering inside a sync comes from the `argocd.argoproj.io/sync-wave` annotations that
 * `applySyncWaves` (api/sync-waves.ts) puts on the synthesized objects.
 *
 * @see https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ValidationError } from '../api/errors.ts';

export { applySyncWaves, syncWaveFor, WAVES } from '../api/sync-waves.ts';

export type EnvValue = string | number | boolean;

export interface EnvironmentOptions {
  /** Destination namespace. @default - the environment's name */
  readonly namespace?: string;
  /** Destination cluster API server. @default 'https://kubernetes.default.svc' (the cluster Argo CD runs in) */
  readonly server?: string;
  /** Git revision to sync. @default - the apps' targetRevision */
  readonly targetRevision?: string;
  /** Sync automatically (with prune and self-heal). @default true */
  readonly autoSync?: boolean;
  /**
   * Values for this environment (replicas, canary steps, data paths). They reach the synth as
   * `GHOSTEAM_VALUE_<KEY>` environment variables through the `ghosteam` config management plugin
   * (source 'plugin'), and are recorded in the Application's `info` either way.
   * @default {}
   */
  readonly values?: Readonly<Record<string, EnvValue>>;
}

/** One deployment target. Create with `Environment.of('staging', { ... })`. */
export class Environment {
  static of(name: string, opts: EnvironmentOptions = {}): Environment {
    return new Environment(name, opts);
  }
  private constructor(
    readonly name: string,
    readonly options: EnvironmentOptions,
  ) {}
}

export interface ArgoCdAppsProps {
  /** The Git repository Argo CD syncs from (https or ssh URL; credentials belong in an Argo CD repository Secret, never here). */
  readonly repoURL: string;
  readonly environments: readonly Environment[];
  /** Where the synthesized output lives in the repository; each environment syncs `<path>/<env>`. @default 'dist' */
  readonly path?: string;
  /** @default 'main' */
  readonly targetRevision?: string;
  /** Argo CD project. @default 'default' */
  readonly project?: string;
  /** Namespace Argo CD runs in. @default 'argocd' */
  readonly argocdNamespace?: string;
  /** Name prefix of the Applications ('<prefix>-<env>'). @default - the construct id */
  readonly name?: string;
  /**
   * 'directory': sync the YAML committed under `<path>/<env>` (rendered-manifests pattern).
   * 'plugin': let Argo CD run `ghosteam synth` through a config management plugin named 'ghosteam'.
   * @default 'directory'
   */
  readonly source?: 'directory' | 'plugin';
  /** 'applications': one Application per environment; 'applicationSet': one ApplicationSet with a list generator. @default 'applications' */
  readonly mode?: 'applications' | 'applicationSet';
  /** Field manager of the ghosteam operator, whose fields Argo CD must leave alone. @default 'ghosteam-operator' */
  readonly operatorFieldManager?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IN_CLUSTER = 'https://kubernetes.default.svc';

interface ResolvedEnv {
  readonly name: string;
  readonly namespace: string;
  readonly server: string;
  readonly targetRevision: string;
  readonly autoSync: boolean;
  readonly values: Readonly<Record<string, EnvValue>>;
}

/** Environment variable name for a value key: 'canarySteps' → 'GHOSTEAM_VALUE_CANARY_STEPS'. */
export function valueEnvName(key: string): string {
  return `GHOSTEAM_VALUE_${key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase()}`;
}

function sortedValues(values: Readonly<Record<string, EnvValue>>): Record<string, EnvValue> {
  return Object.fromEntries(
    Object.keys(values)
      .sort()
      .map((k) => [k, values[k]]),
  );
}

export class ArgoCdApps extends Construct {
  /** Application (or ApplicationSet) names, in environment order. */
  readonly names: readonly string[];

  constructor(scope: Construct, id: string, props: ArgoCdAppsProps) {
    super(scope, id);
    const path = this.node.path;
    const fail = (field: string, message: string): never => {
      throw new ValidationError([{ path, field, message }]);
    };
    if (!/^(https?:\/\/|ssh:\/\/|git@)[^\s]+$/.test(props.repoURL))
      fail('repoURL', `'${props.repoURL}' is not a Git URL; use https://host/org/repo.git or git@host:org/repo.git`);
    if (/^https?:\/\/[^/]*@/.test(props.repoURL)) fail('repoURL', 'must not carry credentials; put them in an Argo CD repository Secret');
    if (props.environments.length === 0) fail('environments', "is empty; add at least one, e.g. Environment.of('dev')");
    const prefix = props.name ?? id;
    if (!DNS_LABEL.test(prefix)) fail('name', `'${prefix}' is not a DNS-1123 label; use lower-case letters, digits and '-'`);
    const seen = new Set<string>();
    const envs: ResolvedEnv[] = props.environments.map((e, i) => {
      const at = `environments[${i}]`;
      if (!DNS_LABEL.test(e.name)) fail(`${at}.name`, `'${e.name}' is not a DNS-1123 label; use lower-case letters, digits and '-'`);
      if (seen.has(e.name)) fail(`${at}.name`, `'${e.name}' is listed twice; each environment needs its own name`);
      seen.add(e.name);
      const ns = e.options.namespace ?? e.name;
      if (!DNS_LABEL.test(ns)) fail(`${at}.namespace`, `'${ns}' is not a DNS-1123 label`);
      for (const [k, v] of Object.entries(e.options.values ?? {})) {
        if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(k)) fail(`${at}.values.${k}`, 'is not a valid key; use letters, digits and _ (it becomes an environment variable)');
        if (typeof v === 'number' && !Number.isFinite(v)) fail(`${at}.values.${k}`, `must be a finite number, got ${v}`);
      }
      return {
        name: e.name,
        namespace: ns,
        server: e.options.server ?? IN_CLUSTER,
        targetRevision: e.options.targetRevision ?? props.targetRevision ?? 'main',
        autoSync: e.options.autoSync ?? true,
        values: e.options.values ?? {},
      };
    });
    const appName = (env: string) => `${prefix}-${env}`;
    for (const e of envs)
      if (appName(e.name).length > 63) fail('name', `'${appName(e.name)}' is longer than 63 characters; shorten the prefix or the environment name`);

    const base = (props.path ?? 'dist').replace(/\/+$/, '');
    const manager = props.operatorFieldManager ?? 'ghosteam-operator';
    const project = props.project ?? 'default';
    const namespace = props.argocdNamespace ?? 'argocd';
    const source = props.source ?? 'directory';

    /** `values` is the map, or (in an ApplicationSet template) the template expression of its JSON. */
    const sourceFor = (envName: string, targetRevision: string, values: Readonly<Record<string, EnvValue>> | string) => ({
      repoURL: props.repoURL,
      targetRevision,
      path: `${base}/${envName}`,
      ...(source === 'directory'
        ? { directory: { recurse: true } }
        : {
            plugin: {
              name: 'ghosteam',
              env: [
                { name: 'GHOSTEAM_ENV', value: envName },
                { name: 'GHOSTEAM_VALUES', value: typeof values === 'string' ? values : JSON.stringify(sortedValues(values)) },
                ...(typeof values === 'string'
                  ? []
                  : Object.keys(values)
                      .sort()
                      .map((k) => ({ name: valueEnvName(k), value: String(values[k]) }))),
              ],
            },
          }),
    });
    const syncPolicy = (autoSync: boolean) => ({
      ...(autoSync ? { automated: { prune: true, selfHeal: true } } : {}),
      syncOptions: ['CreateNamespace=true', 'ServerSideApply=true', 'RespectIgnoreDifferences=true', 'PruneLast=true'],
      retry: { limit: 5, backoff: { duration: '10s', factor: 2, maxDuration: '3m' } },
    });
    // The operator moves traffic and storage during a canary: those fields are its, not Git's.
    const ignoreDifferences = [
      { group: 'serving.kserve.io', kind: 'InferenceService', managedFieldsManagers: [manager] },
      { group: 'ghosteam.io', kind: 'Model', managedFieldsManagers: [manager] },
    ];
    const info = (e: ResolvedEnv) => [
      { name: 'environment', value: e.name },
      ...Object.keys(e.values)
        .sort()
        .map((k) => ({ name: `value ${k}`, value: String(e.values[k]) })),
    ];
    const metadataFor = (name: string, env?: string) => ({
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'ghosteam', 'app.kubernetes.io/part-of': prefix, ...(env ? { 'ghosteam.io/environment': env } : {}) },
      // Deleting the Application deletes what it deployed.
      finalizers: ['resources-finalizer.argocd.argoproj.io'],
    });

    if ((props.mode ?? 'applications') === 'applications') {
      for (const e of envs) {
        new ApiObject(this, e.name, {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Application',
          metadata: metadataFor(appName(e.name), e.name),
          spec: {
            project,
            source: sourceFor(e.name, e.targetRevision, e.values),
            destination: { server: e.server, namespace: e.namespace },
            syncPolicy: syncPolicy(e.autoSync),
            ignoreDifferences,
            info: info(e),
          },
        });
      }
      this.names = envs.map((e) => appName(e.name));
      return;
    }

    // ApplicationSet: a list generator; per-environment differences go through templatePatch so
    // that values, automation and destinations can differ without a template per environment.
    const elements = envs.map((e) => ({
      env: e.name,
      namespace: e.namespace,
      server: e.server,
      targetRevision: e.targetRevision,
      autoSync: e.autoSync ? 'true' : 'false',
      valuesJson: JSON.stringify(sortedValues(e.values)),
    }));
    const distinctValues = envs.some((e) => Object.keys(e.values).length > 0) || envs.some((e) => !e.autoSync);
    const templateSource = sourceFor('{{.env}}', '{{.targetRevision}}', '{{.valuesJson}}');
    const patchYaml = distinctValues
      ? [
          'spec:',
          '  info:',
          '    - name: environment',
          '      value: {{ .env | quote }}',
          ...envs.flatMap((e) =>
            Object.keys(e.values)
              .sort()
              .map(
                (k) =>
                  `  {{- if eq .env ${JSON.stringify(e.name)} }}\n    - name: ${JSON.stringify(`value ${k}`)}\n      value: ${JSON.stringify(String(e.values[k]))}\n  {{- end }}`,
              ),
          ),
          '  syncPolicy:',
          '    {{- if eq .autoSync "true" }}',
          '    automated:',
          '      prune: true',
          '      selfHeal: true',
          '    {{- end }}',
          `    syncOptions: ${JSON.stringify(syncPolicy(false).syncOptions)}`,
          '',
        ].join('\n')
      : undefined;
    new ApiObject(this, 'set', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: prefix, namespace, labels: { 'app.kubernetes.io/managed-by': 'ghosteam', 'app.kubernetes.io/part-of': prefix } },
      spec: {
        goTemplate: true,
        goTemplateOptions: ['missingkey=error'],
        generators: [{ list: { elements } }],
        template: {
          metadata: {
            name: `${prefix}-{{.env}}`,
            labels: { 'app.kubernetes.io/managed-by': 'ghosteam', 'ghosteam.io/environment': '{{.env}}' },
            finalizers: ['resources-finalizer.argocd.argoproj.io'],
          },
          spec: {
            project,
            source: templateSource,
            destination: { server: '{{.server}}', namespace: '{{.namespace}}' },
            syncPolicy: syncPolicy(!distinctValues),
            ignoreDifferences,
          },
        },
        ...(patchYaml ? { templatePatch: patchYaml } : {}),
      },
    });
    this.names = [prefix];
  }
}
