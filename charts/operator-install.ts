/**
 * The operator's install manifests: the ghosteam CRDs, a least-privilege ClusterRole (exactly the
 * verbs and resources the controllers use), a namespaced Role for the leader Lease and Events, a
 * ServiceAccount, a Deployment under the `restricted` Pod Security Standard with probes and
 * resources, a metrics Service, NetworkPolicies (default-deny ingress in the namespace; the operator
 * takes only metrics scrapes and, with the payload sink, KServe predictors' posts), a
 * PodDisruptionBudget and, with `audit`, the claim the audit log is written to. Plain objects, ready for YAML or the API.
 */
import { ghosteamCrds } from '../api/crds/index.ts';
import type { K8sObject } from '../api/objects.ts';
import { writeBackTargetProblem } from '../api/lock.ts';

/** The operator's Git write-back (`ghosteam operator --git-repo`): promoted versions are committed to the lock file. */
export interface OperatorGitWriteBack {
  /** Remote URL (https:// or ssh), without credentials: the operator clones it from inside the cluster. */
  readonly repo: string;
  /** @default 'main' */
  readonly branch?: string;
  /** The lock file's path inside the repository (next to the app). @default 'models.lock.json' */
  readonly lockFile?: string;
  /**
   * A Secret in the operator's namespace with the access token (key `token`) and optionally the
   * user name (key `username`, default 'x-access-token'). The kubelet injects them as environment
   * variables (secretKeyRef): the operator never reads Secrets through the API.
   * @default - none (a public remote, or credentials the image provides)
   */
  readonly secret?: { readonly name: string; readonly tokenKey?: string; readonly usernameKey?: string };
}

export interface OperatorInstallProps {
  /** Namespace the operator runs in. @default 'ghosteam-system' */
  readonly namespace?: string;
  /** @default 'ghcr.io/ghosteam/operator:0.1.0' */
  readonly image?: string;
  /** Replicas (one leads at a time through a Lease). @default 2 */
  readonly replicas?: number;
  /** Workers per controller. @default 4 */
  readonly workers?: number;
  /** MLflow tracking URI for the registry; absent: models must pin spec.modelRef.version. */
  readonly mlflowUri?: string;
  /** Prometheus base URL for canary analysis. */
  readonly prometheusUrl?: string;
  /**
   * Namespace scope: the operator watches only this namespace (`ghosteam operator --namespace`) and
   * its RBAC is a Role there; only the cluster-scoped reads (nodes, for GPU placement) stay in a
   * ClusterRole. @default - every namespace (a ClusterRole)
   */
  readonly watchNamespace?: string;
  /** Include the CRDs. @default true */
  readonly crds?: boolean;
  /** Commit promoted versions to a lock file in Git. @default - off */
  readonly gitWriteBack?: OperatorGitWriteBack;
  /**
   * Host the payload sink in the operator (`ghosteam operator --payload-sink-port`): a Service
   * `ghosteam-payload-sink` (port 80) for InferenceServices' `logger.url`, writing the payload log its
   * DriftMonitors read to an emptyDir. The file lives in the pod, so this needs `replicas: 1`; with
   * several replicas, run `ghosteam payload-sink` as its own Deployment on a ReadWriteMany volume.
   * @default - off
   */
  readonly payloadSink?: { /** emptyDir size limit. @default '1Gi' */ readonly sizeLimit?: string };
  /**
   * The operator's audit log (`ghosteam operator --audit-log`): every decision it acts on, one
   * fsynced, hash-chained JSON line, written to a PersistentVolumeClaim mounted at
   * /var/lib/ghosteam/audit, one file per pod (`<pod name>.jsonl`: only the leader acts, and each
   * file keeps one writer and an unbroken chain). The claim outlives pods and upgrades; read it with
   * `kubectl exec -n <ns> deploy/ghosteam-operator -- cat /var/lib/ghosteam/audit/<pod>.jsonl` or
   * from any pod that mounts the claim. The install creates the claim `ghosteam-operator-audit`
   * unless `claimName` names an existing one.
   * @default - off (the operator's decisions are still Kubernetes Events)
   */
  readonly audit?: OperatorAudit;
  /**
   * Serve the web UI from the operator (`ghosteam operator --ui-port`): the pages of `ghosteam ui`
   * over the API server's objects and the registry, on port `http-ui` of the operator's pods and of
   * its Service. Auth is on by default: the actions (pause/resume/promote/abort, retrain) need a
   * token from a Secret or an OIDC issuer, and are audited (so `audit` is needed with them);
   * `readOnly` serves the pages without actions. Reads need a credential too (the `view`
   * permission: the viewer token, the actions' token, or an OIDC token; a browser signs in once and
   * keeps it in an HttpOnly cookie), and the NetworkPolicy lets only namespaces labelled
   * `ghosteam.io/ui-access=true` (an ingress controller's) reach the port.
   * @default - off
   */
  readonly ui?: OperatorUi;
}

export interface OperatorUi {
  /** @default 8070 */
  readonly port?: number;
  /** A Secret in the operator's namespace holding the actions' bearer token (key `token`): an env var through secretKeyRef, never read through the API. */
  readonly tokenSecret?: { readonly name: string; readonly key?: string };
  /** OIDC access tokens from this issuer allow the actions (the scope ghosteam:admin by default, or `grants`). */
  readonly oidc?: { readonly issuer: string; readonly audience: string; /** `admin=CLAIM:VALUE` */ readonly grants?: readonly string[] };
  /** A Secret in the operator's namespace holding a bearer token that allows reading the UI only (key `token`); needed with `readOnly`. */
  readonly viewerTokenSecret?: { readonly name: string; readonly key?: string };
  /** Pages only, no actions (reads still need `viewerTokenSecret`). */
  readonly readOnly?: boolean;
}

/** The UI's container port (`ghosteam operator --ui-port`). */
export const UI_PORT = 8070;
/** The label a namespace needs for its pods to reach the UI port (the NetworkPolicy). */
export const UI_ACCESS_LABEL = 'ghosteam.io/ui-access';
const UI_TOKEN_ENV = 'GHOSTEAM_UI_TOKEN';
const UI_VIEWER_TOKEN_ENV = 'GHOSTEAM_UI_VIEWER_TOKEN';

/** What is wrong with the UI settings (pure); each problem names the field and the fix. */
export function uiProblem(u: OperatorUi, audit: boolean): string | undefined {
  if (u.port !== undefined && (!Number.isInteger(u.port) || u.port < 1 || u.port > 65535)) return `ui.port ${u.port} is not a port (1-65535)`;
  if (u.port === HEALTH_PORT || u.port === SINK_PORT)
    return `ui.port ${u.port} is taken by the operator's ${u.port === HEALTH_PORT ? 'metrics' : 'payload sink'} port; pick another`;
  if (u.readOnly && (u.tokenSecret || u.oidc))
    return 'ui.readOnly serves no actions: leave ui.tokenSecret and ui.oidc out (or readOnly, to allow actions); reads take ui.viewerTokenSecret';
  if (u.readOnly && !u.viewerTokenSecret)
    return "ui: the UI's reads need a credential (secure by default): give ui.viewerTokenSecret (--ui-viewer-token-secret, a Secret with key 'token')";
  if (!u.readOnly && !u.tokenSecret && !u.oidc)
    return "ui: the UI's actions need credentials (auth is on by default): give ui.tokenSecret (--ui-token-secret, a Secret with key 'token') or ui.oidc (--ui-auth-issuer and --ui-auth-audience), or ui.readOnly (--ui-read-only) for pages only";
  if (!u.readOnly && !audit)
    return "ui: the UI's actions are audited: add audit (--audit-log, or --audit-log-claim), or make the UI read-only (--ui-read-only)";
  for (const [field, sec] of [
    ['tokenSecret', u.tokenSecret],
    ['viewerTokenSecret', u.viewerTokenSecret],
  ] as const) {
    if (sec && (!DNS_SUBDOMAIN.test(sec.name) || sec.name.length > 253))
      return `ui.${field} '${sec.name}' is not a valid Secret name (lower-case letters, digits, '-' and '.')`;
    if (sec?.key !== undefined && !SECRET_KEY.test(sec.key)) return `ui.${field} key '${sec.key}' is not valid (letters, digits, '-', '_' and '.')`;
  }
  if (u.oidc) {
    let url: URL | undefined;
    try {
      url = new URL(u.oidc.issuer);
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== 'https:') return `ui.oidc.issuer '${u.oidc.issuer}' must be an https:// URL (the issuer's keys come from it)`;
    if (!u.oidc.audience.trim()) return "ui.oidc.audience is empty: give the 'aud' the UI's tokens carry";
    for (const g of u.oidc.grants ?? [])
      if (!/^(admin|view)=[^:=\s]+:\S+$/.test(g))
        return `ui.oidc.grants '${g}' is not admin=CLAIM:VALUE or view=CLAIM:VALUE (e.g. admin=groups:ml-admins, view=groups:ml)`;
  }
  return undefined;
}

export interface OperatorAudit {
  /** An existing claim to write to (the install then creates none). @default - the install creates ghosteam-operator-audit */
  readonly claimName?: string;
  /** Size of the claim the install creates. @default '1Gi' */
  readonly size?: string;
  /** Storage class of the claim the install creates. @default - the cluster's default class */
  readonly storageClassName?: string;
  /**
   * Access mode of the claim the install creates. Every replica mounts it, so with more than one
   * replica it must be ReadWriteMany (or replicas must share a node).
   * @default 'ReadWriteOnce' with one replica, 'ReadWriteMany' with more
   */
  readonly accessMode?: 'ReadWriteOnce' | 'ReadWriteMany';
}

/** Where the operator's pod keeps its audit log (`audit` on the install). */
export const AUDIT_DIR = '/var/lib/ghosteam/audit';
/** The claim `ghosteam install` creates for the audit log. */
export const AUDIT_CLAIM = 'ghosteam-operator-audit';
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;

/** What is wrong with the audit settings (pure); each problem names the field and the fix. */
export function auditProblem(a: OperatorAudit, replicas: number): string | undefined {
  if (a.claimName !== undefined && (!DNS_SUBDOMAIN.test(a.claimName) || a.claimName.length > 253))
    return `audit.claimName '${a.claimName}' is not a valid claim name (lower-case letters, digits, '-' and '.')`;
  if (a.claimName !== undefined && (a.size !== undefined || a.storageClassName !== undefined || a.accessMode !== undefined))
    return 'audit.claimName names an existing claim: leave audit.size, audit.storageClassName and audit.accessMode out (they shape the claim the install creates)';
  if (a.size !== undefined && !QUANTITY.test(a.size)) return `audit.size '${a.size}' is not a quantity; write e.g. 1Gi`;
  if (a.storageClassName !== undefined && (!DNS_SUBDOMAIN.test(a.storageClassName) || a.storageClassName.length > 253))
    return `audit.storageClassName '${a.storageClassName}' is not a valid storage class name`;
  if (a.accessMode === 'ReadWriteOnce' && replicas > 1)
    return `audit.accessMode ReadWriteOnce with ${replicas} replicas: every replica mounts the claim and they run on different nodes; use ReadWriteMany or replicas 1`;
  return undefined;
}

/** The in-cluster URL of the payload sink Service for InferenceServices' `logger.url`. */
export function payloadSinkUrl(namespace = 'ghosteam-system'): string {
  return `http://${SINK_NAME}.${namespace}.svc.cluster.local/`;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** Checks the write-back settings; the error names the field (`names`: the flags, when they came from the CLI). */
export function gitWriteBackProblem(
  g: OperatorGitWriteBack,
  names = { repo: 'gitWriteBack.repo', branch: 'gitWriteBack.branch', lockFile: 'gitWriteBack.lockFile', secret: 'gitWriteBack.secret.name' },
): string | undefined {
  const problem = writeBackTargetProblem({ repo: g.repo, branch: g.branch ?? 'main', lockFile: g.lockFile ?? 'models.lock.json' }, names);
  if (problem) return problem;
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(g.repo) && /^https?:/i.test(g.repo))
    return `${names.repo} must not carry credentials; put the token in a Secret (key 'token') and name it with ${names.secret}`;
  if (!/^(https?|ssh|git):\/\/|^[^/\s]+@[^:\s]+:/i.test(g.repo))
    return `${names.repo} '${g.repo}' must be a remote URL (https://…, ssh://… or git@host:path): the operator clones it from inside the cluster`;
  const sec = g.secret;
  if (sec) {
    if (!DNS_SUBDOMAIN.test(sec.name) || sec.name.length > 253)
      return `${names.secret} '${sec.name}' is not a valid Secret name (lower-case letters, digits, '-' and '.')`;
    for (const k of [sec.tokenKey, sec.usernameKey])
      if (k !== undefined && !SECRET_KEY.test(k)) return `Secret key '${k}' of ${sec.name} is not valid (letters, digits, '-', '_' and '.')`;
  }
  return undefined;
}

const NAME = 'ghosteam-operator';
const HEALTH_PORT = 8081;
const SINK_NAME = 'ghosteam-payload-sink';
/** The namespace-wide default-deny (ingress) NetworkPolicy of `ghosteam install`. */
export const DEFAULT_DENY = 'ghosteam-default-deny';
const SINK_PORT = 8090;
const SINK_DIR = '/var/lib/ghosteam/payloads';

/**
 * Graceful shutdown of the operator's pod when it hosts the payload sink: the preStop sleep keeps
 * the sink taking events while the ghosteam-payload-sink Service's endpoints drop the pod (a POST
 * routed to it meanwhile still gets its durable 200), then SIGTERM closes the listener, finishes
 * requests in flight, writes the KServe halves waiting for a pair and flushes the log. The grace
 * period covers the sleep and that stop with room to spare (a lone 16 MiB body still arriving, an
 * fsync, the leader lease handed back); past it the kubelet kills, and the journal
 * (payloads.jsonl.pending) still brings back what was acknowledged.
 */
export const OPERATOR_SHUTDOWN = { preStopSleepSeconds: 5, terminationGracePeriodSeconds: 30 } as const;

/** Every rule the controllers need, and nothing else. Kept next to the code that uses it: see controllers/operator.ts. */
export const OPERATOR_RULES = [
  { apiGroups: ['ghosteam.io'], resources: ['models', 'driftmonitors', 'trainingruns'], verbs: ['get', 'list', 'watch', 'update'] },
  { apiGroups: ['ghosteam.io'], resources: ['trainingruns'], verbs: ['create'] },
  { apiGroups: ['ghosteam.io'], resources: ['models/status', 'driftmonitors/status', 'trainingruns/status'], verbs: ['get', 'update'] },
  { apiGroups: ['ghosteam.io'], resources: ['models/finalizers', 'driftmonitors/finalizers', 'trainingruns/finalizers'], verbs: ['update'] },
  { apiGroups: ['serving.kserve.io'], resources: ['inferenceservices'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
  { apiGroups: ['argoproj.io'], resources: ['workflows'], verbs: ['get', 'list', 'watch', 'create'] },
  { apiGroups: ['argoproj.io'], resources: ['workflowtemplates'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods', 'resourcequotas'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  { apiGroups: ['kueue.x-k8s.io'], resources: ['localqueues'], verbs: ['get', 'list', 'watch'] },
] as const;

/**
 * What the UI (`ghosteam operator --ui-port`, ui/cluster.ts) reads: the objects its pages show,
 * listed and watched, and an Argo step's log by its pod's name (`get` on `pods/log`: no listing of
 * pods, no Secrets). Tests run the UI as a ServiceAccount holding exactly these and read every page
 * and a real step's log (test/cluster/ui-logs.test.ts).
 */
export const UI_READ_RULES = [
  { apiGroups: ['ghosteam.io'], resources: ['models', 'driftmonitors', 'trainingruns'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['argoproj.io'], resources: ['workflows'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
] as const;

/**
 * What the UI's actions write (controllers/actions.ts): a rollout action annotates the Model
 * (update), a retrain reads the pipeline's WorkflowTemplate (its spec hash) and creates a TrainingRun.
 */
export const UI_ACTION_RULES = [
  { apiGroups: ['ghosteam.io'], resources: ['models'], verbs: ['get', 'update'] },
  { apiGroups: ['ghosteam.io'], resources: ['trainingruns'], verbs: ['create'] },
  { apiGroups: ['argoproj.io'], resources: ['workflowtemplates'], verbs: ['get'] },
] as const;

type Rule = { readonly apiGroups: readonly string[]; readonly resources: readonly string[]; readonly verbs: readonly string[] };

/** The rules of `want` that `have` does not grant (pure): each (group, resource, verb) on its own. */
export function missingRules(want: readonly Rule[], have: readonly Rule[]): Rule[] {
  const out: Rule[] = [];
  for (const w of want)
    for (const g of w.apiGroups)
      for (const r of w.resources) {
        const verbs = w.verbs.filter((v) => !have.some((h) => h.apiGroups.includes(g) && h.resources.includes(r) && h.verbs.includes(v)));
        if (verbs.length) out.push({ apiGroups: [g], resources: [r], verbs });
      }
  return out;
}

/** The rules on cluster-scoped resources: a namespace-scoped operator keeps these in its ClusterRole. */
const CLUSTER_SCOPED = new Set(['nodes']);

const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function operatorInstallManifests(props: OperatorInstallProps = {}): K8sObject[] {
  const ns = props.namespace ?? 'ghosteam-system';
  const image = props.image ?? 'ghcr.io/ghosteam/operator:0.1.0';
  const replicas = props.replicas ?? 2;
  const labels = { 'app.kubernetes.io/name': NAME, 'app.kubernetes.io/part-of': 'ghosteam', 'app.kubernetes.io/component': 'operator' };
  const selector = { 'app.kubernetes.io/name': NAME };
  const env: Array<Record<string, unknown>> = [
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  ];
  if (props.mlflowUri) env.push({ name: 'MLFLOW_TRACKING_URI', value: props.mlflowUri });
  const args = ['operator', '--health-port', String(HEALTH_PORT), '--bind-address', '0.0.0.0', '--leader-elect', '--workers', String(props.workers ?? 4)];
  if (props.prometheusUrl) args.push('--prometheus-url', props.prometheusUrl);
  const watchNs = props.watchNamespace;
  if (watchNs !== undefined) {
    if (!NAMESPACE_NAME.test(watchNs) || watchNs.length > 63)
      throw new Error(`watchNamespace '${watchNs}' is not a valid namespace name (lower-case letters, digits and '-', at most 63)`);
    args.push('--namespace', watchNs);
  }
  const rule = (r: Rule): { apiGroups: string[]; resources: string[]; verbs: string[] } => ({
    apiGroups: [...r.apiGroups],
    resources: [...r.resources],
    verbs: [...r.verbs],
  });
  const clusterRules = OPERATOR_RULES.filter((r) => watchNs === undefined || r.resources.every((x) => CLUSTER_SCOPED.has(x))).map(rule);
  const watchRules = watchNs === undefined ? [] : OPERATOR_RULES.filter((r) => !r.resources.every((x) => CLUSTER_SCOPED.has(x))).map(rule);
  const g = props.gitWriteBack;
  if (g) {
    const problem = gitWriteBackProblem(g);
    if (problem) throw new Error(problem);
    args.push('--git-repo', g.repo, '--git-branch', g.branch ?? 'main', '--lock-file', g.lockFile ?? 'models.lock.json');
    // git needs a writable HOME; the root filesystem is read-only.
    env.push({ name: 'HOME', value: '/tmp' });
    if (g.secret) {
      env.push(
        { name: 'GHOSTEAM_GIT_TOKEN', valueFrom: { secretKeyRef: { name: g.secret.name, key: g.secret.tokenKey ?? 'token' } } },
        { name: 'GHOSTEAM_GIT_USERNAME', valueFrom: { secretKeyRef: { name: g.secret.name, key: g.secret.usernameKey ?? 'username', optional: true } } },
      );
    }
  }
  const sink = props.payloadSink;
  if (sink && replicas !== 1)
    throw new Error(
      `payloadSink: the sink keeps the payload log in the operator's pod, so it needs replicas 1 (got ${replicas}); with several replicas, run \`ghosteam payload-sink\` as its own Deployment on a ReadWriteMany volume`,
    );
  if (sink) args.push('--payload-log', `${SINK_DIR}/payloads.jsonl`, '--payload-sink-port', String(SINK_PORT));
  const audit = props.audit;
  if (audit) {
    const problem = auditProblem(audit, replicas);
    if (problem) throw new Error(problem);
    // $(POD_NAME) is expanded by the kubelet from the container's env: one file (one writer) per pod.
    args.push('--audit-log', `${AUDIT_DIR}/$(POD_NAME).jsonl`);
  }
  const ui = props.ui;
  const uiPort = ui?.port ?? UI_PORT;
  const uiRules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] = [];
  if (ui) {
    const problem = uiProblem(ui, audit !== undefined);
    if (problem) throw new Error(problem);
    args.push('--ui-port', String(uiPort), '--ui-host', '0.0.0.0');
    if (ui.tokenSecret) {
      env.push({ name: UI_TOKEN_ENV, valueFrom: { secretKeyRef: { name: ui.tokenSecret.name, key: ui.tokenSecret.key ?? 'token' } } });
      args.push('--ui-token-env', UI_TOKEN_ENV);
    }
    if (ui.viewerTokenSecret) {
      env.push({ name: UI_VIEWER_TOKEN_ENV, valueFrom: { secretKeyRef: { name: ui.viewerTokenSecret.name, key: ui.viewerTokenSecret.key ?? 'token' } } });
      args.push('--ui-viewer-token-env', UI_VIEWER_TOKEN_ENV);
    }
    if (ui.oidc) {
      args.push('--ui-auth-issuer', ui.oidc.issuer, '--ui-auth-audience', ui.oidc.audience);
      for (const g of ui.oidc.grants ?? []) args.push('--ui-auth-grant', g);
    }
    // What the UI reads and its actions write beyond the controllers' own rules (a step's log:
    // `get` on pods/log), and only that, in a ClusterRole of its own that exists only with the UI.
    // Known gap: with watchNamespace it is still cluster-wide (the Helm chart is generated from
    // these objects one option at a time and cannot place a rule by two options at once).
    uiRules.push(...missingRules([...UI_READ_RULES, ...(ui.readOnly ? [] : UI_ACTION_RULES)], OPERATOR_RULES).map(rule));
  }
  const out: K8sObject[] = [];
  if (props.crds ?? true) out.push(...ghosteamCrds());
  out.push(
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: NAME, namespace: ns, labels }, automountServiceAccountToken: true },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: NAME, labels },
      rules: clusterRules,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: NAME, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAME },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: ns }],
    },
    ...(uiRules.length
      ? [
          { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${NAME}-ui`, labels }, rules: uiRules },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRoleBinding',
            metadata: { name: `${NAME}-ui`, labels },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${NAME}-ui` },
            subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: ns }],
          },
        ]
      : []),
    ...(watchNs !== undefined
      ? [
          { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: NAME, namespace: watchNs, labels }, rules: watchRules },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: { name: NAME, namespace: watchNs, labels },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME },
            subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: ns }],
          },
        ]
      : []),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${NAME}-leader-election`, namespace: ns, labels },
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${NAME}-leader-election`, namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${NAME}-leader-election` },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: ns }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: NAME, namespace: ns, labels },
      spec: {
        replicas,
        selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(HEALTH_PORT) } },
          spec: {
            serviceAccountName: NAME,
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            terminationGracePeriodSeconds: OPERATOR_SHUTDOWN.terminationGracePeriodSeconds,
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } },
                ],
              },
            },
            containers: [
              {
                name: 'operator',
                image,
                imagePullPolicy: 'IfNotPresent',
                args,
                env,
                ports: [
                  { name: 'http-metrics', containerPort: HEALTH_PORT, protocol: 'TCP' },
                  ...(sink ? [{ name: 'http-payloads', containerPort: SINK_PORT, protocol: 'TCP' }] : []),
                  ...(ui ? [{ name: 'http-ui', containerPort: uiPort, protocol: 'TCP' }] : []),
                ],
                ...(sink ? { lifecycle: { preStop: { sleep: { seconds: OPERATOR_SHUTDOWN.preStopSleepSeconds } } } } : {}),
                livenessProbe: { httpGet: { path: '/healthz', port: 'http-metrics' }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 },
                readinessProbe: { httpGet: { path: '/readyz', port: 'http-metrics' }, periodSeconds: 5, failureThreshold: 2 },
                // The sink holds up to 10,000 unpaired KServe halves: more memory with it. (The UI's
                // caches are the same objects the controllers cache: small beside that.)
                resources: { requests: { cpu: '100m', memory: sink ? '256Mi' : '192Mi' }, limits: { cpu: '1', memory: sink ? '640Mi' : '320Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                volumeMounts: [
                  { name: 'tmp', mountPath: '/tmp' },
                  ...(sink ? [{ name: 'payloads', mountPath: SINK_DIR }] : []),
                  ...(audit ? [{ name: 'audit', mountPath: AUDIT_DIR }] : []),
                ],
              },
            ],
            // Write-back clones the repository into /tmp: room for it. The payload log rotates at 64 MiB × 6 files.
            volumes: [
              { name: 'tmp', emptyDir: { sizeLimit: g ? '512Mi' : '64Mi' } },
              ...(sink ? [{ name: 'payloads', emptyDir: { sizeLimit: sink.sizeLimit ?? '1Gi' } }] : []),
              ...(audit ? [{ name: 'audit', persistentVolumeClaim: { claimName: audit.claimName ?? AUDIT_CLAIM } }] : []),
            ],
          },
        },
      },
    },
    ...(audit && audit.claimName === undefined
      ? [
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: AUDIT_CLAIM, namespace: ns, labels },
            spec: {
              accessModes: [audit.accessMode ?? (replicas > 1 ? 'ReadWriteMany' : 'ReadWriteOnce')],
              resources: { requests: { storage: audit.size ?? '1Gi' } },
              ...(audit.storageClassName !== undefined ? { storageClassName: audit.storageClassName } : {}),
            },
          },
        ]
      : []),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${NAME}-metrics`, namespace: ns, labels },
      spec: {
        selector,
        ports: [
          { name: 'http-metrics', port: HEALTH_PORT, targetPort: 'http-metrics', protocol: 'TCP' },
          ...(ui ? [{ name: 'http-ui', port: uiPort, targetPort: 'http-ui', protocol: 'TCP' }] : []),
        ],
      },
    },
    ...(sink
      ? [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: SINK_NAME, namespace: ns, labels },
            spec: { selector, ports: [{ name: 'http-payloads', port: 80, targetPort: 'http-payloads', protocol: 'TCP' }] },
          },
        ]
      : []),
    {
      // The namespace is ghosteam's own: nothing in it takes connections unless a policy below says
      // so. (The Helm chart adds this only where it creates the namespace.)
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: DEFAULT_DENY, namespace: ns, labels },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    },
    {
      // The operator's pods: only KServe predictors may post to the payload sink; the metrics port
      // (/metrics, /healthz, /readyz) takes connections from pods in any namespace (Prometheus runs
      // anywhere; `--metrics-token-env` or OIDC guard /metrics itself) and from the kubelet (the
      // node is always let through). Nothing else: the operator serves no webhooks. Egress stays
      // open: the API server, MLflow, Prometheus and the Git remote are addresses a policy can't
      // name portably.
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: NAME, namespace: ns, labels },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ['Ingress'],
        ingress: [
          { ports: [{ port: 'http-metrics', protocol: 'TCP' }], from: [{ namespaceSelector: {} }] },
          ...(sink
            ? [
                {
                  ports: [{ port: 'http-payloads', protocol: 'TCP' }],
                  from: [{ namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'serving.kserve.io/inferenceservice', operator: 'Exists' }] } }],
                },
              ]
            : []),
          ...(ui ? [{ ports: [{ port: 'http-ui', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { [UI_ACCESS_LABEL]: 'true' } } }] }] : []),
        ],
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: NAME, namespace: ns, labels },
      spec: { minAvailable: 1, selector: { matchLabels: selector } },
    },
  );
  return out;
}
