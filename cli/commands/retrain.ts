/**
 * `ghosteam retrain <pipeline>`: starts one TrainingRun of a pipeline with reason `manual` — in the
 * local operator's state (through its inbox: `ghosteam operator --local` runs it) or in a cluster
 * (--kubeconfig). The operator trains, registers past the gate and canaries the new version.
 *
 *   ghosteam retrain fraud-train -n fraud --param epochs=20
 */
import type { Command } from 'commander';
import { localStateDir } from '../args.ts';

interface RetrainFlags {
  stateDir: string;
  kubeconfig?: string;
  namespace?: string;
  model?: string;
  param?: string[];
}

export function register(program: Command): void {
  program
    .command('retrain')
    .description('Start a TrainingRun of a pipeline now (reason manual); the operator trains, registers and canaries it')
    .argument('<pipeline>', 'the pipeline (WorkflowTemplate) name, e.g. fraud-train')
    .option('--state-dir <dir>', "the local operator's state directory", '.ghosteam/state')
    .option('--kubeconfig <file>', 'create it in this cluster instead of the local operator')
    .option('-n, --namespace <ns>', 'namespace of the pipeline (default: where its earlier TrainingRuns are, else default)')
    .option('--model <name>', "the registered model it trains (default: the pipeline's register step)")
    .option('--param <name=value>', 'a pipeline parameter (repeatable)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .action(async (pipeline: string, f: RetrainFlags) => {
      const params: Record<string, string> = {};
      for (const p of f.param ?? []) {
        const i = p.indexOf('=');
        if (i < 1) throw new Error(`--param '${p}' is not name=value`);
        params[p.slice(0, i)] = p.slice(i + 1);
      }
      const { retrain } = await import('../../controllers/actions.ts');
      const request = { pipeline, ...(f.namespace ? { namespace: f.namespace } : {}), ...(f.model ? { model: f.model } : {}), params };
      if (f.kubeconfig) {
        const { KubeStore, loadKubeConfig } = await import('../../controllers/runtime/kube-store.ts');
        const out = await retrain({ store: new KubeStore(loadKubeConfig(f.kubeconfig)) }, request, 'retrain');
        process.stdout.write(`${out.message}\n`);
        return;
      }
      const stateDir = localStateDir(f.stateDir);
      const out = await retrain({ stateDir }, request, 'retrain');
      process.stdout.write(`${out.message}; \`ghosteam status\` shows it\n`);
    });
}
