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
  if (!models || typeof models !== 'object' || Array.isArray(models))
    bad('models', 'must be an object mapping model names to pins, e.g. {"fraud": {"version": 3}}');
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

/**
 * What is wrong with a write-back target, or undefined. `names` are what the user typed them as
 * (the flags, by default), so the message points at the right place.
 */
export function writeBackTargetProblem(
  t: { readonly repo: string; readonly branch: string; readonly lockFile: string },
  names = { repo: '--git-repo', branch: '--git-branch', lockFile: '--lock-file' },
): string | undefined {
  if (t.repo.trim() === '') return `${names.repo} needs a Git URL (https://, ssh://, git@host:path) or a path to a repository`;
  const b = t.branch;
  if (!/^[^\s~^:?*[\\\x00-\x1f\x7f]+$/.test(b) || /^[-/.]|\.\.|\/\/|@\{|\/\.|\.lock$|[/.]$/.test(b) || b === '@') {
    return `${names.branch} '${b}' is not a valid branch name (see git check-ref-format)`;
  }
  const parts = t.lockFile.split('/');
  if (t.lockFile.startsWith('/') || /^[A-Za-z]:|\\/.test(t.lockFile) || parts.some((p) => p === '' || p === '.' || p === '..')) {
    return `${names.lockFile} '${t.lockFile}' must be a path inside the repository, relative to its root, e.g. deploy/${LOCK_FILE}`;
  }
  if (parts[parts.length - 1] !== LOCK_FILE)
    return `${names.lockFile} '${t.lockFile}' must be named ${LOCK_FILE}: the Model construct reads the ${LOCK_FILE} next to the app`;
  return undefined;
}
