/**
 * Entity keys as a request gives them: the join keys of a set of entities, and one key's values
 * checked against their declared types and encoded for lookup. Pure, and free of the dataset
 * format, so the model server's feature lookup loads without it.
 */
import { TerminalFailure } from '../../api/failure.ts';
import type { EntityDef, JoinKeyType } from '../../api/crds/types.ts';

/** The largest int64 key value kept exactly (a JavaScript number). */
export const INT64_MAX = Number.MAX_SAFE_INTEGER;

/** Bad feature data or a bad request (a missing column, a key of the wrong type): terminal, a retry reads the same. */
export class FeaturesError extends TerminalFailure {
  constructor(message: string) {
    super('InvalidInput', message);
    this.name = 'FeaturesError';
  }
}

/** Every join key of the entities, in order: what a view's rows are looked up by. */
export function joinKeysOf(entities: readonly EntityDef[]): { name: string; type: JoinKeyType }[] {
  return entities.flatMap((e) => e.joinKeys);
}

/** Encodes one entity key given as plain values (an online request): checks each value's type. */
export function encodeKeyValues(keys: readonly { name: string; type: JoinKeyType }[], values: Readonly<Record<string, unknown>>, where: string): string {
  const parts: string[] = [];
  for (const k of keys) {
    const v = values[k.name];
    if (v === undefined || v === null) throw new FeaturesError(`${where}: join key '${k.name}' is missing; give ${keys.map((x) => x.name).join(', ')}`);
    if (k.type === 'int64') {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || Math.abs(n) > INT64_MAX)
        throw new FeaturesError(`${where}: join key '${k.name}' is ${JSON.stringify(v)}, not a whole number (declared int64)`);
      parts.push(String(n));
    } else {
      if (typeof v !== 'string') throw new FeaturesError(`${where}: join key '${k.name}' is ${JSON.stringify(v)}, not a string (declared string)`);
      parts.push(v);
    }
  }
  return parts.join('\u001f');
}
