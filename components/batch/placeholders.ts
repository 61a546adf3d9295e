/**
 * Time placeholders in a batch prediction's input and output paths, rendered once per run, so a
 * scheduled job writes each run's predictions to a path of its own instead of over the last one:
 *
 *   s3://data/fraud/scores/{date}.parquet     → s3://data/fraud/scores/2026-12-02.parquet
 *   /data/scores/{year}/{month}/{datetime}.csv → /data/scores/2026/12/20261202T040000Z.csv
 *
 * {date} YYYY-MM-DD, {datetime} YYYYMMDDTHHMMSSZ (no colons: valid in S3 keys and file names),
 * {year}, {month}, {day}, {hour} (zero-padded), all in UTC. The time is the run's `runTime` param
 * (RFC 3339, e.g. to score a past day again), else when the step starts. Pure: template and time in,
 * path out.
 */

export const PLACEHOLDERS = ['date', 'datetime', 'year', 'month', 'day', 'hour'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const TOKEN = /\{([^{}]*)\}/g;

/** The placeholders `template` uses, in order; throws naming an unknown one and the known ones. */
export function placeholdersOf(template: string): Placeholder[] {
  const found: Placeholder[] = [];
  for (const m of template.matchAll(TOKEN)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(m[1]))
      throw new Error(`'${template}' has the placeholder {${m[1]}}, which is not one of ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`);
    found.push(m[1] as Placeholder);
  }
  return found;
}

/** Whether `template` has a time placeholder (an unknown one throws). */
export function hasPlaceholders(template: string): boolean {
  return placeholdersOf(template).length > 0;
}

/** `template` with each placeholder replaced by `at` in UTC. */
export function renderPath(template: string, at: Date): string {
  placeholdersOf(template);
  if (Number.isNaN(at.getTime())) throw new Error(`can't render '${template}': the time is not a valid date`);
  const iso = at.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const parts: Record<Placeholder, string> = {
    date: iso.slice(0, 10),
    datetime: `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`,
    year: iso.slice(0, 4),
    month: iso.slice(5, 7),
    day: iso.slice(8, 10),
    hour: iso.slice(11, 13),
  };
  return template.replace(TOKEN, (_, name: Placeholder) => parts[name]);
}

/**
 * `text` (a SQL query) with each known placeholder replaced as renderPath does; any other braces are
 * left as they are (a JSON literal in SQL is not a placeholder).
 */
export function renderText(text: string, at: Date): string {
  return text.replace(/\{(date|datetime|year|month|day|hour)\}/g, (token) => renderPath(token, at));
}

/** An RFC 3339 time (`2026-12-02T04:00:00Z`, an offset, or a date alone as midnight UTC), or an error naming the value. */
export function parseRunTime(s: string): Date {
  const ok = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(s);
  const d = new Date(/T/.test(s) ? s : `${s}T00:00:00Z`);
  if (!ok || Number.isNaN(d.getTime())) throw new Error(`runTime '${s}' is not an RFC 3339 time; write e.g. 2026-12-02T04:00:00Z or 2026-12-02`);
  return d;
}
