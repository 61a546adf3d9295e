/**
 * `ghosteam watch`'s embedded default runtime (gitops/watch.ts `WatchRuntime`): the local operator
 * (`ghosteam operator --local`) over its state directory. Each commit's ghosteam objects and its
 * checkout go to the operator's inbox (controllers/runtime/inbox.ts); a retrain is a TrainingRun
 * there, and watch waits for it to end. The operator trains, registers, canaries, promotes and
 * writes the pin back (with --git-repo); watch never pins.
 */
import { join, resolve } from 'node:path';
import type { TrainingRunStatus } from '../api/crds/types.ts';
import { PIPELINE_LABEL, REASON_LABEL, SOURCE_COMMIT_ANNOTATION, SPEC_HASH_ANNOTATION, type K8sObject } from '../api/objects.ts';
import type { RetrainStart } from '../gitops/retrain.ts';
import { registeredModelOf } from '../gitops/runtimes.ts';
import type { RetrainContext, RetrainOutcome, WatchRuntime } from '../gitops/watch.ts';
import { gitChangeRunName } from './planners/training-run.ts';
import { inboxOutcome, readStateObjects, writeInboxEntry } from './runtime/inbox.ts';

/** The objects the local operator keeps: ghosteam's own kinds (Argo and KServe objects are a cluster's). */
export function operatorObjects(objects: readonly K8sObject[]): K8sObject[] {
  return objects.filter((o) => o.apiVersion === 'ghosteam.io/v1alpha1' && ['Model', 'DriftMonitor', 'TrainingRun'].includes(o.kind));
}

/** The TrainingRun watch asks for (pure): named by pipeline and spec hash, with the attempt after the first. */
export function gitChangeTrainingRun(start: RetrainStart, model: string | undefined, attempt = 1): K8sObject {
  const base = gitChangeRunName(start.pipeline, start.hash);
  const name = attempt > 1 ? `${base.slice(0, 60 - String(attempt).length)}-r${attempt}` : base;
  return {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'TrainingRun',
    metadata: {
      name,
      namespace: start.namespace ?? 'default',
      labels: { [PIPELINE_LABEL]: start.pipeline, [REASON_LABEL]: 'git-change' },
      annotations: { [SOURCE_COMMIT_ANNOTATION]: start.commit, [SPEC_HASH_ANNOTATION]: start.hash },
    },
    spec: { pipeline: start.pipeline, reason: 'git-change', specHash: start.hash, gitCommit: start.commit, ...(model ? { model } : {}) },
  };
}

/**
 * The embedded default: the local operator (`ghosteam operator --local`) over the state directory
 * `o.stateDir`. Each commit's ghosteam objects and its checkout go to the operator's inbox; a retrain
 * is a TrainingRun there, and watch waits for it to end (the operator trains, registers, canaries,
 * promotes and writes the pin back).
 */
export function localRuntime(o: { stateDir: string; log?: (line: string) => void; signal?: AbortSignal; pollMs?: number; hintMs?: number }): WatchRuntime {
  const stateDir = resolve(o.stateDir);
  const sleep = (ms: number) =>
    new Promise<void>((res) => {
      const t = setTimeout(() => {
        o.signal?.removeEventListener('abort', done);
        res();
      }, ms);
      const done = () => {
        clearTimeout(t);
        res();
      };
      o.signal?.addEventListener('abort', done, { once: true });
    });
  return {
    name: `the local operator (${stateDir})`,
    async apply(objects, commit, ctx) {
      const app = ctx?.tree && ctx.app ? { file: join(ctx.tree, ctx.app), tree: ctx.tree, commit } : undefined;
      await writeInboxEntry(stateDir, { source: 'watch', commit, ...(app ? { app } : {}), objects: operatorObjects(objects) });
    },
    async retrain(start: RetrainStart, ctx: RetrainContext): Promise<RetrainOutcome> {
      const run = gitChangeTrainingRun(start, registeredModelOf(ctx.objects, start.pipeline, start.namespace), ctx.attempt ?? 1);
      const ns = run.metadata.namespace as string;
      const id = await writeInboxEntry(stateDir, { source: 'watch', commit: start.commit, objects: [run] });
      o.log?.(`TrainingRun ${ns}/${run.metadata.name} handed to ${`the local operator (${stateDir})`}; waiting for it to end`);
      const began = Date.now();
      let hinted = began;
      for (;;) {
        if (o.signal?.aborted) throw new Error(`stopped while waiting for TrainingRun ${ns}/${run.metadata.name}`);
        const cur = readStateObjects(stateDir, 'TrainingRun', ns).find((x) => x.metadata.name === run.metadata.name);
        const st = cur?.status as TrainingRunStatus | undefined;
        if (st?.phase === 'Succeeded') {
          if (st.gate?.passed === false) return { kind: 'rejected', run: run.metadata.name, reasons: st.gate.reasons };
          return {
            kind: 'registered',
            run: run.metadata.name,
            ...((run.spec as { model?: string }).model ? { model: (run.spec as { model: string }).model } : {}),
            ...(st.registeredVersion !== undefined ? { version: st.registeredVersion } : {}),
          };
        }
        if (st?.phase === 'Failed')
          return {
            kind: 'failed',
            run: run.metadata.name,
            message: st.message ?? 'no message',
            ...(st.terminal ? { terminal: true } : {}),
            ...(st.failureReason ? { reason: st.failureReason } : {}),
          };
        if (Date.now() - hinted > (o.hintMs ?? 30_000)) {
          hinted = Date.now();
          o.log?.(
            inboxOutcome(stateDir, id)
              ? `TrainingRun ${ns}/${run.metadata.name} is ${st?.phase ?? 'Pending'} (${Math.round((Date.now() - began) / 1000)} s)`
              : `the local operator has not picked up TrainingRun ${ns}/${run.metadata.name} yet: is \`ghosteam operator --local --state-dir ${stateDir}\` running?`,
          );
        }
        await sleep(o.pollMs ?? 1000);
      }
    },
  };
}
