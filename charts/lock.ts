/**
 * models.lock.json: version pins written by GitOps on promotion, read by the Model construct.
 *   { "models": { "<name>": { "version": 3, ...anything else the writer records } } }
 * The file is optional; a model absent from it follows its alias.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from './errors.ts';

export const LOCK_FILE = 'models.lock.json';

export interface ModelPin {
  readonly version: number;
  readonly [key: string]: unknown;
}
export interface ModelsLock {
  readonly models: Readonly<Record<string, ModelPin>>;
}

/** Validates parsed lock content; `file` is used in messages. */
export function parseModelsLock(data: unknown, file: string): ModelsLock {
  const bad = (field: string, message: string): never => {
    throw new ValidationError([{ path: file, field, message }]);
  };
  if (!data || typeof data !== 'object' || Array.isArray(data)) bad('', 'must be a JSON object like {"models": {"fraud": {"version": 3}}}');
  const models = (data as { models?: unknown }).models;
  if (!models || typeof models !== 'object' || Array.isArray(models)) bad('models', 'must be an object mapping model names to pins, e.g. {"fraud": {"version": 3}}');
  for (const [name, pin] of Object.entries(models as Record<string, unknown>)) {
    if (!pin || typeof pin !== 'object') bad(`models.${name}`, 'must be an object with a version, e.g. {"version": 3}');
    const v = (pin as { version?: unknown }).version;
    if (!Number.isInteger(v) || (v as number) < 1) bad(`models.${name}.version`, `must be a whole number >= 1, got ${JSON.stringify(v)}`);
  }
  return data as ModelsLock;
}

/** Reads `dir/models.lock.json`; undefined when the file doesn't exist. */
export function readModelsLock(dir: string): ModelsLock | undefined {
  const file = join(dir, LOCK_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ValidationError([{ path: file, field: '', message: `is not valid JSON (${(err as Error).message}); fix or delete the file` }]);
  }
  return parseModelsLock(data, file);
}
