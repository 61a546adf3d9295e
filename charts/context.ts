/**
 * Synthesis context: facts about the app being synthesized (its directory, the git commit) that
 * constructs read lazily, at render time. synthApp() sets it; tests can set it directly.
 */
export interface SynthContext {
  /** Directory of the app file (models.lock.json is looked up here). */
  readonly appDir?: string;
}

let current: SynthContext = {};

export function setSynthContext(ctx: SynthContext): void {
  current = { ...ctx };
}

export function synthContext(): SynthContext {
  return current;
}

/** Runs `fn` with `ctx` as the synthesis context, restoring the previous one afterwards. */
export function withSynthContext<T>(ctx: SynthContext, fn: () => T): T {
  const prev = current;
  current = { ...ctx };
  try {
    return fn();
  } finally {
    current = prev;
  }
}
