/**
 * PipelineBackend over the local pipeline engine (pipelines/local): a submission runs the
 * pipeline in this process with the TrainingRun's name as the run id; its record on disk
 * (`<storeDir>/runs/<id>/record.json`) is how it is observed, also after a restart.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PipelineSpec } from '../../pipelines/spec.ts';
import type { RunOptions, RunRecord } from '../../pipelines/local/types.ts';
import type { WorkflowObserved, WorkflowSubmission } from '../planners/training-run.ts';
import type { PipelineBackend } from './types.ts';
import type { Logger } from '../runtime/log.ts';
import { type K8sObject, REASON_LABEL } from '../../api/objects.ts';
import { clean } from '../../api/json.ts';

export type RunPipeline = (spec: PipelineSpec, opts: RunOptions) => Promise<RunRecord>;

export interface LocalPipelinesOptions {
  /** Pipelines by name (what `ghosteam synth` would emit as WorkflowTemplates). */
  readonly pipelines: () => ReadonlyMap<string, PipelineSpec & { specHash?: string }>;
  readonly run: RunPipeline;
  /** @default '.ghosteam' */
  readonly storeDir?: string;
  readonly cwd?: string;
  readonly log: Logger;
  /** Called when a run ends, so the owner is reconciled at once. */
  readonly onFinished?: (namespace: string, name: string) => void;
}

export class LocalPipelineBackend implements PipelineBackend {
  private readonly running = new Map<string, Promise<RunRecord | undefined>>();
  constructor(private readonly o: LocalPipelinesOptions) {}

  async templateExists(_ns: string, pipeline: string): Promise<boolean> {
    return this.o.pipelines().has(pipeline);
  }

  async specHash(_ns: string, pipeline: string): Promise<string | undefined> {
    return this.o.pipelines().get(pipeline)?.specHash;
  }

  private async record(id: string): Promise<RunRecord | undefined> {
    const file = join(this.o.cwd ?? process.cwd(), this.o.storeDir ?? '.ghosteam', 'runs', id, 'record.json');
    try {
      return JSON.parse(await readFile(file, 'utf8')) as RunRecord;
    } catch {
      return undefined;
    }
  }

  async observe(_ns: string, name: string): Promise<WorkflowObserved | undefined> {
    const rec = await this.record(name);
    if (!rec) return this.running.has(name) ? { phase: 'Pending' } : undefined;
    const live = this.running.has(name);
    const phase = rec.status === 'Running' && !live ? 'Error' : rec.status === 'Cancelled' ? 'Failed' : rec.status;
    const model = Object.values(rec.nodes ?? {}).map((n) => n.outputs?.model).find((a) => a && a.digest);
    const storeDir = join(this.o.cwd ?? process.cwd(), this.o.storeDir ?? '.ghosteam');
    return clean<WorkflowObserved>({
      phase,
      message: rec.status === 'Running' && !live ? 'the local run was interrupted (operator restarted)' : rec.message,
      startedAt: rec.startedAt, finishedAt: rec.finishedAt,
      modelSource: model ? join(storeDir, 'store', 'sha256', model.digest.replace(/^sha256:/, '').slice(0, 2), model.digest.replace(/^sha256:/, '')) : undefined,
    });
  }

  async submit(w: WorkflowSubmission, _owner: K8sObject): Promise<'created' | 'unchanged'> {
    if (this.running.has(w.name) || (await this.record(w.name))) return 'unchanged';
    const spec = this.o.pipelines().get(w.template);
    if (!spec) throw new Error(`pipeline ${w.template} is not loaded in the local operator`);
    const reason = w.labels?.[REASON_LABEL];
    const p = this.o.run(spec, { params: w.parameters, runId: w.name, ...(reason ? { reason } : {}), ...(this.o.storeDir ? { storeDir: this.o.storeDir } : {}), ...(this.o.cwd ? { cwd: this.o.cwd } : {}) })
      .catch((e) => {
        this.o.log.error(`local run ${w.name} failed to start: ${(e as Error).message}`);
        return undefined;
      })
      .finally(() => {
        this.running.delete(w.name);
        this.o.onFinished?.(w.namespace, w.name);
      });
    this.running.set(w.name, p);
    return 'created';
  }

  /** Resolves when every run started by this backend has ended. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }
}
