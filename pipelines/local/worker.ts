/**
 * Runs one catalog component in a worker thread (see executor.ts `isolation: 'worker'`), so a
 * CPU-bound step (training) runs in parallel with others and never blocks the engine: progress
 * keeps redrawing, and a cancel or timeout can always stop it (the engine terminates the worker if
 * the component ignores its AbortSignal).
 *
 * Messages to the engine: {type:'log',line} {type:'progress',event} {type:'done',outputParams}
 * {type:'error',message}. From the engine: {type:'abort',reason}.
 * An epoch's progress (an event with `epoch`) waits for the engine's answer through `progressGate`
 * (shared memory: [answers, stop]), so a stop decided on that epoch — a sweep's rung or its epoch
 * budget — takes effect before the component trains the next one; a message would arrive an epoch
 * late. The wait is bounded (PROGRESS_GATE_MS): an engine that does not answer only slows it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Component, ComponentContext, ParamValue } from '../../components/component.ts';
import { classifyFailure } from '../../api/failure.ts';

export interface WorkerInput {
  readonly catalog: string;
  readonly component: string;
  readonly params: Record<string, ParamValue>;
  readonly inputs: Record<string, string>;
  readonly outputs: Record<string, string>;
  readonly workDir: string;
  readonly allowedOutputParams: string[];
  /** Int32 [answers, stop] the engine writes after each epoch's progress event. */
  readonly progressGate?: SharedArrayBuffer;
}

/** The longest an epoch's progress waits for the engine's answer. */
const PROGRESS_GATE_MS = 10_000;

const port = parentPort!;
const w = workerData as WorkerInput;
const ctl = new AbortController();
const gate = w.progressGate ? new Int32Array(w.progressGate) : undefined;
port.on('message', (m: { type: string; reason?: string }) => {
  if (m.type === 'abort') ctl.abort(new Error(m.reason ?? 'aborted'));
});
try {
  const mod = (await import(w.catalog)) as { getComponent(n: string): Component | undefined };
  const c = mod.getComponent(w.component);
  if (!c) throw new Error(`component '${w.component}' is not in the component catalog`);
  const outputParams: Record<string, ParamValue> = {};
  const allowed = new Set(w.allowedOutputParams);
  const ctx: ComponentContext = {
    params: w.params,
    inputs: w.inputs,
    outputs: w.outputs,
    workDir: w.workDir,
    signal: ctl.signal,
    log: (line) => port.postMessage({ type: 'log', line: String(line) }),
    progress: (event) => {
      if (!gate || typeof event.epoch !== 'number') return void port.postMessage({ type: 'progress', event });
      const answered = Atomics.load(gate, 0);
      port.postMessage({ type: 'progress', event });
      Atomics.wait(gate, 0, answered, PROGRESS_GATE_MS);
      if (Atomics.load(gate, 1) === 1) ctl.abort(new Error('stopped by the engine'));
    },
    setOutput: (name, value) => {
      if (!allowed.has(name)) throw new Error(`output parameter '${name}' is not declared (declared: ${[...allowed].join(', ') || 'none'})`);
      outputParams[name] = value;
    },
  };
  await c.run(ctx);
  port.postMessage({ type: 'done', outputParams });
} catch (e) {
  const f = classifyFailure(e);
  port.postMessage({ type: 'error', message: (e as Error)?.message ?? String(e), terminal: f.terminal, reason: f.reason });
}
port.close();
