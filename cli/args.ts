import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
/** Parsing of option values shared by the commands in cli/commands/ (this file is not a command). */

/** An integer option value of at least `min`; the error names the flag and the value. */
export function intArg(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} expects an integer ≥ ${min}, got '${v}'`);
  return n;
}

/** The local operator's state directory from --state-dir, absolute; an error naming the fix when there is none. */
export function localStateDir(flag: string): string {
  const dir = resolve(flag);
  if (!existsSync(dir))
    throw new Error(`--state-dir ${flag}: no local operator state here; start one with \`ghosteam operator --local\` or pass --kubeconfig for a cluster`);
  return dir;
}

/**
 * A --delimiter value: one character (one UTF-16 unit, as the CSV readers compare them); `\t` (as
 * a shell passes it, two characters) or `tab` for a tab. A quote or a line break cannot delimit fields.
 */
export function delimiterArg(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const d = v === '\\t' || v === 'tab' ? '\t' : v;
  if (d.length !== 1 || d === '"' || d === '\n' || d === '\r')
    throw new Error(`--delimiter '${v}': give one character other than a quote or a line break, e.g. ';', '|' or '\\t' for a tab`);
  return d;
}

/** A --format value for data ingest reads: csv, jsonl or parquet (undefined: by the extension). */
export function dataFormatArg(v: string | undefined): 'csv' | 'jsonl' | 'parquet' | undefined {
  if (v === undefined) return undefined;
  if (v === 'csv' || v === 'jsonl' || v === 'parquet') return v;
  throw new Error(`--format '${v}': give csv, jsonl or parquet (without it, the file's extension decides)`);
}

/** Commander's collector for a repeatable option (`--header A --header B` → ['A', 'B']). */
export const repeatable = (v: string, acc: string[] = []): string[] => [...acc, v];

/**
 * --header NAME=env:VAR values (repeatable) → ingest's headers param. The value is a reference that
 * ingest resolves from the environment and checks (a literal value is refused there, never echoed).
 */
export function headersArg(hs: readonly string[] | undefined): Record<string, string> | undefined {
  if (!hs?.length) return undefined;
  const out: Record<string, string> = {};
  for (const h of hs) {
    const i = h.indexOf('=');
    if (i <= 0) throw new Error(`--header '${h}': give NAME=env:VAR, e.g. Authorization=env:API_TOKEN (the value comes from that environment variable)`);
    out[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  return out;
}
