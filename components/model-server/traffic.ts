/**
 * Pure traffic routing between the loaded versions of one model: stable/canary split by weight,
 * a header that pins a version, and shadow mode. The random draw is injected so it can be tested.
 */

export interface TrafficSplit {
  /** Version answering requests by default. */
  readonly stable: string;
  /** Version receiving `canaryPercent` of requests (or, in shadow mode, a copy of them). */
  readonly canary?: string;
  /** 0–100. @default 0 */
  readonly canaryPercent?: number;
  /** When true the stable version answers every request; the canary gets a copy whose answer is dropped. @default false */
  readonly shadow?: boolean;
}

export interface RouteDecision {
  /** The version that answers. */
  readonly version: string;
  /** A version that gets a copy of the request and whose answer is dropped. */
  readonly shadow?: string;
  /** Why: 'pinned' | 'stable' | 'canary' | 'shadow'. */
  readonly reason: 'pinned' | 'stable' | 'canary' | 'shadow';
}

/** Validates a traffic body against the loaded versions. Returns an error message or the split. */
export function parseTrafficSplit(body: unknown, loaded: readonly string[], model: string): TrafficSplit | string {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return `traffic must be an object like {"stable":"1","canary":"2","canaryPercent":10,"shadow":false}`;
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!['stable', 'canary', 'canaryPercent', 'shadow'].includes(k)) return `traffic: unknown field '${k}'; allowed: stable, canary, canaryPercent, shadow`;
  const asVersion = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? String(v) : v);
  const stable = asVersion(b.stable);
  const canary = b.canary === null ? undefined : asVersion(b.canary);
  if (typeof stable !== 'string' || stable === '') return `traffic.stable must be a version string, e.g. "1"`;
  if (!loaded.includes(stable)) return `traffic.stable: model '${model}' has no loaded version '${stable}'; loaded: ${loaded.join(', ') || 'none'}`;
  if (canary !== undefined) {
    if (typeof canary !== 'string' || canary === '') return `traffic.canary must be a version string, e.g. "2", or null`;
    if (!loaded.includes(canary)) return `traffic.canary: model '${model}' has no loaded version '${canary}'; loaded: ${loaded.join(', ')}`;
    if (canary === stable) return `traffic.canary must differ from traffic.stable ('${stable}')`;
  }
  const pct = b.canaryPercent ?? (canary === undefined ? 0 : undefined);
  if (typeof pct !== 'number' || !Number.isFinite(pct) || pct < 0 || pct > 100)
    return `traffic.canaryPercent must be a number from 0 to 100${canary !== undefined ? ' when a canary is set' : ''}`;
  if (pct > 0 && canary === undefined) return `traffic.canaryPercent is ${pct} but no canary version is set`;
  if (b.shadow !== undefined && typeof b.shadow !== 'boolean') return `traffic.shadow must be true or false`;
  return { stable, canary: canary, canaryPercent: pct, shadow: b.shadow === true };
}

/**
 * Picks the version for one request. `pinned` is the header value (if any), `draw` a uniform
 * random number in [0, 1). Returns an error string when the pinned version isn't loaded.
 */
export function route(split: TrafficSplit, loaded: ReadonlySet<string>, pinned: string | undefined, draw: number): RouteDecision | string {
  if (pinned !== undefined && pinned !== '') {
    if (!loaded.has(pinned)) return `version '${pinned}' (from the pinning header) is not loaded; loaded: ${[...loaded].join(', ')}`;
    return { version: pinned, reason: 'pinned' };
  }
  const pct = split.canaryPercent ?? 0;
  const hit = split.canary !== undefined && pct > 0 && draw * 100 < pct && loaded.has(split.canary);
  if (!hit) return { version: split.stable, reason: 'stable' };
  if (split.shadow) return { version: split.stable, shadow: split.canary, reason: 'shadow' };
  return { version: split.canary, reason: 'canary' };
}
