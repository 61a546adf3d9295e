/**
 * What a plan says about a Model or a DriftMonitor whose spec changed: every changed setting with
 * its old and new value, in the words the constructs use (`rollout.interval 2m → 15s`,
 * `rollout.minRequests 20 (default) → 50`), and what a change of `spec.modelRef` (a fixed version,
 * a followed alias, a pin from models.lock.json) makes the operator do, as
 * controllers/planners/model-target.ts decides it. Pure.
 */
import { LOCK_FILE } from '../api/lock.ts';
import { formatDuration } from '../api/names.ts';
import { ROLLOUT_DEFAULTS } from '../api/crds/types.ts';
import { diffFields, flatten } from './fields.ts';

/** One changed setting. `before`/`after` are absent when the setting is absent on that side. */
export interface ValueChange {
  readonly field: string;
  readonly before?: string;
  readonly after?: string;
}

/** 'rollout.interval 2m → 15s', 'resources.gpu.count added (1)', 'payloadLogging.url removed (was http://x)'. */
export function formatValueChange(c: ValueChange): string {
  if (c.before === undefined) return `${c.field} added (${c.after})`;
  if (c.after === undefined) return `${c.field} removed (was ${c.before})`;
  return `${c.field} ${c.before} → ${c.after}`;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function seconds(v: unknown): string | undefined {
  const n = num(v);
  return n === undefined ? text(v) : formatDuration(n);
}

function push(out: ValueChange[], field: string, before: string | undefined, after: string | undefined): void {
  if (before === after) return;
  out.push({ field, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) });
}

/** Every leaf under `prefix` of both sides, as `label(prefix.rest)`, except the paths in `skip`. */
function rest(out: ValueChange[], before: unknown, after: unknown, label: (path: string) => string, skip: (path: string) => boolean): void {
  for (const c of diffFields(before, after)) if (!skip(c.path)) push(out, label(c.path), c.before, c.after);
}

// ---------------------------------------------------------------------------------------------
// Model references (spec.modelRef)

export type RefShape =
  | { readonly kind: 'fixed'; readonly version: number }
  | { readonly kind: 'follow'; readonly alias: string }
  | { readonly kind: 'pinned'; readonly version: number; readonly alias: string };

/** The three shapes of spec.modelRef (controllers/planners/model-target.ts); anything else (a malformed ref) is undefined. */
export function refShape(ref: unknown): RefShape | undefined {
  if (!ref || typeof ref !== 'object') return undefined;
  const r = ref as { version?: unknown; alias?: unknown };
  const version = typeof r.version === 'number' ? r.version : undefined;
  const alias = typeof r.alias === 'string' ? r.alias : undefined;
  if (version !== undefined && alias === undefined) return { kind: 'fixed', version };
  if (version === undefined) return { kind: 'follow', alias: alias ?? 'latest' };
  return { kind: 'pinned', version, alias: alias ?? 'latest' };
}

/** 'v3 (fixed)', '@champion', 'pin v3, new versions from @latest'. */
export function describeRef(s: RefShape | undefined): string | undefined {
  if (!s) return undefined;
  if (s.kind === 'fixed') return `v${s.version} (fixed)`;
  if (s.kind === 'follow') return `@${s.alias}`;
  return `pin v${s.version}, new versions from @${s.alias}`;
}

/** Who changed a model's pin in models.lock.json between base and head (gitops/plan-pins.ts). */
export type PinWriter = 'operator' | 'hand';

/** How a version reaches traffic: 'by a canary at 10→50→100%', 'at once (direct rollout)'. */
function how(rollout: string | undefined): string {
  if (rollout && /^canary\b/.test(rollout)) return `by a canary at ${rollout.replace(/^canary\s*/, '')}`;
  return 'at once (direct rollout)';
}

/**
 * One sentence on what the operator does when spec.modelRef moves from `before` to `after`, true to
 * decideTarget: a fixed version is served exactly (older ones too); a pin is a baseline that
 * never rolls a Model back; newer versions of the followed alias are canaried against it. Undefined
 * when the reference did not change. `registered` is the registry name (for the 'fraud@2' hint).
 */
export function explainRef(
  registered: string,
  before: RefShape | undefined,
  after: RefShape | undefined,
  rollout: string | undefined,
  writer?: PinWriter,
): string | undefined {
  if (!after || !before) return undefined;
  if (describeRef(before) === describeRef(after)) return undefined;
  const was = describeRef(before) as string;
  if (after.kind === 'fixed') {
    const v = `v${after.version}`;
    if (before.kind === 'fixed') {
      return after.version > before.version
        ? `v${before.version} → ${v} (fixed version): ${v} is rolled out ${how(rollout)}`
        : `v${before.version} → ${v} (fixed version): rolls back to ${v} ${how(rollout)}`;
    }
    return `fixed at ${v} (was ${was}): the operator serves exactly ${v}, rolled out ${how(rollout)} where another version serves, and ignores ${LOCK_FILE}`;
  }
  const aliasNote = before.kind !== 'fixed' && before.alias !== after.alias ? `new versions come from @${after.alias} (was @${before.alias})` : undefined;
  if (after.kind === 'follow') {
    const serves = `the operator serves what @${after.alias} points to, rolled out ${how(rollout)} where another version serves`;
    if (before.kind === 'fixed') return `follows @${after.alias} (was fixed at v${before.version}): ${serves}`;
    if (before.kind === 'pinned') return `pin v${before.version} removed from ${LOCK_FILE}: ${aliasNote ? `${aliasNote}; ` : ''}${serves}`;
    return `follows @${after.alias} (was @${before.alias}): ${serves}`;
  }
  // after is pinned
  const v = `v${after.version}`;
  const newer = `newer @${after.alias} versions are still canaried against it`;
  if (before.kind === 'fixed') return `pin ${v}, new versions from @${after.alias} (was fixed at v${before.version}): ${v} is the baseline; ${newer}`;
  const beforePin = before.kind === 'pinned' ? before.version : undefined;
  if (beforePin === after.version) return aliasNote ? `${aliasNote}; pin ${v} unchanged` : undefined;
  const move = beforePin === undefined ? `pinned at ${v} in ${LOCK_FILE}` : `pin v${beforePin} → ${v} in ${LOCK_FILE}`;
  const tail = aliasNote ? `; ${aliasNote}` : '';
  if (beforePin !== undefined && after.version < beforePin) {
    return `${move}: no rollback: a pin behind the version serving never rolls the Model back; to serve ${v}, fix the version in the app (registry: '${registered}@${after.version}')${tail}`;
  }
  if (writer === 'operator') return `${move}, written by the operator after it promoted ${v}: ${v} already serves, nothing rolls out; ${newer}${tail}`;
  if (writer === 'hand') {
    return `${move}, edited by hand (only the operator writes pins, after a promotion): where ${v} does not serve yet, it is rolled out ${how(rollout)}; ${newer}${tail}`;
  }
  return `${move}: ${v} becomes the baseline; where it already serves (the operator pins after promoting) nothing rolls out, else it is rolled out ${how(rollout)}; ${newer}${tail}`;
}

// ---------------------------------------------------------------------------------------------
// Model specs

/** 'canary 10→50→100%', 'direct'; undefined without a rollout. Steps short of 100 get it appended. */
export function rolloutSummary(rollout: unknown): string | undefined {
  const r = obj(rollout);
  if (Object.keys(r).length === 0) return undefined;
  const canary = obj(r.canary);
  const strategy = String(r.strategy ?? r.type ?? (Object.keys(canary).length > 0 ? 'canary' : 'direct'));
  const raw = r.steps ?? canary.steps ?? canary.trafficSteps;
  if (strategy !== 'direct' && Array.isArray(raw)) {
    const steps = raw
      .map((s) => (typeof s === 'number' ? s : num(obj(s).weight ?? obj(s).percent ?? obj(s).traffic ?? obj(s).setWeight)))
      .filter((n): n is number => n !== undefined);
    if (steps.length > 0) {
      if (steps[steps.length - 1] !== 100) steps.push(100);
      return `${strategy} ${steps.join('→')}%`;
    }
  }
  return strategy;
}

/** The operator's value for a threshold left out ('not checked' for an unbounded one). */
const THRESHOLD_DEFAULTS: Record<string, number> = {
  maxErrorRate: ROLLOUT_DEFAULTS.maxErrorRate,
  maxP99LatencyMs: ROLLOUT_DEFAULTS.maxP99LatencyMs,
  maxPredictionDrift: ROLLOUT_DEFAULTS.maxPredictionDrift,
};

/** A setting with a default: '20 (default)' when left out; the default written out is no change. */
function pushDefaulted(out: ValueChange[], field: string, before: unknown, after: unknown, dflt: number | undefined): void {
  const effective = (v: unknown) => text(v ?? (dflt !== undefined && Number.isFinite(dflt) ? dflt : undefined));
  if (effective(before) === effective(after)) return;
  const shown = (v: unknown) =>
    v !== undefined ? text(v) : dflt === undefined ? undefined : Number.isFinite(dflt) ? `${dflt} (default)` : 'not checked (default)';
  push(out, field, shown(before), shown(after));
}

/** The rollout policy settings a canary analysis uses, with the operator's defaults filled in. */
function rolloutChanges(out: ValueChange[], b: Json, a: Json): void {
  const sb = rolloutSummary(b);
  const sa = rolloutSummary(a);
  push(out, 'rollout', sb, sa);
  // A direct rollout has no steps to analyse: its interval and thresholds mean nothing.
  if (a.strategy === 'direct' || b.strategy === 'direct') return;
  push(out, 'rollout.interval', seconds(b.intervalSeconds), seconds(a.intervalSeconds));
  const tb = obj(b.thresholds);
  const ta = obj(a.thresholds);
  for (const k of [...new Set([...Object.keys(THRESHOLD_DEFAULTS), ...Object.keys(tb), ...Object.keys(ta)])]) {
    pushDefaulted(out, `rollout.${k}`, tb[k], ta[k], THRESHOLD_DEFAULTS[k]);
  }
  pushDefaulted(out, 'rollout.minRequests', b.minRequests, a.minRequests, ROLLOUT_DEFAULTS.minRequests);
  rest(
    out,
    b,
    a,
    (p) => `rollout.${p}`,
    (p) => /^(strategy|type|steps|canary|intervalSeconds|thresholds|minRequests)\b/.test(p),
  );
}

/**
 * The changed settings of a Model spec, the version reference first ('registry'), then the rollout
 * policy, autoscaling, resources, runtime and payload logging, each with old and new value.
 */
export function modelChanges(before: unknown, after: unknown): ValueChange[] {
  const b = obj(before);
  const a = obj(after);
  const out: ValueChange[] = [];
  push(out, 'registry', describeRef(refShape(obj(b.modelRef))), describeRef(refShape(obj(a.modelRef))));
  const nb = text(obj(b.modelRef).name);
  const na = text(obj(a.modelRef).name);
  push(out, 'registry.name', nb, na);
  rolloutChanges(out, obj(b.rollout), obj(a.rollout));
  rest(
    out,
    b,
    a,
    (p) => p,
    (p) => /^(modelRef|rollout)\b/.test(p),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Drift monitors

/** A feature as '<type>', '<type>, test ks, threshold 0.05'. */
function featureText(f: unknown): string {
  const o = obj(f);
  return [text(o.type) ?? '?', o.test !== undefined ? `test ${text(o.test)}` : '', o.threshold !== undefined ? `threshold ${text(o.threshold)}` : '']
    .filter(Boolean)
    .join(', ');
}

function features(v: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (Array.isArray(v)) for (const f of v) if (typeof obj(f).name === 'string') out.set(obj(f).name as string, f);
  return out;
}

/**
 * The changed settings of a DriftMonitor spec under the DriftMonitor construct's names
 * (driftShare, featureThreshold, window, minSamples, schedule, retrain.*), features one line each.
 */
export function driftChanges(before: unknown, after: unknown): ValueChange[] {
  const b = obj(before);
  const a = obj(after);
  const out: ValueChange[] = [];
  push(out, 'model', text(b.model), text(a.model));
  const tb = obj(b.thresholds);
  const ta = obj(a.thresholds);
  push(out, 'driftShare', text(tb.driftShare), text(ta.driftShare));
  const byTest = "the test's default";
  push(out, 'featureThreshold', text(tb.feature) ?? byTest, text(ta.feature) ?? byTest);
  push(out, 'test', text(b.test), text(a.test));
  push(out, 'window', seconds(obj(b.window).seconds), seconds(obj(a.window).seconds));
  push(out, 'minSamples', text(obj(b.window).minSamples), text(obj(a.window).minSamples));
  push(out, 'schedule', text(b.schedule), text(a.schedule));
  const ref = (r: unknown) => (Object.keys(obj(r)).length === 0 ? undefined : `${text(obj(r).uri)} (${text(obj(r).format)})`);
  push(out, 'reference', ref(b.reference), ref(a.reference));
  const fb = features(b.features);
  const fa = features(a.features);
  for (const [name, f] of fa) push(out, `feature ${name}`, fb.has(name) ? featureText(fb.get(name)) : undefined, featureText(f));
  for (const [name, f] of fb) if (!fa.has(name)) push(out, `feature ${name}`, featureText(f), undefined);
  const rb = obj(b.action).retrain;
  const ra = obj(a.action).retrain;
  const none = 'none (drift is only reported)';
  push(out, 'retrain', rb === undefined ? none : text(obj(rb).pipeline), ra === undefined ? none : text(obj(ra).pipeline));
  if (rb !== undefined && ra !== undefined) {
    push(out, 'retrain.cooldown', seconds(obj(rb).cooldownSeconds), seconds(obj(ra).cooldownSeconds));
    const pb = flatten(obj(rb).params ?? {});
    const pa = flatten(obj(ra).params ?? {});
    for (const [k, v] of pa) push(out, `retrain.params.${k}`, pb.get(k), v);
    for (const [k, v] of pb) if (!pa.has(k)) push(out, `retrain.params.${k}`, v, undefined);
  }
  rest(
    out,
    b,
    a,
    (p) => p,
    (p) => /^(model|thresholds|test|window|schedule|reference|features|action)\b/.test(p),
  );
  return out;
}
