/**
 * How a run looks in a terminal: a live view with one line per task (state, elapsed time, and for a
 * training task a bar of epochs with the loss), redrawn in place on a TTY; nothing but a summary
 * when output is not a TTY; or a JSON event per line (`--json`). Also the failure report: each
 * failed task's path, its error, and the last lines of its log.
 */
import { gateNote } from './outcome.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pc from 'picocolors';
import { RunStore } from './store.ts';
import type { EngineEvent, NodeState, RunRecord } from './types.ts';

export type ReporterMode = 'tty' | 'quiet' | 'json';

export interface Reporter {
  onEvent(e: EngineEvent): void;
  /** Stops redrawing; call once the run has ended. */
  stop(): void;
}

interface View {
  state: NodeState;
  startedAt?: number;
  endedAt?: number;
  attempt?: number;
  cached?: boolean;
  resumed?: boolean;
  epoch?: number;
  epochs?: number;
  loss?: number;
  fraction?: number;
  note?: string;
}

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

export function bar(fraction: number, width = 20): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

function icon(s: NodeState, tick: number): string {
  switch (s) {
    case 'Pending':
      return pc.dim('·');
    case 'Running':
      return pc.cyan(SPIN[tick % SPIN.length]);
    case 'Succeeded':
      return pc.green('✓');
    case 'Skipped':
      return pc.dim('○');
    case 'Omitted':
      return pc.dim('-');
    case 'Cancelled':
      return pc.yellow('■');
    default:
      return pc.red('✗');
  }
}

/** One task's line (exported for tests). */
export function renderLine(id: string, v: View, width: number, now: number, tick = 0): string {
  const elapsed = v.startedAt !== undefined ? formatDuration((v.endedAt ?? now) - v.startedAt) : '';
  let tail = '';
  if (v.state === 'Running' && v.epochs) {
    const e = v.epoch ?? 0;
    tail = `${bar(e / v.epochs)} epoch ${e}/${v.epochs}${v.loss !== undefined ? ` loss ${v.loss.toFixed(4)}` : ''}`;
  } else if (v.state === 'Running' && v.fraction !== undefined) {
    tail = `${bar(v.fraction)} ${Math.round(v.fraction * 100)}%`;
  } else if (v.cached) tail = pc.dim('cached');
  else if (v.resumed) tail = pc.dim('done in resumed run');
  else if (v.note) tail = pc.dim(v.note);
  if (v.state === 'Running' && v.attempt && v.attempt > 1) tail = `${pc.yellow(`attempt ${v.attempt}`)} ${tail}`;
  return `  ${icon(v.state, tick)} ${id.padEnd(width)}  ${v.state.padEnd(9)} ${elapsed.padStart(7)}  ${tail}`.trimEnd();
}

export function createReporter(mode: ReporterMode, out: NodeJS.WriteStream = process.stdout): Reporter {
  if (mode === 'json') {
    return { onEvent: (e) => out.write(JSON.stringify(e) + '\n'), stop: () => {} };
  }
  if (mode === 'quiet') {
    return {
      onEvent: (e) => {
        if (e.type === 'run-end') {
          const note = gateNote(e.gate);
          out.write(`run ${e.runId} ${e.status} in ${formatDuration(e.durationMs)}${note ? `, but ${note}` : ''}\n`);
        }
      },
      stop: () => {},
    };
  }
  const views = new Map<string, View>();
  const order: string[] = [];
  let header = '';
  let drawn = 0;
  let tick = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = (final = false): void => {
    const rows = (out.rows || 40) - 2;
    const width = Math.min(32, Math.max(8, ...order.map((id) => id.length)));
    const now = Date.now();
    let ids = order;
    let summary = '';
    if (order.length + 1 > rows) {
      // Too many to show: the unfinished ones, and a count of the rest.
      const done = order.filter((id) => !['Running', 'Pending'].includes(views.get(id)!.state));
      ids = order.filter((id) => views.get(id)!.state === 'Running').slice(0, rows - 2);
      summary = pc.dim(`  … ${done.length} finished, ${order.length - done.length - ids.length} more waiting`);
    }
    const lines = [header, ...ids.map((id) => renderLine(id, views.get(id)!, width, now, tick)), ...(summary ? [summary] : [])];
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const l of lines) s += `\x1b[2K${l}\n`;
    for (let i = lines.length; i < drawn; i++) s += '\x1b[2K\n';
    const extra = Math.max(0, drawn - lines.length);
    if (extra) s += `\x1b[${extra}A`;
    out.write(s);
    drawn = lines.length;
    tick++;
    if (final) drawn = 0;
  };
  return {
    onEvent(e) {
      switch (e.type) {
        case 'run-start':
          header = pc.bold(`${e.resumed ? 'resuming' : 'running'} ${e.pipeline}`) + pc.dim(`  run ${e.runId}`);
          for (const id of e.nodes) {
            order.push(id);
            views.set(id, { state: 'Pending' });
          }
          timer = setInterval(() => draw(), 100);
          timer.unref();
          draw();
          break;
        case 'node': {
          let v = views.get(e.node);
          if (!v) {
            v = { state: 'Pending' };
            views.set(e.node, v);
            // A fan-out instance: show it after its task.
            const parent = e.node.replace(/\(\d+\)$/, '');
            let at = order.indexOf(parent);
            while (at >= 0 && at + 1 < order.length && order[at + 1].startsWith(`${parent}(`)) at++;
            order.splice(at >= 0 ? at + 1 : order.length, 0, e.node);
          }
          v.state = e.state;
          if (e.state === 'Running') {
            v.startedAt ??= Date.parse(e.time);
            if (e.attempt) v.attempt = e.attempt;
          } else {
            v.startedAt ??= Date.parse(e.time);
            v.endedAt = Date.parse(e.time);
            v.cached = e.cached;
            v.resumed = e.resumed;
            if (e.state !== 'Succeeded' && e.message) v.note = e.message;
          }
          break;
        }
        case 'progress': {
          const v = views.get(e.node);
          if (v) Object.assign(v, { epoch: e.epoch ?? v.epoch, epochs: e.epochs ?? v.epochs, loss: e.loss ?? v.loss, fraction: e.fraction ?? v.fraction });
          break;
        }
        case 'run-end':
          if (timer) clearInterval(timer);
          draw(true);
          {
            const note = gateNote(e.gate);
            out.write(
              `${e.status === 'Succeeded' ? (note ? pc.yellow(e.status) : pc.green(e.status)) : e.status === 'Cancelled' ? pc.yellow(e.status) : pc.red(e.status)} in ${formatDuration(e.durationMs)}${note ? `, but ${note}` : ''}\n`,
            );
          }
          break;
        default:
          break;
      }
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}

function tail(text: string, n: number): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n);
}

/**
 * The report printed when a run fails: per failed task, its path, its error, and the last `lines`
 * lines of its log (with the log's location), then how to resume: `rerun` is the command that ran it,
 * with every option resuming needs (the CLI passes `ghosteam run app.ts -p NAME --store-dir DIR …`).
 */
export async function failureReport(rec: RunRecord, storeRoot: string, lines = 20, rerun = 'ghosteam run <app>'): Promise<string> {
  const runs = new RunStore(storeRoot);
  const out: string[] = [];
  for (const id of rec.order) {
    const n = rec.nodes[id];
    if (!n || (n.state !== 'Failed' && n.state !== 'Error') || n.children) continue;
    const what = n.state === 'Error' ? 'could not run' : 'failed';
    out.push(`${pc.red('✗')} task '${id}' (${n.path}) ${what}: ${n.message ?? 'no message'}`);
    if (n.log) {
      const logPath = join(runs.runDir(rec.id), n.log);
      const text = await readFile(logPath, 'utf8').catch(() => '');
      const last = tail(text, lines);
      if (last.length) {
        out.push(`  last ${last.length} log line${last.length === 1 ? '' : 's'} (${logPath}):`);
        for (const l of last) out.push(`  | ${l}`);
      }
    }
  }
  if (rec.status === 'Failed') {
    out.push(`run ${rec.id} failed; after fixing it, continue with: ${rerun} --resume ${rec.id}`);
  }
  return out.join('\n');
}
