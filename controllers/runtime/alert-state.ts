/**
 * The embedded operator's alert state on disk: the alerts pending or firing now, written to
 * `<stateDir>/alerts.json` (atomically) after every evaluation that changed something, so that
 * `ghosteam ui` over the same state directory shows them (it watches the folder). One writer: the
 * local operator's LocalAlertEvaluator. In a cluster, alerts are Prometheus' and Alertmanager's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { LocalAlert } from '../planners/alerts.ts';

export const ALERTS_FILE = 'alerts.json';

export interface AlertStateFile {
  readonly updatedAt: string;
  readonly alerts: readonly LocalAlert[];
}

export async function writeAlertState(stateDir: string, alerts: readonly LocalAlert[], now: number): Promise<void> {
  const body: AlertStateFile = { updatedAt: new Date(now).toISOString(), alerts };
  await writeFileAtomic(join(stateDir, ALERTS_FILE), `${JSON.stringify(body, null, 1)}\n`);
}

/** The alerts pending or firing as last written; none when the operator evaluates no alerts (no file). */
export function readAlertState(stateDir: string): LocalAlert[] {
  const f = join(stateDir, ALERTS_FILE);
  if (!existsSync(f)) return [];
  try {
    const parsed = JSON.parse(readFileSync(f, 'utf8')) as Partial<AlertStateFile>;
    return Array.isArray(parsed.alerts) ? [...parsed.alerts] : [];
  } catch {
    return []; // being replaced right now: the next read (on its change event) sees it
  }
}
