/**
 * `ghosteam status`: models, versions, rollouts in progress and recent TrainingRuns of the local
 * operator (its state directory, read without disturbing it) or of a cluster (--kubeconfig).
 *
 *   ghosteam status
 *   ghosteam status --kubeconfig ~/.kube/config -n ml --json
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';

interface StatusFlags {
  stateDir: string;
  registryDir?: string;
  mlflowUri?: string;
  kubeconfig?: string;
  namespace?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('Show models, versions, rollouts in progress and recent TrainingRuns (local operator, or a cluster with --kubeconfig)')
    .option('--state-dir <dir>', "the local operator's state directory", '.ghosteam/state')
    .option('--registry-dir <dir>', 'local model registry directory (default: $GHOSTEAM_REGISTRY_DIR or .ghosteam/registry)')
    .option('--mlflow-uri <url>', 'MLflow tracking URI of the model registry (default: $MLFLOW_TRACKING_URI)')
    .option('--kubeconfig <file>', "show a cluster's objects instead of the local operator's")
    .option('-n, --namespace <ns>', 'only this namespace')
    .option('--json', 'print the report as JSON')
    .action(async (f: StatusFlags) => {
      const { buildStatus, renderStatus } = await import('../../controllers/status-report.ts');
      const { openRegistry } = await import('../../components/registry/index.ts');
      let models;
      let runs;
      if (f.kubeconfig) {
        const { KubeStore, loadKubeConfig } = await import('../../controllers/runtime/kube-store.ts');
        const { TYPES } = await import('../../controllers/runtime/store.ts');
        const store = new KubeStore(loadKubeConfig(f.kubeconfig));
        models = (await store.list(TYPES.Model, f.namespace)).items;
        runs = (await store.list(TYPES.TrainingRun, f.namespace)).items;
      } else {
        const { existsSync } = await import('node:fs');
        if (!existsSync(f.stateDir))
          throw new Error(
            `--state-dir ${f.stateDir}: no local operator state here; start one with \`ghosteam operator --local\` or pass --kubeconfig for a cluster`,
          );
        const { readStateObjects } = await import('../../controllers/runtime/inbox.ts');
        models = readStateObjects(resolve(f.stateDir), 'Model', f.namespace);
        runs = readStateObjects(resolve(f.stateDir), 'TrainingRun', f.namespace);
      }
      const registry = openRegistry({ ...(f.mlflowUri ? { trackingUri: f.mlflowUri } : {}), ...(f.registryDir ? { dir: f.registryDir } : {}) });
      const versions: Record<string, { version: number; aliases?: string[] }[]> = {};
      for (const m of models) {
        const name = (m.spec as { modelRef?: { name?: string } }).modelRef?.name ?? m.metadata.name;
        versions[name] = (await registry.listVersions(name).catch(() => []))
          .map((v) => ({ version: v.version, aliases: [...(v.aliases ?? [])] }))
          .sort((a, b) => a.version - b.version);
      }
      const report = buildStatus({ models, trainingRuns: runs, versions });
      process.stdout.write(f.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
    });
}
