/** Name and duration rules shared by every construct. Pure. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` is not a DNS-1123 label, or undefined when it is. */
export function dnsLabelProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 63) return `is ${name.length} characters long; Kubernetes names are at most 63`;
  if (!DNS1123_LABEL.test(name)) return "is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit)";
  return undefined;
}

/** A suggestion for a DNS-1123 label close to `name`. */
export function toDnsLabel(name: string): string {
  const s = name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
  return s || 'x';
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** '90s', '5m', '1h30m', '7d' or a number of seconds → seconds. Throws a plain message on bad input. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${value} is not a duration; use a number of seconds >= 0 or a string like '5m'`);
    return Math.round(value);
  }
  const re = /(\d+(?:\.\d+)?)([smhd])/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    total += Number(m[1]) * UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== value.length) {
    throw new Error(`'${value}' is not a duration; write e.g. '30s', '5m', '1h30m' or '7d'`);
  }
  return Math.round(total);
}

/** Seconds → the shortest Argo/Go duration string ('90s' → '1m30s'). */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  let rest = seconds;
  let out = '';
  for (const [u, n] of [
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const q = Math.floor(rest / n);
    if (q > 0) out += `${q}${u}`;
    rest -= q * n;
  }
  return out;
}
