/**
 * Synthesis context: facts about the app being synthesized (its directory, the git commit) that
 * constructs read lazily, at render time. synthApp() sets it; tests can set it directly.
 */
export interface SynthContext {
  /** Directory of the app file (models.lock.json is looked up here). */
  readonly appDir?: string;
}

// Kept on globalThis: an app loaded as CommonJS gets its own copy of this module, and must still see
// the context that synthApp (ESM) sets.
const KEY = Symbol.for('ghosteam.synthContext');
const store: { [KEY]?: SynthContext } = globalThis as typeof globalThis & { [KEY]?: SynthContext };

export function setSynthContext(ctx: SynthContext): void {
  store[KEY] = { ...ctx };
}

export function synthContext(): SynthContext {
  return store[KEY] ?? {};
}

/** Runs `fn` with `ctx` as the synthesis context, restoring the previous one afterwards. */
export function withSynthContext<T>(ctx: SynthContext, fn: () => T): T {
  const prev = store[KEY];
  store[KEY] = { ...ctx };
  try {
    return fn();
  } finally {
    store[KEY] = prev;
  }
}
