/**
 * Renders a plan report as terminal text, as a Markdown pull-request comment, or as JSON. Pure.
 */
import type { Plan } from './plan.ts';

export interface Revision {
  /** What the user asked for ('origin/main', 'HEAD', 'WORKTREE'). */
  readonly ref: string;
  /** The resolved commit SHA (absent for the uncommitted working tree). */
  readonly commit?: string;
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
}

/** True when the report must fail a PR gate. */
export function planFails(r: PlanReport): boolean {
  return r.headError !== undefined;
}

function rev(r: Revision): string {
  return r.commit ? `${r.ref} (${r.commit.slice(0, 7)})` : r.ref;
}

function counts(p: Plan): string {
  return `${p.added.length} to add, ${p.changed.length} to change, ${p.removed.length} to remove, ${p.unchanged} unchanged`;
}

export function renderText(r: PlanReport): string {
  const lines: string[] = [`ghosteam plan: ${rev(r.base)} → ${rev(r.head)}`];
  if (r.baseWarning) lines.push(`warning: ${r.baseWarning}`);
  if (r.headError) {
    lines.push('', `✗ head fails validation:`, ...r.headError.split('\n').map((l) => `  ${l}`));
    return `${lines.join('\n')}\n`;
  }
  const p = r.plan as Plan;
  lines.push(counts(p));
  const section = (title: string, items: readonly string[]) => {
    if (items.length === 0) return;
    lines.push('', `${title}:`, ...items.map((i) => `  ${i}`));
  };
  section(
    'Models',
    p.models.map((m) => m.headline),
  );
  section(
    'Pipelines',
    p.pipelines.map((x) => x.headline),
  );
  section(
    'Drift monitors',
    p.driftMonitors.map((d) => d.headline),
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

export function renderMarkdown(r: PlanReport): string {
  const lines: string[] = [`### ghosteam plan: \`${rev(r.base)}\` → \`${rev(r.head)}\``, ''];
  if (r.baseWarning) lines.push(`> **Warning:** ${md(r.baseWarning)}`, '');
  if (r.headError) {
    lines.push(':x: **The head fails validation; this change cannot be merged as is.**', '', '```', r.headError, '```', '');
    return lines.join('\n');
  }
  const p = r.plan as Plan;
  lines.push(`**${counts(p)}**${p.retrain.length > 0 ? ` · retrains on merge: ${p.retrain.map((n) => `\`${n}\``).join(', ')}` : ''}`, '');
  const section = (title: string, items: readonly string[]) => {
    if (items.length === 0) return;
    lines.push(`#### ${title}`, '', ...items.map((i) => `- ${md(i)}`), '');
  };
  section(
    'Models',
    p.models.map((m) => m.headline),
  );
  section(
    'Pipelines',
    p.pipelines.map((x) => x.headline),
  );
  section(
    'Drift monitors',
    p.driftMonitors.map((d) => d.headline),
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
