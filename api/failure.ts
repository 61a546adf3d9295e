/**
 * Whether a failure can change on retry: the one classification the local engine (a step's
 * attempts), the operator (a TrainingRun's status) and `ghosteam watch` (a commit's TrainingRuns)
 * share, so none of them retries an invalid param value 3 times, and each backs off from a
 * transient one the same way.
 *
 *  - terminal: the same input fails the same way every time — an invalid param value
 *    (`epochs: -5`), a spec or data that fails validation, a schema mismatch, a missing input that
 *    the step's contract requires, a dependency that does not exist, a model the gate rejected.
 *    Recorded with `terminal: true` and a reason; retrying waits for a new commit or spec.
 *  - transient: the network, a server's 5xx, a full disk, a killed process, a timeout. Retried
 *    with exponential backoff, full jitter and a cap (`backoffMs`), within the caller's limit.
 *  - unknown errors count as transient: a bug that fails every time then costs the retry limit,
 *    while a flake classified terminal would cost the run.
 *
 * Across a process boundary the class travels as an exit code (sysexits.h): 64 EX_USAGE (an
 * invalid param), 65 EX_DATAERR (input data or schema), 78 EX_CONFIG (any other terminal reason).
 * `ghosteam component run` exits with them, a command step may too, and the Argo template's
 * retryStrategy does not retry them (pipelines/argo.ts).
 */

/** Why an attempt failed. PascalCase, as a condition reason. */
export const FailureReason = {
  // terminal
  InvalidParam: 'InvalidParam',
  InvalidSpec: 'InvalidSpec',
  InvalidInput: 'InvalidInput',
  SchemaMismatch: 'SchemaMismatch',
  MissingInput: 'MissingInput',
  GateRejected: 'GateRejected',
  DependencyNotFound: 'DependencyNotFound',
  RequestRejected: 'RequestRejected',
  /** A step exited with a terminal exit code without saying more. */
  Terminal: 'Terminal',
  // transient
  Network: 'Network',
  ServerError: 'ServerError',
  NoSpace: 'NoSpace',
  Killed: 'Killed',
  Timeout: 'Timeout',
  Unknown: 'Unknown',
} as const;
export type FailureReason = (typeof FailureReason)[keyof typeof FailureReason];

const TERMINAL_REASONS: ReadonlySet<FailureReason> = new Set([
  'InvalidParam',
  'InvalidSpec',
  'InvalidInput',
  'SchemaMismatch',
  'MissingInput',
  'GateRejected',
  'DependencyNotFound',
  'RequestRejected',
  'Terminal',
]);

export interface FailureClass {
  /** True when retrying cannot change the outcome. */
  readonly terminal: boolean;
  readonly reason: FailureReason;
}

/** A reason read back from a status field; anything not in FailureReason reads as 'Unknown'. */
export function asFailureReason(s: string | undefined): FailureReason {
  return s !== undefined && Object.hasOwn(FailureReason, s) ? (s as FailureReason) : 'Unknown';
}

export function isTerminalReason(r: FailureReason): boolean {
  return TERMINAL_REASONS.has(r);
}

/**
 * An error that retrying cannot change. Throw it (or a subclass: components' ParamError) from a
 * step; `classifyFailure` reads `terminal` and `reason`, which survive a worker thread's message.
 */
export class TerminalFailure extends Error {
  readonly terminal = true;
  constructor(
    readonly reason: FailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TerminalFailure';
  }
}

/** Exit codes that carry a terminal class across a process (sysexits.h). */
export const TERMINAL_EXIT_CODES = { InvalidParam: 64, InvalidInput: 65, Terminal: 78 } as const;

/** The exit code a process ends with for this failure: a terminal code, else 1. */
export function exitCodeFor(f: FailureClass): number {
  if (!f.terminal) return 1;
  if (f.reason === 'InvalidParam') return TERMINAL_EXIT_CODES.InvalidParam;
  if (f.reason === 'InvalidInput' || f.reason === 'SchemaMismatch' || f.reason === 'MissingInput') return TERMINAL_EXIT_CODES.InvalidInput;
  return TERMINAL_EXIT_CODES.Terminal;
}

/** How a process's end classifies: its exit code (64/65/78 terminal) or the signal that killed it. */
export function classifyExit(code: number | null, signal?: NodeJS.Signals | string | null): FailureClass {
  if (signal) return { terminal: false, reason: 'Killed' };
  if (code === TERMINAL_EXIT_CODES.InvalidParam) return { terminal: true, reason: 'InvalidParam' };
  if (code === TERMINAL_EXIT_CODES.InvalidInput) return { terminal: true, reason: 'InvalidInput' };
  if (code === TERMINAL_EXIT_CODES.Terminal) return { terminal: true, reason: 'Terminal' };
  // 128+n: killed by signal n (a shell, or a container runtime's OOM kill = 137).
  if (code !== null && code > 128 && code < 160) return { terminal: false, reason: 'Killed' };
  return { terminal: false, reason: 'Unknown' };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);
const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);
/** npm's error codes for a dependency that does not exist or a manifest that cannot parse: a retry installs nothing new. */
const NPM_TERMINAL_CODES = new Set(['E404', 'ETARGET', 'EJSONPARSE', 'ERESOLVE', 'EUSAGE', 'ENOVERSIONS', 'EBADENGINE', 'EINVALIDTAGNAME']);
/** HTTP statuses of a request the server refuses as written. */
const REJECTED_STATUSES = new Set([400, 405, 413, 414, 415, 422]);

function httpStatus(e: Record<string, unknown>): number | undefined {
  for (const s of [
    e.status,
    e.statusCode,
    (e.$metadata as { httpStatusCode?: unknown } | undefined)?.httpStatusCode,
    (e.response as { status?: unknown })?.status,
  ])
    if (typeof s === 'number' && s >= 100 && s < 600) return s;
  return undefined;
}

/**
 * The class of any thrown value: an explicit `terminal`/`reason` (TerminalFailure and friends),
 * a validation or param error by name, a Node/undici/npm error code, an HTTP status, then the
 * `cause` chain; anything else is transient 'Unknown'.
 */
export function classifyFailure(e: unknown, depth = 0): FailureClass {
  if (e === null || typeof e !== 'object' || depth > 8) return { terminal: false, reason: 'Unknown' };
  const o = e as Record<string, unknown>;
  if (o.terminal === true) {
    const r = typeof o.reason === 'string' && o.reason in FailureReason ? (o.reason as FailureReason) : 'Terminal';
    return { terminal: true, reason: isTerminalReason(r) ? r : 'Terminal' };
  }
  if (o.name === 'ParamError') return { terminal: true, reason: 'InvalidParam' };
  if (o.name === 'ValidationError' || o.name === 'PipelineError') return { terminal: true, reason: 'InvalidSpec' };
  if (o.name === 'TimeoutError') return { terminal: false, reason: 'Timeout' };
  // A dataset or feature key the step cannot use (a missing column, a corrupt Arrow file, a key of
  // the wrong type): the same input fails the same way, unless an I/O cause says otherwise.
  if (o.name === 'DatasetError' || o.name === 'FeaturesError') {
    const c = o.cause !== undefined ? classifyFailure(o.cause, depth + 1) : undefined;
    return c && c.reason !== 'Unknown' ? c : { terminal: true, reason: 'InvalidInput' };
  }
  const code = typeof o.code === 'string' ? o.code : undefined;
  if (code && NO_SPACE_CODES.has(code)) return { terminal: false, reason: 'NoSpace' };
  if (code && NETWORK_CODES.has(code)) return { terminal: false, reason: 'Network' };
  if (code && NPM_TERMINAL_CODES.has(code)) return { terminal: true, reason: 'DependencyNotFound' };
  const status = httpStatus(o);
  if (status !== undefined) {
    if (status >= 500 || status === 429 || status === 408) return { terminal: false, reason: 'ServerError' };
    if (REJECTED_STATUSES.has(status)) return { terminal: true, reason: 'RequestRejected' };
  }
  if (o.cause !== undefined) {
    const c = classifyFailure(o.cause, depth + 1);
    if (c.reason !== 'Unknown') return c;
  }
  return { terminal: false, reason: 'Unknown' };
}

/** A short phrase for a log line: why a failure is or is not retried. */
export function retryNote(f: FailureClass): string {
  return f.terminal ? `not retried: ${f.reason} cannot change on retry` : `${f.reason}, may pass on retry`;
}

export interface BackoffOptions {
  /** Delay scale of the first retry. */
  readonly baseMs: number;
  /** No delay is longer. */
  readonly capMs: number;
  /** @default 2 */
  readonly factor?: number;
  /** A number in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/**
 * Delay before retry number `retry` (1 = the first retry): exponential backoff with full jitter
 * (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base·factor^(retry-1))],
 * but never below a tenth of that ceiling, so retries never spin.
 */
export function backoffMs(retry: number, o: BackoffOptions): number {
  const ceiling = Math.min(o.capMs, o.baseMs * Math.pow(o.factor ?? 2, Math.max(0, retry - 1)));
  const r = (o.random ?? Math.random)();
  return Math.round(ceiling * (0.1 + 0.9 * r));
}
