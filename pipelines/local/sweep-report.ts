/**
 * What `ghosteam sweep` prints: a sweep's progress one line per event, the list of sweeps, and one
 * sweep's trials best first. Pure: records and events in, text out.
 */
import type { ParamValue } from '../../components/component.ts';
import type { SweepEvent, SweepRecord } from './sweep.ts';

const num = (v: number): string => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? v.toPrecision(5) : v.toExponential(3));

function params(p: Readonly<Record<string, ParamValue>>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? num(v) : typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => c.padEnd(w[i]))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** One progress line for a sweep event (`total`: the trial budget). */
export function formatSweepEvent(e: SweepEvent, total: number): string {
  switch (e.type) {
    case 'sweep-start':
      return `sweep ${e.sweep} (${e.sweepId}): ${e.epochs !== undefined ? `up to ${e.trials} trials within a budget of ${e.epochs} epochs` : `${e.trials} trials`}${e.resumed ? ', resumed' : ''}`;
    case 'trial-start':
      return `trial ${e.number + 1}/${total} started: ${params(e.params)}`;
    case 'trial-end': {
      const what = e.state === 'Complete' ? `${num(e.value!)}` : e.state.toLowerCase();
      const best = e.best !== undefined ? ` (best ${num(e.best)})` : '';
      return `trial ${e.number + 1}/${total} ${what}${best}${e.steps ? `, ${e.steps} epochs` : ''}${e.message ? `: ${e.message}` : ''}`;
    }
    case 'final-start':
      return `best params, whole pipeline (${e.runId}): ${params(e.params)}`;
    case 'sweep-end':
      return `sweep ${e.status.toLowerCase()}${e.best ? `: best ${num(e.best.value)} at trial ${e.best.number + 1} (${params(e.best.params)})` : ''}${e.message ? ` — ${e.message}` : ''}`;
  }
}

const count = (r: SweepRecord, s: string): number => r.trials.filter((t) => t.state === s).length;

/** The sweeps, newest first: id, sweep, status, trials by state, best value. */
export function formatSweepList(records: readonly SweepRecord[]): string {
  if (!records.length) return "no sweeps yet; run one with 'ghosteam sweep run APP'";
  return table(
    ['SWEEP ID', 'SWEEP', 'STATUS', 'TRIALS', 'COMPLETE', 'PRUNED', 'FAILED', 'BEST', 'STARTED'],
    records.map((r) => [
      r.id,
      r.sweep,
      r.status,
      `${r.trials.length}/${r.spec.budget.trials}`,
      String(count(r, 'Complete')),
      String(count(r, 'Pruned')),
      String(count(r, 'Failed')),
      r.best ? num(r.best.value) : '-',
      r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    ]),
  );
}

/** One sweep: its setup, then every trial, best first (complete trials by value, then pruned, then failed). */
export function formatSweep(r: SweepRecord): string {
  const s = r.spec;
  const sign = s.objective.direction === 'maximize' ? -1 : 1;
  const rank = { Complete: 0, Pruned: 1, Running: 2, Failed: 3 } as const;
  const trials = [...r.trials].sort((a, b) => rank[a.state] - rank[b.state] || sign * ((a.value ?? 0) - (b.value ?? 0)) || a.number - b.number);
  const head = [
    `sweep ${r.sweep} (${r.id}): ${r.status}${r.message ? ` — ${r.message}` : ''}`,
    `pipeline ${r.pipeline}, task ${s.task}; objective ${s.objective.direction} ${s.objective.task}.${s.objective.metric}; ${s.algorithm.kind}${'seed' in s.algorithm && s.algorithm.seed !== undefined ? ` (seed ${s.algorithm.seed})` : ''}${s.earlyStopping ? `, early stopping ${s.earlyStopping.kind}` : ''}; budget ${s.budget.trials} trials${s.budget.epochs !== undefined ? `, ${s.budget.epochs} epochs` : ''}, ${s.budget.parallelism} at once`,
    r.best
      ? `best: ${num(r.best.value)} at trial ${r.best.number + 1} (${params(r.best.params)}), run ${r.best.runId}${r.finalRunId ? `; whole pipeline ${r.finalRunId} ${r.finalStatus?.toLowerCase() ?? ''}` : ''}`
      : 'best: none yet',
    `epochs spent: ${r.trials.reduce((a, t) => a + t.steps, 0)}${r.budget ? ` of a budget of ${r.budget.epochs}${r.budget.reserved ? ` (${r.budget.reserved} promised to running trials)` : ''}` : ''}`,
  ];
  const rows = trials.map((t) => [
    String(t.number + 1),
    t.state,
    t.value !== undefined ? num(t.value) : '-',
    String(t.steps),
    params(t.params),
    t.message ?? '',
  ]);
  return [...head, '', table(['TRIAL', 'STATE', s.objective.metric.toUpperCase(), 'EPOCHS', 'PARAMS', 'NOTE'], rows)].join('\n');
}
