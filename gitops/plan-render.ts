/**
 * Renders a plan report as terminal text, as a Markdown pull-request comment, or as JSON. Pure.
 */
import type { Plan } from './plan.ts';
import { formatValueChange, type ValueChange } from './plan-values.ts';

export interface Revision {
  /** What the user asked for ('origin/main', 'HEAD'). */
  readonly ref: string;
  /** The commit compared: for the base, its merge-base with the head (unless --no-merge-base). */
  readonly commit?: string;
  /** The base only: the commit `ref` points at, when it is not the merge-base (the target branch moved on). */
  readonly tip?: string;
  /** The base only: commits on `ref` since the merge-base; they are not part of the change. */
  readonly ahead?: number;
}

export interface PlanReport {
  readonly base: Revision;
  readonly head: Revision;
  /** Absent when the head failed to synthesize or validate. */
  readonly plan?: Plan;
  /** Why the head failed synthesis or validation: the PR gate fails. */
  readonly headError?: string;
  /** The base failed to synthesize; the plan then compares against nothing. */
  readonly baseWarning?: string;
  /** Seconds the plan took (both syntheses included). */
  readonly seconds?: number;
  /** The lock file the app's Models read, relative to the repository root. */
  readonly lockFile?: string;
  /** False when the head was not type-checked (--no-typecheck). */
  readonly typechecked?: boolean;
}

/** True when the report must fail a PR gate. */
export function planFails(r: PlanReport): boolean {
  return r.headError !== undefined;
}

function rev(r: Revision): string {
  if (!r.commit) return r.ref;
  if (!r.tip || r.tip === r.commit) return `${r.ref} (${r.commit.slice(0, 7)})`;
  const ahead = r.ahead !== undefined ? `, ${r.ahead} commit${r.ahead === 1 ? '' : 's'} behind its tip ${r.tip.slice(0, 7)}` : `, tip ${r.tip.slice(0, 7)}`;
  return `${r.ref} at the merge-base ${r.commit.slice(0, 7)}${ahead}`;
}

/** A sentence under the title when the base branch moved on: those commits are not in the plan. */
function mergeBaseNote(r: Revision): string | undefined {
  if (!r.commit || !r.tip || r.tip === r.commit) return undefined;
  return `compared with the merge-base, as a pull request diff is: the changes on ${r.ref} since then are not part of this plan`;
}

/** The changes a headline does not already state with their values. */
function unsaid(x: { headline: string; changes: readonly ValueChange[] }): ValueChange[] {
  return x.changes.filter((c) => !x.headline.includes(formatValueChange(c)));
}

/** Each changed setting as '    field  before → after' (text). */
function valueLines(changes: readonly ValueChange[], indent: string): string[] {
  const width = Math.min(32, Math.max(0, ...changes.map((c) => c.field.length)));
  return changes.map((c) => `${indent}${c.field.padEnd(width)}  ${c.before ?? '(none)'} → ${c.after ?? '(none)'}`);
}

function counts(p: Plan): string {
  return `${p.added.length} to add, ${p.changed.length} to change, ${p.removed.length} to remove, ${p.unchanged} unchanged`;
}

export function renderText(r: PlanReport): string {
  const lines: string[] = [`ghosteam plan: ${rev(r.base)} → ${rev(r.head)}`];
  const note = mergeBaseNote(r.base);
  if (note) lines.push(`(${note})`);
  if (r.baseWarning) lines.push(`warning: ${r.baseWarning}`);
  if (r.headError) {
    lines.push('', `✗ head fails type-checking, synthesis or validation:`, ...r.headError.split('\n').map((l) => `  ${l}`));
    return `${lines.join('\n')}\n`;
  }
  const p = r.plan as Plan;
  lines.push(counts(p));
  const section = (title: string, items: readonly string[]) => {
    if (items.length === 0) return;
    lines.push('', `${title}:`, ...items.map((i) => `  ${i}`));
  };
  const withValues = (x: { headline: string; change: string; changes: readonly ValueChange[] }) =>
    [x.headline, ...(x.change === 'changed' ? valueLines(unsaid(x), '    ') : [])].join('\n');
  section('Models', p.models.map(withValues));
  section(
    'Pipelines',
    p.pipelines.map((x) => x.headline),
  );
  section('Drift monitors', p.driftMonitors.map(withValues));
  section(
    `Pins (${lockName(r)})`,
    p.pins.map((x) => x.headline),
  );
  section(
    'Added',
    p.added.map((o) => `+ ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`),
  );
  section(
    'Removed',
    p.removed.map((o) => `- ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`),
  );
  if (p.retrain.length > 0) lines.push('', `Retraining on merge: ${p.retrain.join(', ')}`);
  if (p.diff) lines.push('', p.diff.trimEnd());
  else lines.push('', 'No changes.');
  return `${lines.join('\n')}\n`;
}

/** Escapes text for a Markdown table cell or list item. */
function md(s: string): string {
  return s.replace(/[|\\`*_<>]/g, (c) => `\\${c}`);
}

function lockName(r: PlanReport): string {
  return r.lockFile ?? 'models.lock.json';
}

/** A Markdown table of changed settings, indented under a list item. */
function valueTable(changes: readonly ValueChange[]): string[] {
  if (changes.length === 0) return [];
  const cell = (v: string | undefined) => (v === undefined ? '—' : md(v));
  return [
    '',
    '  | Setting | Before | After |',
    '  | --- | --- | --- |',
    ...changes.map((c) => `  | ${md(c.field)} | ${cell(c.before)} | ${cell(c.after)} |`),
    '',
  ];
}

export function renderMarkdown(r: PlanReport): string {
  const lines: string[] = [`### ghosteam plan: \`${rev(r.base)}\` → \`${rev(r.head)}\``, ''];
  const note = mergeBaseNote(r.base);
  if (note) lines.push(`_${md(note)}_`, '');
  if (r.baseWarning) lines.push(`> **Warning:** ${md(r.baseWarning)}`, '');
  if (r.headError) {
    lines.push(':x: **The head fails type-checking, synthesis or validation; this change cannot be merged as is.**', '', '```', r.headError, '```', '');
    return lines.join('\n');
  }
  const p = r.plan as Plan;
  lines.push(`**${counts(p)}**${p.retrain.length > 0 ? ` · retrains on merge: ${p.retrain.map((n) => `\`${n}\``).join(', ')}` : ''}`, '');
  const section = (title: string, items: readonly string[]) => {
    if (items.length === 0) return;
    lines.push(`#### ${title}`, '', ...items.map((i) => `- ${md(i)}`), '');
  };
  const withTable = (title: string, items: readonly { name: string; headline: string; change: string; changes: readonly ValueChange[] }[]) => {
    if (items.length === 0) return;
    lines.push(`#### ${title}`, '');
    for (const x of items) {
      lines.push(`- ${md(x.headline)}`);
      if (x.change === 'changed') lines.push(...valueTable(unsaid(x)));
    }
    if (lines[lines.length - 1] !== '') lines.push('');
  };
  withTable('Models', p.models);
  section(
    'Pipelines',
    p.pipelines.map((x) => x.headline),
  );
  withTable('Drift monitors', p.driftMonitors);
  section(
    `Pins (${lockName(r)})`,
    p.pins.map((x) => x.headline),
  );
  section(
    'Added',
    p.added.map((o) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`),
  );
  section(
    'Removed',
    p.removed.map((o) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`),
  );
  if (p.diff) {
    // A fence longer than any backtick run inside the diff, so YAML can't close it early.
    const longest = Math.max(2, ...(p.diff.match(/`+/g) ?? []).map((m) => m.length));
    const fence = '`'.repeat(longest + 1);
    lines.push('<details><summary>YAML diff</summary>', '', `${fence}diff`, p.diff.trimEnd(), fence, '', '</details>', '');
  } else {
    lines.push('No changes.', '');
  }
  return lines.join('\n');
}

export function renderJson(r: PlanReport): string {
  return `${JSON.stringify({ ...r, ok: !planFails(r) }, null, 2)}\n`;
}
