/**
 * The framework's vocabulary, owned by the manager (as controller-runtime's pkg/reconcile): what a
 * reconciler is asked (`Request`), what it answers (`ReconcileResult`), and the error that says
 * "retrying cannot help" (`TerminalError`).
 */

/** Which object to reconcile: level-triggered, so no event type and no old/new copies. */
export interface Request {
  readonly namespace?: string;
  readonly name: string;
}

export interface ReconcileResult {
  /** Reconcile again after this long (a real deadline: the end of a canary step, the next check). */
  readonly requeueAfterMs?: number;
}

/**
 * Thrown by a reconciler for an object that can never succeed as it is (a spec error, a missing
 * operator setting): the manager logs it once and does not requeue. The next change to the object
 * (a watch event) reconciles it again. Any other error is retried with backoff.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}
