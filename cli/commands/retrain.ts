/**
 * `ghosteam retrain <pipeline>`: starts one TrainingRun of a pipeline with reason `manual` — in the
 * local operator's state (through its inbox: `ghosteam operator --local` runs it) or in a cluster
 * (--kubeconfig). The operator trains, registers past the gate and canaries the new version.
 *
 *   ghosteam retrain fraud-train -n fraud --param epochs=20
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { SPEC_HASH_ANNOTATION, type K8sObject } from '../../api/objects.ts';

interface RetrainFlags {
  stateDir: string;
  kubeconfig?: string;
  namespace?: string;
  model?: string;
  param?: string[];
}

/** The manual TrainingRun (pure): named by pipeline and time, so two retrains never collide. */
export function manualTrainingRun(pipeline: string, namespace: string, now: Date, params: Record<string, string>, specHash: string, model?: string): K8sObject {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(pipeline))
    throw new Error(`'${pipeline}' is not a pipeline name (lowercase letters, digits and '-'); \`ghosteam status\` lists the TrainingRuns and their pipelines`);
  const stamp = now
    .toISOString()
    .replace(/[-:TZ.]/g, '')
    .slice(0, 14);
  return {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name: `${pipeline.slice(0, 40)}-manual-${stamp}`, namespace, labels: { 'ghosteam.io/pipeline': pipeline, 'ghosteam.io/reason': 'manual' } },
    spec: { pipeline, reason: 'manual', specHash, ...(Object.keys(params).length ? { params } : {}), ...(model ? { model } : {}) },
  };
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
      if (f.kubeconfig) {
        const { KubeStore, loadKubeConfig } = await import('../../controllers/runtime/kube-store.ts');
        const { TYPES } = await import('../../controllers/runtime/store.ts');
        const store = new KubeStore(loadKubeConfig(f.kubeconfig));
        const ns = f.namespace ?? 'default';
        const wt = await store.get(TYPES.WorkflowTemplate, ns, pipeline);
        const hash = wt?.metadata.annotations?.[SPEC_HASH_ANNOTATION];
        if (!hash)
          throw new Error(
            `WorkflowTemplate ${ns}/${pipeline} ${wt ? 'has no ghosteam.io/spec-hash annotation' : 'does not exist'}; sync the app first (Argo CD or \`ghosteam watch --apply\`), or pass -n with the pipeline's namespace`,
          );
        const run = manualTrainingRun(pipeline, ns, new Date(), params, hash, f.model);
        await store.create(TYPES.TrainingRun, run);
        process.stdout.write(`TrainingRun ${run.metadata.namespace}/${run.metadata.name} created (manual)\n`);
        return;
      }
      const { existsSync } = await import('node:fs');
      const stateDir = resolve(f.stateDir);
      if (!existsSync(stateDir))
        throw new Error(
          `--state-dir ${f.stateDir}: no local operator state here; start one with \`ghosteam operator --local\` or pass --kubeconfig for a cluster`,
        );
      const { readStateObjects, writeInboxEntry } = await import('../../controllers/runtime/inbox.ts');
      const earlier = readStateObjects(stateDir, 'TrainingRun').filter((r) => (r.spec as { pipeline?: string }).pipeline === pipeline);
      const namespace = f.namespace ?? earlier[0]?.metadata.namespace ?? 'default';
      const model = f.model ?? (earlier.find((r) => (r.spec as { model?: string }).model)?.spec as { model?: string } | undefined)?.model;
      // The pipeline as the operator last got it: the spec hash of its newest TrainingRun.
      const newest = [...earlier].sort((a, b) => String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')))[0];
      const hash = (newest?.spec as { specHash?: string } | undefined)?.specHash;
      if (!hash)
        throw new Error(
          `the local operator in ${stateDir} has never run pipeline ${pipeline}; let \`ghosteam watch\` apply the app first (\`ghosteam status\` lists the TrainingRuns)`,
        );
      const run = manualTrainingRun(pipeline, namespace, new Date(), params, hash, model);
      await writeInboxEntry(stateDir, { source: 'retrain', objects: [run] });
      process.stdout.write(
        `TrainingRun ${namespace}/${run.metadata.name} (manual) handed to the local operator in ${stateDir}; \`ghosteam status\` shows it\n`,
      );
    });
}
