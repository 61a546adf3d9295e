/** Deterministic, DNS-1123-safe names for the objects the operator creates (used for deduplication). */
import { createHash } from 'node:crypto';

/** Joins parts into a DNS-1123 label of at most `max` characters, shortening the first part with a hash when needed. */
export function dnsName(parts: readonly string[], max = 63): string {
  const clean = parts.map((p) =>
    p
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, ''),
  );
  const joined = clean.join('-');
  if (joined.length <= max) return joined;
  const hash = createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 8);
  const rest = clean.slice(1).join('-');
  const room = Math.max(1, max - rest.length - hash.length - 2);
  return `${clean[0].slice(0, room).replace(/-+$/, '')}-${hash}${rest ? `-${rest}` : ''}`.slice(0, max).replace(/-+$/, '');
}

/** '2026-11-23T04:05:00Z' → '20261123t040500'. */
export function compactTime(iso: string): string {
  return iso.replace(/\.\d+/, '').replace(/[-:]/g, '').replace('Z', '').toLowerCase();
}
