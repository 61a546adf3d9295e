/**
 * `ghosteam install`: installs the operator (CRDs, RBAC, Deployment, Service, PDB) into the cluster
 * of the current kubeconfig, or prints the manifests with --dry-run.
 *
 *   ghosteam install --dry-run > operator.yaml
 *   ghosteam install -n ghosteam-system --image ghcr.io/ghosteam/operator:0.1.0
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { operatorInstallManifests, type Manifest } from '../../charts/operator-install.ts';

interface InstallFlags {
  dryRun?: boolean;
  namespace: string;
  image: string;
  replicas: string;
  mlflowUri?: string;
  prometheusUrl?: string;
  crds: boolean;
  kubeconfig?: string;
}

export function toYaml(objs: readonly Manifest[]): string {
  return objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

const PLURALS: Record<string, { path: (ns?: string) => string; namespaced: boolean }> = {
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
};

export function register(program: Command): void {
  program
    .command('install')
    .description('Install the ghosteam operator (CRDs, RBAC, Deployment, metrics Service, PodDisruptionBudget)')
    .option('--dry-run', 'print the manifests as YAML instead of applying them')
    .option('-n, --namespace <ns>', 'namespace for the operator', 'ghosteam-system')
    .option('--image <ref>', 'operator image', 'ghcr.io/ghosteam/operator:0.1.0')
    .option('--replicas <n>', 'operator replicas (one leads at a time)', '2')
    .option('--mlflow-uri <url>', 'MLflow tracking URI of the model registry')
    .option('--prometheus-url <url>', 'Prometheus base URL for canary analysis')
    .option('--no-crds', 'leave the CRDs out')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG or ~/.kube/config)')
    .action(async (f: InstallFlags) => {
      const replicas = Number(f.replicas);
      if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`--replicas expects an integer ≥ 1, got '${f.replicas}'`);
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(f.namespace)) throw new Error(`--namespace '${f.namespace}' is not a valid namespace name (lower-case letters, digits and '-')`);
      const objs = operatorInstallManifests({ namespace: f.namespace, image: f.image, replicas, mlflowUri: f.mlflowUri, prometheusUrl: f.prometheusUrl, crds: f.crds });
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
          const cur = await store.request<Manifest>('GET', `${base}/${o.metadata.name}`);
          await store.request('PUT', `${base}/${o.metadata.name}`, { ...o, metadata: { ...o.metadata, resourceVersion: (cur.metadata as { resourceVersion?: string }).resourceVersion } });
          console.log(`${o.kind} ${o.metadata.name} updated`);
        }
      }
    });
}
