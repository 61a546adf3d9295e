/**
 * PipelineBackend over the local pipeline engine (pipelines/local): a submission runs the
 * pipeline in this process with the TrainingRun's name as the run id; its record on disk
 * (`<storeDir>/runs/<id>/record.json`) is how it is observed, also after a restart.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { PipelineSpec } from '../../pipelines/spec.ts';
import { gateOfNodes } from '../../pipelines/local/outcome.ts';
import type { RunOptions, RunRecord } from '../../pipelines/local/types.ts';
import type { WorkflowObserved, WorkflowSubmission } from '../planners/training-run.ts';
import type { PipelineBackend } from './types.ts';
import type { Logger } from '../runtime/log.ts';
import { type K8sObject, REASON_LABEL } from '../../api/objects.ts';
import { clean } from '../../api/json.ts';
import { classifyFailure, type FailureClass } from '../../api/failure.ts';

/** A node's stored artifact file. */
function artifactPath(storeDir: string, digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return join(storeDir, 'store', 'sha256', hex.slice(0, 2), hex);
}

/** True when the file starts like an ONNX ModelProto (field 1, ir_version, a varint) rather than JSON or text. */
export function looksLikeOnnx(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const b = Buffer.alloc(1);
    return readSync(fd, b, 0, 1, 0) === 1 && b[0] === 0x08;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The ONNX model a run produced: an output named 'onnx' (export-onnx's), else a 'model' output that is
 * an ONNX file. A train step's own 'model' (TensorFlow.js JSON) is never taken for it.
 */
export function onnxArtifactOf(
  nodes: readonly { state?: string; outputs?: Record<string, { digest?: string } | undefined> }[],
  storeDir: string,
): string | undefined {
  for (const name of ['onnx', 'model']) {
    for (const n of nodes) {
      const a = n.outputs?.[name];
      if (!a?.digest || n.state === 'Skipped') continue;
      const file = artifactPath(storeDir, a.digest);
      if (looksLikeOnnx(file)) return file;
    }
  }
  return undefined;
}

/** A pipeline the local operator may run: its IR, its spec hash, and the directory it runs in (the app's checkout). */
export type LocalPipeline = PipelineSpec & { readonly specHash?: string; readonly cwd?: string };

export type RunPipeline = (spec: PipelineSpec, opts: RunOptions) => Promise<RunRecord>;

export interface LocalPipelinesOptions {
  /** Pipelines by name (what `ghosteam synth` would emit as WorkflowTemplates). */
  readonly pipelines: () => ReadonlyMap<string, LocalPipeline>;
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
  private readonly failedToStart = new Map<string, { message: string; failure: FailureClass }>();
  constructor(private readonly o: LocalPipelinesOptions) {}

  async templateExists(_ns: string, pipeline: string): Promise<boolean> {
    return this.o.pipelines().has(pipeline);
  }

  async specHash(_ns: string, pipeline: string): Promise<string | undefined> {
    return this.o.pipelines().get(pipeline)?.specHash;
  }

  /** The engine's store directory (absolute). */
  private storeRoot(): string {
    return resolve(this.o.cwd ?? process.cwd(), this.o.storeDir ?? '.ghosteam');
  }

  private async record(id: string): Promise<RunRecord | undefined> {
    const file = join(this.storeRoot(), 'runs', id, 'record.json');
    try {
      return JSON.parse(await readFile(file, 'utf8')) as RunRecord;
    } catch {
      return undefined;
    }
  }

  async observe(_ns: string, name: string): Promise<WorkflowObserved | undefined> {
    const rec = await this.record(name);
    const startError = this.failedToStart.get(name);
    if (!rec && startError !== undefined)
      return { phase: 'Error', message: `the local run could not start: ${startError.message}`, failure: startError.failure };
    if (!rec) return this.running.has(name) ? { phase: 'Pending' } : undefined;
    const live = this.running.has(name);
    const phase = rec.status === 'Running' && !live ? 'Error' : rec.status === 'Cancelled' ? 'Failed' : rec.status;
    const storeDir = this.storeRoot();
    const nodes = (rec.order ?? Object.keys(rec.nodes ?? {})).map((id) => rec.nodes[id]).filter((n) => n !== undefined);
    const model = onnxArtifactOf(nodes, storeDir);
    const interrupted = rec.status === 'Running' && !live;
    // The first failed node's own message says what went wrong; the record's only names the nodes.
    const firstBad = rec.status === 'Failed' ? nodes.find((n) => (n.state === 'Failed' || n.state === 'Error') && !n.children && n.message) : undefined;
    return clean<WorkflowObserved>({
      phase,
      message: interrupted ? 'the local run was interrupted (operator restarted)' : firstBad ? `${rec.message}: ${firstBad.message}` : rec.message,
      failure: interrupted
        ? { terminal: false, reason: 'Killed' }
        : rec.status === 'Failed' && rec.reason
          ? { terminal: rec.terminal === true, reason: rec.reason }
          : undefined,
      startedAt: rec.startedAt,
      finishedAt: rec.finishedAt,
      modelSource: model,
      gate: gateOfNodes(nodes),
    });
  }

  async submit(w: WorkflowSubmission, owner: K8sObject): Promise<'created' | 'unchanged'> {
    if (this.running.has(w.name) || this.failedToStart.has(w.name) || (await this.record(w.name))) return 'unchanged';
    const spec = this.o.pipelines().get(w.template);
    if (!spec) throw new Error(`pipeline ${w.template} is not loaded in the local operator`);
    const reason = w.labels?.[REASON_LABEL];
    const gitCommit = (owner.spec as { gitCommit?: string } | undefined)?.gitCommit;
    const cwd = spec.cwd ?? this.o.cwd;
    const p = this.o
      .run(spec, {
        params: w.parameters,
        runId: w.name,
        ...(reason ? { reason } : {}),
        ...(gitCommit ? { gitCommit } : {}),
        ...(this.o.storeDir ? { storeDir: this.o.storeDir } : {}),
        ...(cwd ? { cwd } : {}),
      })
      .catch((e) => {
        // No record was written: remembered here, so the run reads as failed instead of being resubmitted forever.
        this.failedToStart.set(w.name, { message: (e as Error).message, failure: classifyFailure(e) });
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
