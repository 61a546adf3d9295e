/**
 * `ghosteam install`: installs the operator (CRDs, RBAC, Deployment, Service, PDB) into the cluster
 * of the current kubeconfig, or prints the manifests with --dry-run.
 *
 *   ghosteam install --dry-run > operator.yaml
 *   ghosteam install -n ghosteam-system --image ghcr.io/ghosteam/operator:0.1.0
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { gitWriteBackProblem, operatorInstallManifests, type OperatorGitWriteBack } from '../../charts/operator-install.ts';
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
