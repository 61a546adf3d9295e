/**
 * Worker side of worker-model.ts: a batch prediction's model runs here, so onnxruntime's
 * synchronous `run` blocks this thread and not the one reading the input and writing the output;
 * the input digest is computed here too (a worker of its own), off the main thread.
 */
import { parentPort } from 'node:worker_threads';
import type { OrtModel } from '../model-server/models.ts';
import { RequestError } from '../model-server/tensors.ts';
import type { WorkerReply, WorkerRequest } from './worker-model.ts';

let model: OrtModel | undefined;
// One request at a time, in order (a run's reply never overtakes an earlier one's).
let queue: Promise<void> = Promise.resolve();

function reply(m: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(m, transfer);
}

function failure(id: number, e: unknown): WorkerReply {
  return { id, error: (e as Error).message ?? String(e), status: e instanceof RequestError ? e.status : undefined };
}

async function handle(m: WorkerRequest): Promise<void> {
  try {
    switch (m.type) {
      case 'load': {
        // Imported here: a digest worker needs neither onnxruntime nor the graph code.
        const { loadOrtModel } = await import('../model-server/models.ts');
        // No spinning between runs: the gaps are the reader's and writer's time on the same cores
        // (measured: 0.3–0.5 CPU s less per 1M rows of bench:batch, the same wall time or better).
        model = await loadOrtModel(m.path, { intraOpThreads: m.threads, spinning: false });
        return reply({ id: m.id, inputs: model.inputs, outputs: model.outputs });
      }
      case 'run': {
        if (!model) throw new Error('no model loaded in this worker');
        const out = await model.run(m.feeds);
        // Buffers the main thread moved here go back with the answer, for its next batches (no fresh
        // pages to fault in and zero, no garbage). Copies (a payload-logged run) are not sent back.
        const back = m.recycle ? m.feeds.filter((f) => !Array.isArray(f.typed) && f.typed.buffer instanceof ArrayBuffer && f.typed.buffer.byteLength > 0) : [];
        const buffers = [...new Set(back.map((f) => (f.typed as Float32Array).buffer as ArrayBuffer))];
        return reply({ id: m.id, out, ...(buffers.length ? { buffers } : {}) }, buffers);
      }
      case 'digest':
        return reply({ id: m.id, digest: await (await import('../registry/local.ts')).sha256File(m.path) });
      case 'release':
        await model?.release();
        model = undefined;
        return reply({ id: m.id });
    }
  } catch (e) {
    reply(failure(m.id, e));
  }
}

parentPort!.on('message', (m: WorkerRequest) => {
  queue = queue.then(() => handle(m));
});
