/**
 * The two places `ghosteam watch` sends a commit:
 *  - `localRuntime`: the embedded default. Objects are kept under the state directory; retraining
 *    runs the pipeline on this machine with the local engine (`ghosteam run`, in a worktree of the
 *    commit, as a child process so that every commit's code loads fresh). A version the pipeline
 *    registers (which it only does past its quality gate) counts as promoted and is written back.
 *  - `clusterRuntime` (`--apply`): server-side apply of every object to the current kubeconfig's
 *    cluster (field manager 'ghosteam-watch'), and a `TrainingRun` (reason git-change) per changed
 *    pipeline. The operator runs it, rolls the canary out and promotes; nothing is written back here.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { stringify } from 'yaml';
import { PACKAGE_ROOT as ownRoot } from '../api/own-files.ts';
import { withWorktree } from './synth-at.ts';
import type { RetrainStart } from './retrain.ts';
import type { Promotion, RetrainContext, WatchRuntime } from './watch.ts';
import { type K8sObject, PIPELINE_LABEL, REASON_LABEL, SOURCE_COMMIT_ANNOTATION, SPEC_HASH_ANNOTATION } from '../api/objects.ts';


/** The registered model a pipeline's register task names (its `name` argument), from the synthesized WorkflowTemplate. */
export function registeredModelOf(objects: readonly K8sObject[], pipeline: string, namespace?: string): string | undefined {
  const wt = objects.find((o) => o.kind === 'WorkflowTemplate' && o.metadata.name === pipeline && (namespace === undefined || o.metadata.namespace === namespace));
  const templates = ((wt?.spec as { templates?: { dag?: { tasks?: { name: string; template?: string; arguments?: { parameters?: { name: string; value?: string }[] } }[] } }[] })?.templates ?? []);
  for (const t of templates) {
    for (const task of t.dag?.tasks ?? []) {
      if (task.template !== 'register' && task.name !== 'register') continue;
      const name = task.arguments?.parameters?.find((p) => p.name === 'name')?.value;
      if (name && !name.includes('{{')) return name;
    }
  }
  return undefined;
}

/**
 * @param o.workdir where the pipeline runs (relative data paths resolve against it); by default the
 *   worktree of the commit, so data must be in the repository or be absolute paths/URLs.
 */
export function localRuntime(o: { stateDir: string; workdir?: string; log?: (line: string) => void }): WatchRuntime {
  const registryDir = join(o.stateDir, 'registry');
  return {
    name: `the local engine (${o.stateDir})`,
    async apply(objects, commit) {
      await mkdir(join(o.stateDir, 'applied'), { recursive: true });
      const yaml = objects.map((x) => stringify(x, { lineWidth: 0 })).join('---\n');
      await writeFileAtomic(join(o.stateDir, 'applied', 'current.yaml'), `# ghosteam watch: synthesized from ${commit}\n${yaml}`);
    },
    async retrain(start: RetrainStart, ctx: RetrainContext): Promise<Promotion | undefined> {
      const model = registeredModelOf(ctx.objects, start.pipeline, start.namespace);
      const { openRegistry } = await import('../components/registry/index.ts');
      const registry = openRegistry({ dir: registryDir });
      const before = model ? ((await registry.listModels()).find((m) => m.name === model)?.latestVersion ?? undefined) : undefined;
      const ok = await withWorktree(ctx.repoDir, ctx.commit, async (tree) => {
        let stderr = '';
        const code = await new Promise<number>((res) => {
          const child = execFile(
            process.execPath,
            [join(ownRoot, 'bin', 'ghosteam.mjs'), 'run', join(tree, ctx.app), '--pipeline', start.pipeline, '--store-dir', join(resolve(o.stateDir), 'engine')],
            { cwd: o.workdir ? resolve(o.workdir) : tree, env: { ...process.env, GHOSTEAM_REGISTRY_DIR: resolve(registryDir), MLFLOW_TRACKING_URI: '' }, maxBuffer: 64 * 1024 * 1024 },
            (err) => res(err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0),
          );
          child.stdout?.on('data', (d: Buffer) => o.log?.(d.toString().trimEnd()));
          child.stderr?.on('data', (d: Buffer) => {
            stderr = (stderr + d.toString()).slice(-4000);
          });
        });
        if (code !== 0) {
          const last = stderr.trim().split('\n').slice(-3).join(' | ');
          o.log?.(`${start.pipeline}: the training run failed (exit ${code})${last ? `: ${last}` : ''}; see the run record under ${join(o.stateDir, 'engine')}`);
          return false;
        }
        return true;
      });
      if (!ok || !model) return undefined;
      const versions = await registry.listVersions(model).catch(() => []);
      const latest = versions.reduce<(typeof versions)[number] | undefined>((a, v) => (!a || v.version > a.version ? v : a), undefined);
      if (!latest || latest.version === before) return undefined; // the gate held the model back
      return { model, version: latest.version, ...(before !== undefined ? { previous: before } : {}), metrics: { ...latest.metrics }, reason: 'git-change' };
    },
  };
}

/** @param o.kubeconfig a kubeconfig file; default: KUBECONFIG, ~/.kube/config or in-cluster. */
export async function clusterRuntime(o: { kubeconfig?: string; namespace?: string; log?: (line: string) => void }): Promise<WatchRuntime> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
  else kc.loadFromDefault();
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  const apply = async (obj: K8sObject) => {
    await api.patch(obj as never, undefined, undefined, 'ghosteam-watch', true, k8s.PatchStrategy.ServerSideApply);
  };
  return {
    name: `cluster ${kc.getCurrentCluster()?.server ?? '(current context)'}`,
    async apply(objects) {
      // CRDs first, then the rest in sync-wave order, as Argo CD would.
      const { applySyncWaves } = await import('../api/sync-waves.ts');
      const waved = applySyncWaves(objects).sort((a, b) => Number(a.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0) - Number(b.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0));
      for (const obj of waved) await apply(obj);
    },
    async retrain(start, ctx) {
      const model = registeredModelOf(ctx.objects, start.pipeline, start.namespace);
      const namespace = start.namespace ?? o.namespace ?? 'default';
      const name = `${start.pipeline}-${start.hash.replace(/^sha256:/, '').slice(0, 10)}`.slice(0, 63);
      await apply({
        apiVersion: 'ghosteam.io/v1alpha1',
        kind: 'TrainingRun',
        metadata: { name, namespace, labels: { [PIPELINE_LABEL]: start.pipeline, [REASON_LABEL]: 'git-change' }, annotations: { [SOURCE_COMMIT_ANNOTATION]: start.commit, [SPEC_HASH_ANNOTATION]: start.hash } },
        spec: { pipeline: start.pipeline, reason: 'git-change', specHash: start.hash, gitCommit: start.commit, ...(model ? { model } : {}) },
      } as K8sObject);
      o.log?.(`TrainingRun ${namespace}/${name} created (git-change); the operator runs and promotes it`);
      return undefined;
    },
  };
}
