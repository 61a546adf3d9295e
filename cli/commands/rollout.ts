/**
 * `ghosteam rollout <pause|resume|promote|abort> <model>`: acts on a Model's canary rollout — in the
 * local operator (through its inbox; `ghosteam operator --local` applies it) or in a cluster
 * (--kubeconfig: the `ghosteam.io/rollout` annotation, what `kubectl annotate` does). The operator
 * records the action in the Model's status; promote and abort act on the canary in progress.
 *
 *   ghosteam rollout pause fraud
 *   ghosteam rollout promote fraud -n ml --kubeconfig ~/.kube/config
 */
import type { Command } from 'commander';
import { intArg, localStateDir } from '../args.ts';

interface RolloutFlags {
  stateDir: string;
  kubeconfig?: string;
  namespace?: string;
  wait: string;
}

export function register(program: Command): void {
  program
    .command('rollout')
    .description("Pause, resume, promote or abort a Model's canary rollout (local operator, or a cluster with --kubeconfig)")
    .argument('<action>', 'pause | resume | promote | abort')
    .argument('<model>', 'the Model name, e.g. fraud')
    .option('--state-dir <dir>', "the local operator's state directory", '.ghosteam/state')
    .option('--kubeconfig <file>', 'act in this cluster instead of the local operator')
    .option('-n, --namespace <ns>', "the Model's namespace (default: the one namespace holding a Model of that name, else default)")
    .option('--wait <seconds>', 'local operator: wait this long for it to apply the action (0: do not wait)', '10')
    .action(async (action: string, model: string, f: RolloutFlags) => {
      const { rolloutAction, ROLLOUT_ACTIONS } = await import('../../controllers/actions.ts');
      if (!(ROLLOUT_ACTIONS as readonly string[]).includes(action))
        throw new Error(`'${action}' is not a rollout action; use one of ${ROLLOUT_ACTIONS.join(', ')} (e.g. ghosteam rollout promote ${model})`);
      const waitSec = intArg('--wait', f.wait, 0);
      if (f.kubeconfig) {
        const { KubeStore, loadKubeConfig } = await import('../../controllers/runtime/kube-store.ts');
        const out = await rolloutAction({ store: new KubeStore(loadKubeConfig(f.kubeconfig)) }, f.namespace ?? 'default', model, action, 'cli');
        process.stdout.write(`${out.message}\n`);
        return;
      }
      const stateDir = localStateDir(f.stateDir);
      const { readStateObjects, inboxOutcome } = await import('../../controllers/runtime/inbox.ts');
      let ns = f.namespace;
      if (ns === undefined) {
        const holders = [
          ...new Set(
            readStateObjects(stateDir, 'Model')
              .filter((m) => m.metadata.name === model)
              .map((m) => m.metadata.namespace ?? 'default'),
          ),
        ];
        if (holders.length > 1) throw new Error(`Models named ${model} are in namespaces ${holders.join(', ')}; pick one with -n`);
        ns = holders[0] ?? 'default';
      }
      const out = await rolloutAction({ stateDir }, ns, model, action, 'cli');
      process.stdout.write(`${out.message}\n`);
      if (waitSec === 0 || !out.inboxEntry) return;
      const end = Date.now() + waitSec * 1000;
      while (Date.now() < end) {
        const done = inboxOutcome(stateDir, out.inboxEntry);
        if (done) {
          if (done.refused.length) throw new Error(`the local operator refused it: ${done.refused.join('; ')}`);
          process.stdout.write(`applied: ${done.applied.join(', ')}\n`);
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      process.stdout.write(`the local operator has not taken it within ${waitSec}s (is \`ghosteam operator --local\` running?); it applies it when it runs\n`);
    });
}
