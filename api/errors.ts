/**
 * Validation errors for everything ghosteam synthesizes. One issue names the construct path (or the
 * file and object), the field, what is wrong and how to fix it:
 *   `fraud/train: 'resources.gpu.count' (0) must be at least 1; request 1 or more GPUs, or drop 'gpu'`
 * All message builders for constructs live next to the check that uses them; this file only formats.
 */
export interface Issue {
  /** Construct path (`app/fraud/train`) or `file#kind/name` for YAML being validated. */
  readonly path: string;
  /** Dotted field inside the object/construct, e.g. `spec.templates[0].container.image`. */
  readonly field: string;
  /** What is wrong, then `; ` and how to fix it. */
  readonly message: string;
}

export function formatIssue(i: Issue): string {
  return i.field ? `${i.path}: '${i.field}' ${i.message}` : `${i.path}: ${i.message}`;
}

export class ValidationError extends Error {
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[], options?: { cause?: unknown }) {
    const lines = issues.map(formatIssue);
    super(lines.length === 1 ? lines[0] : `${lines.length} validation errors:\n  ${lines.join('\n  ')}`, options);
    this.name = 'ValidationError';
    this.issues = issues;
  }
  /** The path of the first issue (the place to look). */
  get path(): string {
    return this.issues[0]?.path ?? '';
  }
}

/** Throws one ValidationError holding every issue, or does nothing. */
export function throwIfIssues(issues: readonly Issue[]): void {
  if (issues.length > 0) throw new ValidationError(issues);
}
