/**
 * The DriftMonitor's check over a payload log (JSON Lines written by the model server, or by the
 * payload sink in a cluster) with the drift library (components/drift): summarize the window of the
 * monitor's model, compare it with the reference summary, map the result to the planner's types.
 */
import { compactHistogram, type HistogramInput } from '../planners/drift-history.ts';
import type { DriftHistogram } from '../../api/crds/types.ts';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  buildReferenceSummary,
  datasetColumns,
  detectDrift,
  detectDriftFromPayloadLog,
  readPair,
  readReferenceSummary,
  type ReferenceSummary,
  type TestName,
} from '../../components/drift/index.ts';
import type { DriftTest } from '../../api/crds/types.ts';
import type { DriftCheckResult } from '../planners/drift.ts';
import type { DriftChecker, DriftMonitorObject } from '../reconcilers/drift-monitor.ts';

/** The CRD's test names and the drift library's, both ways; every CRD test has a library test (checked by the types). */
const TEST_NAMES: Readonly<Record<DriftTest, TestName | 'auto'>> = {
  auto: 'auto',
  ks: 'ks',
  psi: 'psi',
  chi2: 'chisquare',
  'jensen-shannon': 'jensenshannon',
  wasserstein: 'wasserstein',
};
const CRD_TEST: Readonly<Record<TestName, DriftTest>> = {
  ks: 'ks',
  psi: 'psi',
  chisquare: 'chi2',
  jensenshannon: 'jensen-shannon',
  wasserstein: 'wasserstein',
};

const toPath = (uri: string) => (uri.startsWith('file://') ? fileURLToPath(uri) : uri);

export interface PayloadDriftOptions {
  /** The payload log to read for a monitor (a JSON Lines file). */
  readonly payloadLog: (m: DriftMonitorObject) => string;
  /** The model name recorded in the payload log. @default the Model's name (spec.model) */
  readonly modelName?: (m: DriftMonitorObject) => string;
}

function histogramOf(h: HistogramInput | undefined): { histogram?: DriftHistogram } {
  const compact = h ? compactHistogram(h) : undefined;
  return compact ? { histogram: compact } : {};
}

export function payloadDriftChecker(o: PayloadDriftOptions): DriftChecker {
  const cache = new Map<string, { mtimeMs: number; summary: ReferenceSummary }>();
  const reference = async (m: DriftMonitorObject): Promise<ReferenceSummary> => {
    const path = toPath(m.spec.reference.uri);
    const s = await stat(path).catch(() => {
      throw new Error(`DriftMonitor ${m.metadata.namespace}/${m.metadata.name}: spec.reference.uri ${m.spec.reference.uri} not found`);
    });
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === s.mtimeMs) return hit.summary;
    const summary = path.endsWith('.json')
      ? await readReferenceSummary(path)
      : buildReferenceSummary(
          datasetColumns(
            (
              await readPair(
                path,
                path,
                m.spec.features.map((f) => f.name),
              )
            ).reference,
          ),
        );
    cache.set(path, { mtimeMs: s.mtimeMs, summary });
    return summary;
  };
  return async (m, window): Promise<DriftCheckResult> => {
    const ref = await reference(m);
    const tests: Record<string, TestName | 'auto'> = {};
    const thresholds: Partial<Record<TestName, number>> = {};
    for (const f of m.spec.features) tests[f.name] = TEST_NAMES[f.test ?? m.spec.test];
    const t = TEST_NAMES[m.spec.test];
    if (m.spec.thresholds.feature !== undefined && t && t !== 'auto') thresholds[t] = m.spec.thresholds.feature;
    const report = await detectDriftFromPayloadLog(o.payloadLog(m), ref, {
      features: m.spec.features.map((f) => f.name),
      model: o.modelName?.(m) ?? m.spec.model,
      namespace: m.metadata.namespace,
      since: new Date(window.startMs),
      until: new Date(window.endMs),
      window: 'all',
      skipInvalid: true,
      drift: { tests, thresholds, driftShare: m.spec.thresholds.driftShare, columns: m.spec.features.map((f) => f.name), histograms: true },
    });
    const r = report.latest;
    return {
      features: r.columns
        .filter((c) => c.statistic !== null)
        .map((c) => ({
          feature: c.name,
          method: c.test ? CRD_TEST[c.test] : 'ks',
          statistic: c.statistic!,
          threshold: c.threshold,
          drifted: c.drifted,
          ...(c.pValue !== null ? { pValue: c.pValue } : {}),
          ...histogramOf(c.histogram),
        })),
      share: r.driftShare,
      drifted: r.datasetDrift,
      rows: r.rows.current,
      ...(report.skipped > 0 ? { skippedLines: report.skipped } : {}),
      windowStart: new Date(window.startMs).toISOString(),
      windowEnd: new Date(window.endMs).toISOString(),
    };
  };
}

export interface PredictionDriftOptions {
  readonly payloadLog: (model: string) => string;
  /** @default 50 */
  readonly minRows?: number;
  /**
   * Told after a read that skipped unreadable lines (a torn or corrupt record): how many, and the
   * first one as `file:line: why`. The check uses the readable rest instead of failing.
   */
  readonly onSkipped?: (skipped: number, first: string) => void;
}

/**
 * Prediction drift between a canary and the stable version: PSI of the canary's first output
 * against the stable's, over the step window of the payload log. null when either side has fewer
 * than `minRows` predictions. Unreadable lines are skipped and counted (`onSkipped`).
 */
export function payloadPredictionDrift(o: PredictionDriftOptions) {
  return async (m: { spec: { modelRef: { name: string } } }, stable: number, canary: number, sinceMs: number, now: number): Promise<number | null> => {
    const { createReadStream } = await import('node:fs');
    const { createInterface } = await import('node:readline');
    const name = m.spec.modelRef.name;
    const vals: Record<string, number[]> = { [String(stable)]: [], [String(canary)]: [] };
    const file = o.payloadLog(name);
    let skipped = 0;
    let firstBad = '';
    let lineNo = 0;
    let stream;
    try {
      stream = createReadStream(file);
      for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
        lineNo++;
        if (!line) continue;
        let rec: { ts?: string; model?: string; version?: string; outputs?: Record<string, { data?: unknown[] }> };
        try {
          rec = JSON.parse(line);
          if (!rec || typeof rec !== 'object') throw new Error('not a JSON object');
        } catch (e) {
          if (skipped++ === 0) firstBad = `${file}:${lineNo}: ${(e as Error).message}`;
          continue;
        }
        if (rec.model !== name || !rec.version || !(rec.version in vals) || !rec.ts) continue;
        const t = Date.parse(rec.ts);
        if (t < sinceMs || t > now) continue;
        const first = Object.values(rec.outputs ?? {})[0]?.data;
        const v = Array.isArray(first) ? Number(first.flat(4)[0]) : NaN;
        if (Number.isFinite(v)) vals[rec.version].push(v);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    } finally {
      stream?.destroy();
    }
    if (skipped > 0) o.onSkipped?.(skipped, firstBad);
    const a = vals[String(stable)];
    const b = vals[String(canary)];
    if (a.length < (o.minRows ?? 50) || b.length < (o.minRows ?? 50)) return null;
    const r = detectDrift(
      [{ name: 'prediction', type: 'numeric', values: Float64Array.from(a) }],
      [{ name: 'prediction', type: 'numeric', values: Float64Array.from(b) }],
      { tests: 'psi', histograms: false },
    );
    return r.columns[0]?.statistic ?? null;
  };
}
