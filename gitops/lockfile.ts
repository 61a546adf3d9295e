/**
 * `models.lock.json`: the version pins that automation writes back to Git and that the `Model`
 * construct reads, so that a promoted model stays promoted after Argo CD syncs.
 *
 *   { "models": { "fraud": { "version": 4, "previous": 3, "promotedAt": "2026-…Z",
 *                            "reason": "drift", "metrics": { "auc": 0.91 } } } }
 *
 * Serialization is stable (models sorted by name, fixed field order, metrics sorted, two-space
 * indent, trailing newline), so rewriting an unchanged file is a no-op in Git. Pure.
 */

import { LOCK_FILE } from '../api/lock.ts';
import { TRAINING_REASONS, type TrainingReason } from '../api/crds/types.ts';

export { LOCK_FILE };

/** Why the promoted version was trained: its TrainingRun's reason (api/crds/types.ts). */
export type PromotionReason = TrainingReason;
export const PROMOTION_REASONS: readonly PromotionReason[] = TRAINING_REASONS;

export interface ModelPin {
  readonly version: number;
  readonly previous?: number;
  /** ISO-8601. */
  readonly promotedAt: string;
  readonly reason: PromotionReason;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface ModelsLock {
  readonly models: Readonly<Record<string, ModelPin>>;
}

export class LockFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockFileError';
  }
}

const NAME = /^[A-Za-z0-9][-A-Za-z0-9_.]*$/;

function positiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

/** Checks one pin; `where` names it in errors ('models.lock.json: models.fraud'). */
export function validatePin(raw: unknown, where: string): ModelPin {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new LockFileError(`${where} must be an object with version, promotedAt, reason and metrics`);
  const p = raw as Record<string, unknown>;
  if (!positiveInt(p.version)) throw new LockFileError(`${where}.version must be a positive integer (got ${JSON.stringify(p.version)})`);
  if (p.previous !== undefined && !positiveInt(p.previous))
    throw new LockFileError(`${where}.previous must be a positive integer or absent (got ${JSON.stringify(p.previous)})`);
  if (typeof p.promotedAt !== 'string' || Number.isNaN(Date.parse(p.promotedAt))) {
    throw new LockFileError(`${where}.promotedAt must be an ISO-8601 time such as 2026-01-31T12:00:00.000Z (got ${JSON.stringify(p.promotedAt)})`);
  }
  if (!PROMOTION_REASONS.includes(p.reason as PromotionReason)) {
    throw new LockFileError(`${where}.reason must be one of ${PROMOTION_REASONS.join(', ')} (got ${JSON.stringify(p.reason)})`);
  }
  const metrics = p.metrics ?? {};
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) throw new LockFileError(`${where}.metrics must be an object of numbers`);
  for (const [k, v] of Object.entries(metrics)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new LockFileError(`${where}.metrics.${k} must be a finite number (got ${JSON.stringify(v)})`);
  }
  return {
    version: p.version,
    ...(p.previous !== undefined ? { previous: p.previous } : {}),
    promotedAt: p.promotedAt,
    reason: p.reason as PromotionReason,
    metrics: metrics as Record<string, number>,
  };
}

/** Parses the lock file's text; '' or absent means no pins. Errors name the file and field. */
export function parseLock(text: string | undefined, file = LOCK_FILE): ModelsLock {
  if (text === undefined || text.trim() === '') return { models: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new LockFileError(`${file} is not valid JSON (${(e as Error).message}); fix or delete it`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new LockFileError(`${file} must be an object of the form { "models": { ... } }`);
  const models = (raw as { models?: unknown }).models ?? {};
  if (typeof models !== 'object' || models === null || Array.isArray(models))
    throw new LockFileError(`${file}: 'models' must be an object keyed by model name`);
  const out: Record<string, ModelPin> = {};
  for (const [name, pin] of Object.entries(models)) {
    if (!NAME.test(name)) throw new LockFileError(`${file}: '${name}' is not a model name (letters, digits, '-', '_' and '.')`);
    out[name] = validatePin(pin, `${file}: models.${name}`);
  }
  return { models: out };
}

/** Stable text: sorted model names and metrics, fixed field order, trailing newline. */
export function serializeLock(lock: ModelsLock): string {
  const models: Record<string, unknown> = {};
  for (const name of Object.keys(lock.models).sort()) {
    const p = lock.models[name];
    const metrics: Record<string, number> = {};
    for (const k of Object.keys(p.metrics).sort()) metrics[k] = p.metrics[k];
    models[name] = {
      version: p.version,
      ...(p.previous !== undefined ? { previous: p.previous } : {}),
      promotedAt: p.promotedAt,
      reason: p.reason,
      metrics,
    };
  }
  return `${JSON.stringify({ models }, null, 2)}\n`;
}

export interface PinRequest {
  readonly model: string;
  readonly version: number;
  readonly reason: PromotionReason;
  readonly metrics?: Readonly<Record<string, number>>;
  /** ISO-8601; the caller's clock. */
  readonly promotedAt: string;
  /** The version it replaces; defaults to the version currently pinned. */
  readonly previous?: number;
}

export type PinOutcome =
  | { readonly kind: 'pinned'; readonly lock: ModelsLock; readonly previous?: number }
  /** The same version is already pinned: nothing to write. */
  | { readonly kind: 'unchanged'; readonly lock: ModelsLock }
  /** A newer version is already pinned (another writer won): never downgrade. */
  | { readonly kind: 'superseded'; readonly lock: ModelsLock; readonly pinned: number };

/**
 * Applies a promotion to the lock. Re-applied after every fetch during a push race, so it must be
 * a function of the *current* file: it never downgrades and never drops another model's pin.
 */
export function applyPin(lock: ModelsLock, req: PinRequest): PinOutcome {
  if (!NAME.test(req.model)) throw new LockFileError(`'${req.model}' is not a model name (letters, digits, '-', '_' and '.')`);
  const pin = validatePin(
    { version: req.version, previous: req.previous, promotedAt: req.promotedAt, reason: req.reason, metrics: req.metrics ?? {} },
    `pin for ${req.model}`,
  );
  const current = lock.models[req.model];
  if (current && current.version === req.version) return { kind: 'unchanged', lock };
  if (current && current.version > req.version) return { kind: 'superseded', lock, pinned: current.version };
  const previous = req.previous ?? current?.version;
  const next: ModelPin = { ...pin, ...(previous !== undefined ? { previous } : {}) };
  return { kind: 'pinned', lock: { models: { ...lock.models, [req.model]: next } }, ...(previous !== undefined ? { previous } : {}) };
}

function fmtMetric(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

export const WRITEBACK_TRAILER = 'Ghosteam-Writeback';

/**
 * The write-back commit message: names the model, versions, metrics and reason, and ends with the
 * `Ghosteam-Writeback: true` trailer that `ghosteam watch` and the operator use to ignore it.
 */
export function writebackMessage(req: PinRequest, previous: number | undefined, lockFile = LOCK_FILE): string {
  const from = previous !== undefined ? `v${previous} → ` : '';
  const metrics = Object.keys(req.metrics ?? {})
    .sort()
    .map((k) => `${k}=${fmtMetric((req.metrics ?? {})[k])}`);
  const lines = [
    `Pin ${req.model} to v${req.version} (${req.reason})`,
    '',
    `Model ${req.model} was promoted ${from}v${req.version} on ${req.promotedAt} because of ${req.reason}.`,
    metrics.length > 0 ? `Metrics: ${metrics.join(', ')}.` : 'No metrics were recorded.',
    `Written by ghosteam to ${lockFile}; this commit does not trigger retraining.`,
    '',
    `${WRITEBACK_TRAILER}: true`,
    `Ghosteam-Model: ${req.model}@${req.version}`,
  ];
  return `${lines.join('\n')}\n`;
}
