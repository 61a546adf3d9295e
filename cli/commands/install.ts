/**
 * `ghosteam install`: installs the operator (CRDs, RBAC, Deployment, Service, PDB) into the cluster
 * of the current kubeconfig, or prints the manifests with --dry-run.
 *
 *   ghosteam install --dry-run > operator.yaml
 *   ghosteam install -n ghosteam-system --image ghcr.io/ghosteam/operator:0.1.0
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import {
  gitWriteBackProblem,
  operatorInstallManifests,
  uiProblem,
  type OperatorAudit,
  type OperatorGitWriteBack,
  type OperatorUi,
} from '../../charts/operator-install.ts';
import { intArg } from '../args.ts';
import type { K8sObject } from '../../api/objects.ts';

interface InstallFlags {
  dryRun?: boolean;
  namespace: string;
  image: string;
  replicas: string;
  mlflowUri?: string;
  prometheusUrl?: string;
  crds: boolean;
  kubeconfig?: string;
  gitRepo?: string;
  gitBranch: string;
  lockFile: string;
  gitSecret?: string;
  payloadSink?: boolean;
  watchNamespace?: string;
  helm?: string;
  auditLog?: boolean;
  auditLogClaim?: string;
  auditLogSize?: string;
  auditLogStorageClass?: string;
  ui?: boolean;
  uiTokenSecret?: string;
  uiViewerTokenSecret?: string;
  uiAuthIssuer?: string;
  uiAuthAudience?: string;
  uiAuthGrant: string[];
  uiReadOnly?: boolean;
}

/** The UI settings from the install flags; undefined without --ui. Errors name the flag and the fix. */
export function installUi(
  f: Pick<InstallFlags, 'ui' | 'uiTokenSecret' | 'uiViewerTokenSecret' | 'uiAuthIssuer' | 'uiAuthAudience' | 'uiAuthGrant' | 'uiReadOnly'>,
): OperatorUi | undefined {
  if (!f.ui) {
    const stray =
      f.uiTokenSecret !== undefined
        ? '--ui-token-secret'
        : f.uiViewerTokenSecret !== undefined
          ? '--ui-viewer-token-secret'
          : f.uiAuthIssuer !== undefined
            ? '--ui-auth-issuer'
            : f.uiAuthAudience !== undefined
              ? '--ui-auth-audience'
              : f.uiAuthGrant.length
                ? '--ui-auth-grant'
                : f.uiReadOnly
                  ? '--ui-read-only'
                  : undefined;
    if (stray) throw new Error(`${stray} needs --ui (serve the web UI from the operator)`);
    return undefined;
  }
  if ((f.uiAuthIssuer === undefined) !== (f.uiAuthAudience === undefined))
    throw new Error(
      f.uiAuthIssuer === undefined
        ? '--ui-auth-audience needs --ui-auth-issuer <url>'
        : '--ui-auth-issuer needs --ui-auth-audience <aud>: without it a token issued for any other service would be accepted',
    );
  if (f.uiAuthGrant.length && f.uiAuthIssuer === undefined) throw new Error('--ui-auth-grant needs --ui-auth-issuer and --ui-auth-audience');
  return {
    ...(f.uiTokenSecret !== undefined ? { tokenSecret: { name: f.uiTokenSecret } } : {}),
    ...(f.uiViewerTokenSecret !== undefined ? { viewerTokenSecret: { name: f.uiViewerTokenSecret } } : {}),
    ...(f.uiAuthIssuer !== undefined
      ? { oidc: { issuer: f.uiAuthIssuer, audience: f.uiAuthAudience!, ...(f.uiAuthGrant.length ? { grants: f.uiAuthGrant } : {}) } }
      : {}),
    ...(f.uiReadOnly ? { readOnly: true } : {}),
  };
}

/** The operator's audit log settings from the install flags; undefined without --audit-log or --audit-log-claim. */
export function installAudit(f: Pick<InstallFlags, 'auditLog' | 'auditLogClaim' | 'auditLogSize' | 'auditLogStorageClass'>): OperatorAudit | undefined {
  if (!f.auditLog && f.auditLogClaim === undefined) {
    const stray = f.auditLogSize !== undefined ? '--audit-log-size' : f.auditLogStorageClass !== undefined ? '--audit-log-storage-class' : undefined;
    if (stray) throw new Error(`${stray} needs --audit-log (the install then creates the claim the operator's audit log is written to)`);
    return undefined;
  }
  if (f.auditLogClaim !== undefined && (f.auditLogSize !== undefined || f.auditLogStorageClass !== undefined))
    throw new Error(
      '--audit-log-claim names an existing claim: leave --audit-log-size and --audit-log-storage-class out (they shape the claim the install creates)',
    );
  return {
    ...(f.auditLogClaim !== undefined ? { claimName: f.auditLogClaim } : {}),
    ...(f.auditLogSize !== undefined ? { size: f.auditLogSize } : {}),
    ...(f.auditLogStorageClass !== undefined ? { storageClassName: f.auditLogStorageClass } : {}),
  };
}

const GIT_FLAGS = { repo: '--git-repo', branch: '--git-branch', lockFile: '--lock-file', secret: '--git-secret' };

/** The operator's write-back from the install flags; undefined without --git-repo. `given`: the flags typed. */
export function installGitWriteBack(
  f: { gitRepo?: string; gitBranch: string; lockFile: string; gitSecret?: string },
  given: { gitBranch: boolean; lockFile: boolean },
): OperatorGitWriteBack | undefined {
  if (f.gitRepo === undefined) {
    const stray = given.gitBranch ? '--git-branch' : given.lockFile ? '--lock-file' : f.gitSecret !== undefined ? '--git-secret' : undefined;
    if (stray) throw new Error(`${stray} needs --git-repo <url> (the repository the operator writes promoted versions back to)`);
    return undefined;
  }
  const g: OperatorGitWriteBack = {
    repo: f.gitRepo,
    branch: f.gitBranch,
    lockFile: f.lockFile,
    ...(f.gitSecret !== undefined ? { secret: { name: f.gitSecret } } : {}),
  };
  const problem = gitWriteBackProblem(g, GIT_FLAGS);
  if (problem) throw new Error(problem);
  return g;
}

export function toYaml(objs: readonly K8sObject[]): string {
  return objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** Where each kind `ghosteam install` creates lives in the API (a test checks every kind of the manifests has one). */
export const PLURALS: Record<string, { path: (ns?: string) => string; namespaced: boolean }> = {
  CustomResourceDefinition: { path: () => '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', namespaced: false },
  Namespace: { path: () => '/api/v1/namespaces', namespaced: false },
  ServiceAccount: { path: (ns) => `/api/v1/namespaces/${ns}/serviceaccounts`, namespaced: true },
  ClusterRole: { path: () => '/apis/rbac.authorization.k8s.io/v1/clusterroles', namespaced: false },
  ClusterRoleBinding: { path: () => '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', namespaced: false },
  Role: { path: (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, namespaced: true },
  RoleBinding: { path: (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, namespaced: true },
  Deployment: { path: (ns) => `/apis/apps/v1/namespaces/${ns}/deployments`, namespaced: true },
  Service: { path: (ns) => `/api/v1/namespaces/${ns}/services`, namespaced: true },
  PodDisruptionBudget: { path: (ns) => `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, namespaced: true },
  NetworkPolicy: { path: (ns) => `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`, namespaced: true },
  PersistentVolumeClaim: { path: (ns) => `/api/v1/namespaces/${ns}/persistentvolumeclaims`, namespaced: true },
};

export function register(program: Command): void {
  program
    .command('install')
    .description('Install the ghosteam operator (CRDs, RBAC, Deployment, metrics Service, NetworkPolicies, PodDisruptionBudget)')
    .option('--dry-run', 'print the manifests as YAML instead of applying them')
    .option('-n, --namespace <ns>', 'namespace for the operator', 'ghosteam-system')
    .option('--image <ref>', 'operator image', 'ghcr.io/ghosteam/operator:0.1.0')
    .option('--replicas <n>', 'operator replicas (one leads at a time)', '2')
    .option('--mlflow-uri <url>', 'MLflow tracking URI of the model registry')
    .option('--prometheus-url <url>', 'Prometheus base URL for canary analysis')
    .option('--no-crds', 'leave the CRDs out')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG or ~/.kube/config)')
    .option('--git-repo <url>', 'the operator writes promoted versions back to this Git repository (https or ssh URL, no credentials)')
    .option('--git-branch <name>', 'branch the lock file lives on', 'main')
    .option('--lock-file <path>', "the lock file's path inside the repository", 'models.lock.json')
    .option(
      '--payload-sink',
      "host the payload sink in the operator (Service ghosteam-payload-sink, port 80) for InferenceServices' logger.url; needs one replica (the default with it)",
    )
    .option('--git-secret <name>', "Secret in the operator namespace with the Git token (key 'token', optional 'username')")
    .option('--watch-namespace <ns>', 'namespace scope: the operator watches only this namespace, with a Role there instead of cluster-wide RBAC')
    .option(
      '--audit-log',
      'the operator appends every decision it acts on to an audit log (hash-chained JSON lines, one file per pod) on a claim the install creates, ghosteam-operator-audit, mounted at /var/lib/ghosteam/audit',
    )
    .option('--audit-log-claim <name>', 'write the audit log to this existing PersistentVolumeClaim instead (ReadWriteMany with several replicas)')
    .option('--audit-log-size <quantity>', 'size of the audit log claim the install creates (default 1Gi)')
    .option('--audit-log-storage-class <class>', "storage class of the audit log claim (default: the cluster's default)")
    .option(
      '--ui',
      "serve the web UI from the operator (port http-ui 8070 on its pods and its Service ghosteam-operator-metrics): ghosteam ui's pages over the cluster's objects and the registry; reads and actions need --ui-token-secret or --ui-auth-issuer (and --audit-log), or give --ui-read-only with --ui-viewer-token-secret",
    )
    .option(
      '--ui-token-secret <name>',
      "with --ui: Secret in the operator namespace whose key 'token' allows the UI's actions (mounted as an env var, never read through the API)",
    )
    .option(
      '--ui-viewer-token-secret <name>',
      "with --ui: Secret in the operator namespace whose key 'token' allows reading the UI only (needed with --ui-read-only)",
    )
    .option('--ui-auth-issuer <url>', "with --ui: OIDC issuer whose access tokens allow the UI's reads and actions (with --ui-auth-audience)")
    .option('--ui-auth-audience <aud>', "with --ui: the 'aud' the UI's OIDC tokens must carry")
    .option(
      '--ui-auth-grant <grant>',
      'with --ui: admin=CLAIM:VALUE (who may act) or view=CLAIM:VALUE (who may read); default: the scopes ghosteam:admin and ghosteam:view; repeatable',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--ui-read-only', 'with --ui: pages only, no actions (reads need --ui-viewer-token-secret)')
    .option('--helm <dir>', 'write a Helm chart of the operator to <dir> instead (these flags become its values.yaml defaults)')
    .action(async (f: InstallFlags, cmd: Command) => {
      const gitWriteBack = installGitWriteBack(f, {
        gitBranch: cmd.getOptionValueSource('gitBranch') === 'cli',
        lockFile: cmd.getOptionValueSource('lockFile') === 'cli',
      });
      const replicas = f.payloadSink && cmd.getOptionValueSource('replicas') !== 'cli' ? 1 : intArg('--replicas', f.replicas, 1);
      if (f.payloadSink && replicas !== 1)
        throw new Error(
          `--payload-sink keeps the payload log in the operator's pod, so it needs --replicas 1 (got ${replicas}); with several replicas, run \`ghosteam payload-sink\` as its own Deployment on a ReadWriteMany volume`,
        );
      const audit = installAudit(f);
      const ui = installUi(f);
      if (ui) {
        const problem = uiProblem(ui, audit !== undefined);
        if (problem) throw new Error(problem);
      }
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(f.namespace))
        throw new Error(`--namespace '${f.namespace}' is not a valid namespace name (lower-case letters, digits and '-')`);
      if (f.watchNamespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(f.watchNamespace))
        throw new Error(`--watch-namespace '${f.watchNamespace}' is not a valid namespace name (lower-case letters, digits and '-')`);
      const props = {
        namespace: f.namespace,
        image: f.image,
        replicas,
        mlflowUri: f.mlflowUri,
        prometheusUrl: f.prometheusUrl,
        crds: f.crds,
        ...(gitWriteBack ? { gitWriteBack } : {}),
        ...(f.payloadSink ? { payloadSink: {} } : {}),
        ...(f.watchNamespace !== undefined ? { watchNamespace: f.watchNamespace } : {}),
        ...(audit ? { audit } : {}),
        ...(ui ? { ui } : {}),
      };
      if (f.helm !== undefined && f.dryRun) throw new Error('--helm writes a chart and --dry-run prints manifests: give one of them');
      if (f.helm !== undefined) {
        const { writeOperatorChart } = await import('../../charts/operator-helm.ts');
        const files = await writeOperatorChart(f.helm, props);
        console.log(
          `wrote the Helm chart ghosteam-operator to ${f.helm} (${files.join(', ')}); try: helm install ghosteam-operator ${f.helm} -n ${f.namespace} --create-namespace`,
        );
        return;
      }
      const objs = operatorInstallManifests(props);
      if (f.dryRun) {
        process.stdout.write(toYaml(objs));
        return;
      }
      const { KubeStore, loadKubeConfig } = await import('../../controllers/runtime/kube-store.ts');
      const { ApiError } = await import('../../controllers/runtime/store.ts');
      const store = new KubeStore(loadKubeConfig(f.kubeconfig));
      for (const o of objs) {
        const p = PLURALS[o.kind];
        const base = p.path(o.metadata.namespace);
        try {
          await store.request('POST', base, o);
          console.log(`${o.kind} ${o.metadata.name} created`);
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 409)) throw e;
          if (o.kind === 'PersistentVolumeClaim') {
            // A claim's spec is immutable once bound, and it holds the audit log: keep it as it is.
            console.log(`${o.kind} ${o.metadata.name} kept (it exists)`);
            continue;
          }
          const cur = await store.request<K8sObject>('GET', `${base}/${o.metadata.name}`);
          await store.request('PUT', `${base}/${o.metadata.name}`, {
            ...o,
            metadata: { ...o.metadata, resourceVersion: (cur.metadata as { resourceVersion?: string }).resourceVersion },
          });
          console.log(`${o.kind} ${o.metadata.name} updated`);
        }
      }
    });
}
