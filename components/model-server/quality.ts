/**
 * Model quality from delayed ground truth: the model server (and the payload sink) remember each
 * prediction by its request id, labels arrive later through `POST /v2/models/{name}/feedback`, and
 * the joined pairs feed quality metrics per model and version over a sliding window.
 *
 *   POST /v2/models/fraud/feedback
 *   {"id": "<request id>", "label": 1, "timestamp": "2026-12-02T03:00:00Z"}        one label
 *   [{"id": "a", "label": 0}, {"id": "b", "label": [1, 0], ...}]                     a batch
 *   {"id": "c", "row": 3, "label": 1}                                                one row of a batch request
 *
 * `id` is the request's id (the `id` of the inference answer, the payload log's `id`); `label` is a
 * scalar (a one-row request, or the row `row`), or an array with one label per row; `timestamp` is
 * when the outcome was observed (default: when the feedback arrived); it places the pair in the window.
 *
 * Answers: 200 `{"accepted", "matched", "duplicates", "corrected", "late", "unmatched", "unmatchedIds"}`
 * when at least one label joined a prediction; 404 (the same body, with `error`) when none did: an
 * unknown request id is the client's mistake, but its label is kept (logged, and held in memory for
 * the window's length) so that a prediction logged later still joins it; 400 naming the item and
 * field for a malformed item or a label of the wrong type (nothing of that request is taken); 413
 * over `maxItems`; 429 + Retry-After while the feedback log is behind (a flood).
 *
 * - **Durable.** With `file`, every accepted label is appended to a JSON Lines log (fsynced before
 *   the answer, group commit: ./jsonl-file.ts) and replayed on start, so the windows and the
 *   duplicate check survive a restart; unmatched labels come back as pending.
 * - **Duplicates.** The same label for the same (id, row) again is counted and ignored (a retry is
 *   harmless); a different label replaces the earlier one (counted as `corrected`).
 * - **Late.** A label whose timestamp is older than the window is joined and logged but counted as
 *   `late` and left out of the window; a prediction evicted from the index (more than
 *   `maxPredictions` newer ones) makes its label unmatched.
 * - **Task.** Binary (accuracy, precision, recall, F1, ROC AUC, calibration error), multiclass
 *   (accuracy, macro F1) or regression (RMSE, MAE), from `tasks[model]`, else from the output: k ≥ 2
 *   columns is a classifier (k = 2 binary, scoring column 1), one column is binary when its first
 *   label is 0/1/true/false and regression otherwise. The metrics are ../evaluate/metrics.ts's, the
 *   ones `evaluate` reports at training time, so serving and training quality agree.
 */
import { evaluateBinary, evaluateMulticlass, evaluateRegression } from '../evaluate/metrics.ts';
import { JsonlFile } from './jsonl-file.ts';
import type { PayloadRecord, PayloadTensor } from './payload-log.ts';
import { RequestError } from './tensors.ts';
import { readFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import { QUALITY_MIN_SAMPLES, QUALITY_TASKS, type QualityMetric, type QualityTask } from '../../api/quality.ts';
import { estimateCbpe, fitCbpe, type CbpeEstimate } from './cbpe.ts';

export { QUALITY_TASKS, type QualityTask } from '../../api/quality.ts';

/** Feedback outcomes, the `outcome` label of ghosteam_model_feedback_total. */
export const FEEDBACK_OUTCOMES = ['matched', 'duplicate', 'corrected', 'late', 'unmatched', 'invalid', 'refused'] as const;
export type FeedbackOutcome = (typeof FEEDBACK_OUTCOMES)[number];

/** @see QualityOptions */
export const QUALITY_DEFAULTS = {
  windowMs: 60 * 60 * 1000,
  maxPredictions: 100_000,
  maxWindowSamples: 50_000,
  maxPending: 10_000,
  maxItems: 10_000,
  maxQueuedBytes: 16 * 1024 * 1024,
  threshold: 0.5,
  calibrationBins: 10,
} as const;

export interface QualityOptions {
  /** JSON Lines log of every accepted label (fsynced before the answer), replayed on start. Without it labels live in memory only. */
  readonly file?: string;
  /** The sliding window quality is computed over, by the label's timestamp. @default 3600000 (1 h) */
  readonly windowMs?: number;
  /** Predictions remembered for joining (oldest forgotten first). @default 100000 */
  readonly maxPredictions?: number;
  /** Joined pairs kept per version (oldest dropped first). @default 50000 */
  readonly maxWindowSamples?: number;
  /** Unmatched labels held for a prediction logged later. @default 10000 */
  readonly maxPending?: number;
  /** Items in one feedback request; more is a 413. @default 10000 */
  readonly maxItems?: number;
  /** Bytes waiting for the disk past which feedback is refused with a 429. @default 16 MiB */
  readonly maxQueuedBytes?: number;
  /** The task per model name; otherwise inferred (see the module comment). */
  readonly tasks?: Readonly<Record<string, QualityTask>>;
  /** The output tensor holding the prediction, per model name. @default - the model's first output */
  readonly outputs?: Readonly<Record<string, string>>;
  /** Score at or above which a binary prediction is class 1. @default 0.5 */
  readonly threshold?: number;
  /** Where replay problems are reported. @default stderr */
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

/** One item of a feedback request, validated. */
export interface FeedbackItem {
  readonly id: string;
  /** The row of a multi-row request this label is for; absent = every row (label array) or row 0. */
  readonly row?: number;
  readonly label: LabelValue | readonly LabelValue[];
  /** Epoch ms when the outcome was observed. */
  readonly timestamp: number;
}

export type LabelValue = number | boolean;

export interface FeedbackResult {
  /** Labels (rows) taken: matched, duplicates, corrected and late, plus unmatched ones kept pending. */
  readonly accepted: number;
  readonly matched: number;
  readonly duplicates: number;
  readonly corrected: number;
  readonly late: number;
  readonly unmatched: number;
  /** Request ids no prediction was found for (at most 100 listed). */
  readonly unmatchedIds: readonly string[];
}

/** Quality metric values by name (api/quality.ts names them once); a metric undefined on a window is absent. */
export type QualityMetrics = { readonly [M in QualityMetric]?: number };

export interface VersionQuality {
  readonly task: QualityTask;
  /** Labelled predictions in the window. */
  readonly samples: number;
  readonly windowSeconds: number;
  /** Absent metrics are undefined on this window (ROC AUC with one class only). */
  readonly metrics: QualityMetrics;
}

/** Counts by outcome, per model and version (version '' for labels that matched nothing). */
export type FeedbackCounts = Record<FeedbackOutcome, number>;

interface Prediction {
  readonly model: string;
  readonly version: string;
  readonly ts: number;
  /** Columns per row. */
  readonly k: number;
  readonly rows: number;
  readonly data: Float64Array;
  /** Labels already joined, by row. */
  labels?: Map<number, number>;
}

interface Sample {
  readonly ts: number;
  readonly y: number;
  /** Row-major k values. */
  readonly p: Float64Array;
  readonly key: string;
}

interface Series {
  task?: QualityTask;
  k: number;
  samples: Sample[];
  cache?: { at: number; count: number; value: VersionQuality };
  estimate?: { at: number; count: number; predictions: number; value: CbpeEstimate | undefined };
  dirty: boolean;
}

/** A row a label was taken for, with the prediction it joined. */
interface Taken {
  readonly row: number;
  readonly y: number;
  readonly p: readonly number[];
}

/** A line of the feedback log as read back (see logLine). */
interface LogLine {
  readonly ts?: string;
  readonly model?: unknown;
  readonly id?: unknown;
  readonly timestamp?: string;
  readonly unmatched?: unknown;
  readonly row?: unknown;
  readonly label?: unknown;
  readonly version?: unknown;
  readonly task?: unknown;
  readonly k?: number;
  readonly rows?: ReadonlyArray<{ row: number; y: number; p: number[] }>;
}

interface PendingLabel {
  readonly model: string;
  readonly item: FeedbackItem;
  readonly arrived: number;
}

const isLabel = (v: unknown): v is LabelValue => typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return typeof v === 'number' ? String(v) : `a ${typeof v}`;
}

/**
 * Validates a feedback body (one item or an array of items). Throws a 400 naming the item and field
 * and how to fix it; nothing of a request with a bad item is taken.
 */
export function parseFeedback(body: unknown, now: number, maxItems: number = QUALITY_DEFAULTS.maxItems): FeedbackItem[] {
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new RequestError(400, 'the feedback body is an empty array; send {"id": "<request id>", "label": <label>} or an array of them');
  if (list.length > maxItems)
    throw new RequestError(413, `the feedback body has ${list.length} items; at most ${maxItems} go in one request, send the rest in further requests`);
  return list.map((raw, i) => {
    const at = Array.isArray(body) ? `feedback[${i}]` : 'feedback';
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new RequestError(400, `${at} must be a JSON object like {"id": "<request id>", "label": 1}; got ${describe(raw)}`);
    const o = raw as Record<string, unknown>;
    for (const key of Object.keys(o))
      if (!['id', 'label', 'timestamp', 'row'].includes(key))
        throw new RequestError(400, `${at}.${key} is not a feedback field; the fields are id, label, timestamp and row`);
    if (typeof o.id !== 'string' || o.id === '')
      throw new RequestError(400, `${at}.id must be the request id (a non-empty string: the 'id' of the inference answer); got ${describe(o.id)}`);
    if (o.row !== undefined && !(Number.isInteger(o.row) && (o.row as number) >= 0))
      throw new RequestError(400, `${at}.row must be a row index (an integer >= 0); got ${describe(o.row)}`);
    let label: LabelValue | LabelValue[];
    if (Array.isArray(o.label)) {
      if (o.row !== undefined) throw new RequestError(400, `${at}: give either a label array (one per row) or a row with one label, not both`);
      if (o.label.length === 0) throw new RequestError(400, `${at}.label is an empty array; send one label per row of the request`);
      const bad = o.label.findIndex((x) => !isLabel(x));
      if (bad >= 0) throw new RequestError(400, `${at}.label[${bad}] must be a number or a boolean; got ${describe(o.label[bad])}`);
      label = o.label as LabelValue[];
    } else if (isLabel(o.label)) label = o.label;
    else throw new RequestError(400, `${at}.label must be a number or a boolean (or an array of them, one per row); got ${describe(o.label)}`);
    let timestamp = now;
    if (o.timestamp !== undefined) {
      const t = typeof o.timestamp === 'number' ? o.timestamp : typeof o.timestamp === 'string' ? Date.parse(o.timestamp) : NaN;
      if (!Number.isFinite(t))
        throw new RequestError(400, `${at}.timestamp must be an RFC 3339 time ("2026-12-02T03:00:00Z") or epoch milliseconds; got ${describe(o.timestamp)}`);
      timestamp = t;
    }
    return { id: o.id, ...(o.row !== undefined ? { row: o.row as number } : {}), label, timestamp };
  });
}

/** The rows × k predictions of a payload tensor ([n], [n, 1] or [n, k]). */
function predictionMatrix(t: PayloadTensor): { rows: number; k: number; data: Float64Array } | undefined {
  const shape = t.shape;
  if (shape.length === 0 || shape.length > 2 || t.datatype === 'BYTES') return undefined;
  const rows = shape[0];
  const k = shape.length === 2 ? shape[1] : 1;
  const src = t.data as ArrayLike<unknown>;
  if (src.length !== rows * k) return undefined;
  const data = new Float64Array(rows * k);
  for (let i = 0; i < data.length; i++) {
    const v = src[i];
    data[i] = typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
  }
  return { rows, k, data };
}

const labelNumber = (v: LabelValue): number => (typeof v === 'boolean' ? (v ? 1 : 0) : v);

export class QualityMonitor {
  private readonly predictions = new Map<string, Prediction>();
  /** Predictions observed so far (an estimate is recomputed when it changes). */
  private observed = 0;
  private readonly series = new Map<string, Series>();
  private readonly pending = new Map<string, PendingLabel[]>();
  private pendingCount = 0;
  /** Labels joined but whose prediction has been forgotten since, for the duplicate check: key → label. */
  private readonly labelled = new Map<string, number>();
  private readonly counts = new Map<string, FeedbackCounts>();
  private out: JsonlFile | undefined;
  readonly windowMs: number;
  private readonly o: QualityOptions;
  private readonly now: () => number;
  private readonly maxPredictions: number;
  private readonly maxWindowSamples: number;
  private readonly maxPending: number;
  readonly maxItems: number;
  private readonly maxQueuedBytes: number;
  private readonly threshold: number;

  private constructor(o: QualityOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
    this.windowMs = o.windowMs ?? QUALITY_DEFAULTS.windowMs;
    this.maxPredictions = o.maxPredictions ?? QUALITY_DEFAULTS.maxPredictions;
    this.maxWindowSamples = o.maxWindowSamples ?? QUALITY_DEFAULTS.maxWindowSamples;
    this.maxPending = o.maxPending ?? QUALITY_DEFAULTS.maxPending;
    this.maxItems = o.maxItems ?? QUALITY_DEFAULTS.maxItems;
    this.maxQueuedBytes = o.maxQueuedBytes ?? QUALITY_DEFAULTS.maxQueuedBytes;
    this.threshold = o.threshold ?? QUALITY_DEFAULTS.threshold;
    if (!(this.windowMs > 0)) throw new Error(`quality windowMs must be > 0; got ${o.windowMs}`);
    if (!(this.threshold > 0 && this.threshold < 1)) throw new Error(`quality threshold must be between 0 and 1; got ${o.threshold}`);
    for (const [m, t] of Object.entries(o.tasks ?? {}))
      if (!QUALITY_TASKS.includes(t)) throw new Error(`quality task for model '${m}' is '${String(t)}'; use one of ${QUALITY_TASKS.join(', ')}`);
  }

  /** Opens the monitor, replaying its feedback log (when it has one). */
  static async open(o: QualityOptions = {}): Promise<QualityMonitor> {
    const m = new QualityMonitor(o);
    if (o.file) {
      m.out = await JsonlFile.open({ file: o.file, fsync: 'always', log: o.log });
      // The rotated file first (older), then the current one.
      await m.replay(`${o.file}.1`);
      await m.replay(o.file);
    }
    return m;
  }

  /** Remembers the predictions of one answered request (call for every request, sampled or not). */
  observe(model: string, version: string, id: string, outputs: Record<string, PayloadTensor>, ts: number = this.now()): void {
    const name = this.o.outputs?.[model];
    const t = name !== undefined ? outputs[name] : outputs[Object.keys(outputs)[0]];
    if (!t) return;
    const m = predictionMatrix(t);
    if (!m) return;
    const key = `${model}\u0000${id}`;
    this.predictions.delete(key);
    this.predictions.set(key, { model, version, ts, ...m });
    this.observed++;
    if (this.predictions.size > this.maxPredictions) {
      const oldest = this.predictions.keys().next().value!;
      this.forget(oldest);
    }
    const waiting = this.pending.get(key);
    if (waiting) {
      this.pending.delete(key);
      this.pendingCount -= waiting.length;
      for (const w of waiting) {
        const r = this.join(w.model, w.item);
        if (r.outcome !== 'unmatched' && r.taken.length > 0 && this.out)
          void this.out.append(this.logLine(w.model, w.item, r, w.arrived)).catch(() => undefined);
      }
    }
  }

  /**
   * Remembers the predictions of a payload log's records (FILE.1, then FILE), so that labels for
   * requests answered before a restart still join. Unreadable lines are skipped; returns the records read.
   */
  async seed(payloadLog: string): Promise<number> {
    let n = 0;
    for (const f of [`${payloadLog}.1`, payloadLog]) {
      let text: string;
      try {
        text = await readFile(f, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      for (const line of text.split('\n')) {
        if (line === '') continue;
        try {
          const r = JSON.parse(line) as PayloadRecord;
          if (typeof r.model === 'string' && typeof r.version === 'string' && typeof r.id === 'string' && r.outputs && typeof r.outputs === 'object') {
            this.observeRecord(r);
            n++;
          }
        } catch {
          // a torn or foreign line: the drift reader skips it too
        }
      }
    }
    return n;
  }

  /** Remembers the predictions of a payload-log record (the payload sink's path). */
  observeRecord(r: PayloadRecord): void {
    const ts = Date.parse(r.ts);
    this.observe(r.model, r.version, r.id, r.outputs, Number.isFinite(ts) ? ts : this.now());
  }

  private forget(key: string): void {
    const p = this.predictions.get(key);
    this.predictions.delete(key);
    if (p?.labels) {
      for (const [row, y] of p.labels) this.labelled.set(`${key}\u0000${row}`, y);
      while (this.labelled.size > this.maxPredictions) this.labelled.delete(this.labelled.keys().next().value!);
    }
  }

  /** Validates, joins and (with a file) durably logs one feedback request for `model`. */
  async feedback(model: string, body: unknown): Promise<FeedbackResult> {
    const now = this.now();
    let items: FeedbackItem[];
    try {
      items = parseFeedback(body, now, this.maxItems);
    } catch (e) {
      this.count(model, '', 'invalid', 1);
      throw e;
    }
    if (this.out && this.out.queuedBytes > this.maxQueuedBytes) {
      this.count(model, '', 'refused', items.length);
      throw new RequestError(
        429,
        `the feedback log is behind (${this.out.queuedBytes} bytes wait for the disk); nothing of this request was taken, retry later`,
      );
    }
    // Every item is checked against its prediction before anything is taken.
    try {
      const decided = new Map<Series, QualityTask>();
      for (let i = 0; i < items.length; i++) this.check(model, items[i], Array.isArray(body) ? `feedback[${i}]` : 'feedback', decided);
    } catch (e) {
      this.count(model, '', 'invalid', 1);
      throw e;
    }
    let matched = 0,
      duplicates = 0,
      corrected = 0,
      late = 0,
      unmatched = 0;
    const unmatchedIds: string[] = [];
    const lines: string[] = [];
    for (const item of items) {
      const r = this.join(model, item);
      const n = Array.isArray(item.label) ? item.label.length : 1;
      if (r.outcome === 'unmatched') {
        unmatched += n;
        if (unmatchedIds.length < 100) unmatchedIds.push(item.id);
        this.hold(model, item, now);
        lines.push(this.logLine(model, item, undefined, now));
      } else {
        matched += r.matched;
        duplicates += r.duplicates;
        corrected += r.corrected;
        late += r.late;
        if (r.taken.length > 0) lines.push(this.logLine(model, item, r, now));
      }
    }
    if (this.out && lines.length > 0) await this.out.append(lines.join(''));
    const result = { accepted: matched + duplicates + corrected + late + unmatched, matched, duplicates, corrected, late, unmatched, unmatchedIds };
    if (matched + duplicates + corrected + late === 0) {
      throw new RequestError(
        404,
        `no prediction of model '${model}' has the request id${unmatchedIds.length > 1 ? 's' : ''} ${unmatchedIds
          .slice(0, 5)
          .map((x) => `'${x}'`)
          .join(
            ', ',
          )}${unmatchedIds.length > 5 ? ', …' : ''} (unknown, or older than the last ${this.maxPredictions} predictions); the label is kept and joins a prediction logged later with that id`,
        result,
      );
    }
    return result;
  }

  /** Throws a 400 when the item's label does not fit the prediction it joins (type, class, row). */
  private check(model: string, item: FeedbackItem, at: string, decided: Map<Series, QualityTask>): void {
    const p = this.predictions.get(`${model}\u0000${item.id}`);
    if (!p) return;
    const labels = Array.isArray(item.label) ? item.label : [item.label as LabelValue];
    if (Array.isArray(item.label) && item.label.length !== p.rows)
      throw new RequestError(
        400,
        `${at}.label has ${item.label.length} labels but request '${item.id}' had ${p.rows} rows; send one label per row, or one label with its row`,
      );
    if (item.row !== undefined && item.row >= p.rows)
      throw new RequestError(400, `${at}.row is ${item.row} but request '${item.id}' had ${p.rows} row${p.rows === 1 ? '' : 's'} (rows count from 0)`);
    if (!Array.isArray(item.label) && item.row === undefined && p.rows > 1)
      throw new RequestError(400, `${at}: request '${item.id}' had ${p.rows} rows; send a label array (one per row) or give the row`);
    const s = this.seriesFor(p);
    // A version's task is inferred once, from the first label it gets (in this request or before).
    const task = s.task ?? decided.get(s) ?? this.inferTask(p, labels[0]);
    decided.set(s, task);
    labels.forEach((l, j) => {
      const where = Array.isArray(item.label) ? `${at}.label[${j}]` : `${at}.label`;
      const why = labelProblem(task, l, p.k);
      if (why) throw new RequestError(400, `${where} is ${describe(l)}, but model '${model}' version '${p.version}' is a ${task} model: ${why}`);
    });
  }

  private inferTask(p: Prediction, first: LabelValue): QualityTask {
    const declared = this.o.tasks?.[p.model];
    if (declared) return declared;
    if (p.k === 2) return 'binary';
    if (p.k > 2) return 'multiclass';
    return typeof first === 'boolean' || first === 0 || first === 1 ? 'binary' : 'regression';
  }

  private seriesFor(p: { model: string; version: string; k: number }): Series {
    const key = `${p.model}\u0000${p.version}`;
    let s = this.series.get(key);
    if (!s) {
      s = { k: p.k, samples: [], dirty: true, ...(this.o.tasks?.[p.model] ? { task: this.o.tasks[p.model] } : {}) };
      this.series.set(key, s);
    }
    return s;
  }

  private join(
    model: string,
    item: FeedbackItem,
  ):
    | { outcome: 'unmatched'; version?: undefined }
    | {
        outcome: 'joined';
        version: string;
        task: QualityTask;
        k: number;
        taken: Taken[];
        matched: number;
        duplicates: number;
        corrected: number;
        late: number;
      } {
    const key = `${model}\u0000${item.id}`;
    const p = this.predictions.get(key);
    if (!p) {
      this.count(model, '', 'unmatched', Array.isArray(item.label) ? item.label.length : 1);
      return { outcome: 'unmatched' };
    }
    const s = this.seriesFor(p);
    const labels: Array<[number, LabelValue]> = Array.isArray(item.label)
      ? (item.label as LabelValue[]).map((l, j) => [j, l])
      : [[item.row ?? 0, item.label as LabelValue]];
    s.task ??= this.inferTask(p, labels[0][1]);
    const cutoff = this.now() - this.windowMs;
    let matched = 0,
      duplicates = 0,
      corrected = 0,
      late = 0;
    p.labels ??= new Map();
    const taken: Taken[] = [];
    for (const [row, l] of labels) {
      const y = labelNumber(l);
      const rowKey = `${key}\u0000${row}`;
      const before = p.labels.get(row) ?? this.labelled.get(rowKey);
      if (before === y) {
        duplicates++;
        continue;
      }
      p.labels.set(row, y);
      const values = p.data.subarray(row * p.k, (row + 1) * p.k);
      taken.push({ row, y, p: Array.from(values) });
      if (before !== undefined) corrected++;
      else if (item.timestamp < cutoff) late++;
      else matched++;
      this.place(s, { ts: item.timestamp, y, p: values, key: rowKey }, cutoff);
    }
    this.count(model, p.version, 'matched', matched);
    this.count(model, p.version, 'duplicate', duplicates);
    this.count(model, p.version, 'corrected', corrected);
    this.count(model, p.version, 'late', late);
    return { outcome: 'joined', version: p.version, task: s.task, k: p.k, taken, matched, duplicates, corrected, late };
  }

  /** Puts a labelled prediction in its series' window, replacing an earlier label of the same row. */
  private place(s: Series, sample: Sample, cutoff: number): void {
    const i = s.samples.findIndex((x) => x.key === sample.key);
    if (i >= 0) {
      s.samples.splice(i, 1);
      s.dirty = true;
    }
    if (sample.ts < cutoff) return;
    s.samples.push(sample);
    if (s.samples.length > this.maxWindowSamples) s.samples.splice(0, s.samples.length - this.maxWindowSamples);
    s.dirty = true;
  }

  private hold(model: string, item: FeedbackItem, arrived: number): void {
    const key = `${model}\u0000${item.id}`;
    const list = this.pending.get(key) ?? [];
    list.push({ model, item, arrived });
    this.pending.set(key, list);
    this.pendingCount++;
    // Expired first, then the oldest: the pending set is bounded.
    if (this.pendingCount > this.maxPending) {
      const cutoff = this.now() - this.windowMs;
      for (const [k, l] of this.pending) {
        if (this.pendingCount <= this.maxPending) break;
        const keep = l.filter((x) => x.arrived >= cutoff);
        const drop = this.pendingCount - this.maxPending;
        const cut = keep.length === l.length ? l.slice(Math.min(drop, l.length)) : keep;
        this.pendingCount -= l.length - cut.length;
        if (cut.length === 0) this.pending.delete(k);
        else this.pending.set(k, cut);
      }
    }
  }

  /**
   * One line of the feedback log: a label that matched nothing (`unmatched: true`, the item as sent),
   * or the rows a label joined, each with the prediction it joined, so that a restart rebuilds the
   * windows without the predictions:
   *   {"ts","model","id","timestamp","version","task","k","rows":[{"row":0,"y":1,"p":[0.93]}]}
   */
  private logLine(
    model: string,
    item: FeedbackItem,
    joined: { version: string; task: QualityTask; k: number; taken: readonly Taken[] } | undefined,
    arrived: number,
  ): string {
    const head = { ts: new Date(arrived).toISOString(), model, id: item.id, timestamp: new Date(item.timestamp).toISOString() };
    if (!joined) return JSON.stringify({ ...head, unmatched: true, ...(item.row !== undefined ? { row: item.row } : {}), label: item.label }) + '\n';
    return JSON.stringify({ ...head, version: joined.version, task: joined.task, k: joined.k, rows: joined.taken }) + '\n';
  }

  /** Rebuilds the windows, the duplicate check and the pending labels from the log. */
  private async replay(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    let bad = 0;
    const cutoff = this.now() - this.windowMs;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        if (!this.replayLine(JSON.parse(line) as LogLine, cutoff)) bad++;
      } catch {
        bad++;
      }
    }
    if (bad > 0) (this.o.log ?? ((l: string) => process.stderr.write(l + '\n')))(`feedback log ${file}: skipped ${bad} unreadable line(s)`);
  }

  private replayLine(j: LogLine, cutoff: number): boolean {
    if (typeof j.model !== 'string' || typeof j.id !== 'string') return false;
    const timestamp = Date.parse(j.timestamp ?? '');
    const arrived = Date.parse(j.ts ?? '');
    if (!Number.isFinite(timestamp) || !Number.isFinite(arrived)) return false;
    const pkey = `${j.model}\u0000${j.id}`;
    if (j.unmatched === true) {
      const item = parseFeedback({ id: j.id, label: j.label, timestamp, ...(j.row !== undefined ? { row: j.row } : {}) }, 0, 1)[0];
      if (arrived >= cutoff) this.hold(j.model, item, arrived);
      return true;
    }
    if (typeof j.version !== 'string' || !QUALITY_TASKS.includes(j.task as QualityTask) || !Number.isInteger(j.k) || !Array.isArray(j.rows)) return false;
    // A joined label: its pending copy (if any) is done; its rows count for the duplicate check.
    const held = this.pending.get(pkey);
    if (held) {
      this.pending.delete(pkey);
      this.pendingCount -= held.length;
    }
    const s = this.seriesFor({ model: j.model, version: j.version, k: j.k! });
    s.task ??= j.task as QualityTask;
    for (const t of j.rows) {
      if (!Number.isInteger(t.row) || typeof t.y !== 'number' || !Array.isArray(t.p) || t.p.length !== j.k) return false;
      const rowKey = `${pkey}\u0000${t.row}`;
      this.labelled.set(rowKey, t.y);
      this.place(s, { ts: timestamp, y: t.y, p: Float64Array.from(t.p), key: rowKey }, cutoff);
    }
    while (this.labelled.size > this.maxPredictions) this.labelled.delete(this.labelled.keys().next().value!);
    return true;
  }

  /** Called with every count (Prometheus counters hang here). */
  onCount: (model: string, version: string, outcome: FeedbackOutcome, n: number) => void = () => {};

  private count(model: string, version: string, outcome: FeedbackOutcome, n: number): void {
    if (n === 0) return;
    this.onCount(model, version, outcome, n);
    const key = `${model}\u0000${version}`;
    let c = this.counts.get(key);
    if (!c) {
      c = Object.fromEntries(FEEDBACK_OUTCOMES.map((o) => [o, 0])) as FeedbackCounts;
      this.counts.set(key, c);
    }
    c[outcome] += n;
  }

  /** Feedback counts by (model, version); version '' holds what joined no version. */
  feedbackCounts(): Array<{ model: string; version: string; counts: FeedbackCounts }> {
    return [...this.counts].map(([k, counts]) => {
      const [model, version] = k.split('\u0000');
      return { model, version, counts: { ...counts } };
    });
  }

  /** Predictions remembered for labels to join (at most maxPredictions). */
  get rememberedPredictions(): number {
    return this.predictions.size;
  }

  /** Unmatched labels held for a prediction logged later. */
  get pendingLabels(): number {
    return this.pendingCount;
  }

  /** Quality of one version over the window, or undefined when it has no labelled prediction yet. */
  quality(model: string, version: string): VersionQuality | undefined {
    const s = this.series.get(`${model}\u0000${version}`);
    if (!s || !s.task) return undefined;
    const now = this.now();
    const cutoff = now - this.windowMs;
    const before = s.samples.length;
    if (before > 0 && s.samples.some((x) => x.ts < cutoff)) s.samples = s.samples.filter((x) => x.ts >= cutoff);
    if (s.samples.length !== before) s.dirty = true;
    if (!s.dirty && s.cache) return s.cache.value;
    const value: VersionQuality = {
      task: s.task,
      samples: s.samples.length,
      windowSeconds: this.windowMs / 1000,
      metrics: s.samples.length === 0 ? {} : computeQuality(s.task, s.samples, s.k, this.threshold),
    };
    s.cache = { at: now, count: s.samples.length, value };
    s.dirty = false;
    return value;
  }

  /**
   * Quality estimated before the labels arrive (CBPE, ./cbpe.ts), for a binary classifier whose
   * output is a probability: fitted on the version's labelled predictions in the window (at least
   * QUALITY_MIN_SAMPLES, both classes), applied to its predictions in the window still waiting for a
   * label. Undefined when there is no such reference or nothing waits.
   */
  estimate(model: string, version: string): CbpeEstimate | undefined {
    if (!this.quality(model, version)) return undefined;
    const s = this.series.get(`${model}\u0000${version}`)!;
    if (s.task !== 'binary' || s.samples.length < QUALITY_MIN_SAMPLES) return undefined;
    const now = this.now();
    if (s.estimate && s.estimate.at > now - 1000 && s.estimate.count === s.samples.length && s.estimate.predictions === this.observed) return s.estimate.value;
    const col = s.k >= 2 ? 1 : 0;
    const cutoff = now - this.windowMs;
    const scores: number[] = [];
    for (const p of this.predictions.values()) {
      if (p.model !== model || p.version !== version || p.ts < cutoff) continue;
      for (let r = 0; r < p.rows; r++) if (!p.labels?.has(r)) scores.push(p.data[r * p.k + (p.k >= 2 ? 1 : 0)]);
    }
    let value: CbpeEstimate | undefined;
    if (scores.length > 0 && scores.every((x) => x >= 0 && x <= 1)) {
      try {
        const ref = fitCbpe(
          s.samples.map((x) => x.p[col]),
          s.samples.map((x) => x.y),
          { threshold: this.threshold },
        );
        value = estimateCbpe(ref, scores);
      } catch {
        value = undefined; // scores that are not probabilities, or labels of one class: no estimate
      }
    }
    s.estimate = { at: now, count: s.samples.length, predictions: this.observed, value };
    return value;
  }

  /** Every (model, version) with a quality estimate, and the estimate. */
  estimates(): Array<{ model: string; version: string; estimate: CbpeEstimate }> {
    const out: Array<{ model: string; version: string; estimate: CbpeEstimate }> = [];
    for (const k of this.series.keys()) {
      const [model, version] = k.split('\u0000');
      const e = this.estimate(model, version);
      if (e) out.push({ model, version, estimate: e });
    }
    return out;
  }

  /** Every (model, version) with labels, and its quality. */
  all(): Array<{ model: string; version: string; quality: VersionQuality }> {
    const out: Array<{ model: string; version: string; quality: VersionQuality }> = [];
    for (const k of this.series.keys()) {
      const [model, version] = k.split('\u0000');
      const q = this.quality(model, version);
      if (q) out.push({ model, version, quality: q });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.out?.close();
  }
}

/** Why a label does not fit the task (undefined when it does). */
export function labelProblem(task: QualityTask, l: LabelValue, k: number): string | undefined {
  if (task === 'binary') return typeof l === 'boolean' || l === 0 || l === 1 ? undefined : 'send 0 or 1 (or false/true)';
  if (task === 'multiclass') {
    if (typeof l === 'boolean' || !Number.isInteger(l) || l < 0 || l >= k) return `send a class index from 0 to ${k - 1}`;
    return undefined;
  }
  return typeof l === 'boolean' ? 'send the observed value (a number)' : undefined;
}

const finite = (x: number): number | undefined => (Number.isFinite(x) ? x : undefined);

/** The quality metrics of joined pairs (pure; ../evaluate/metrics.ts does the arithmetic). */
export function computeQuality(
  task: QualityTask,
  samples: ReadonlyArray<{ readonly y: number; readonly p: ArrayLike<number> }>,
  k: number,
  threshold: number = QUALITY_DEFAULTS.threshold,
): QualityMetrics {
  const n = samples.length;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = samples[i].y;
  if (task === 'binary') {
    // One column: the score of class 1; two: the probability of class 1 is the second.
    const col = k >= 2 ? 1 : 0;
    const p = new Float64Array(n);
    for (let i = 0; i < n; i++) p[i] = samples[i].p[col];
    const m = evaluateBinary(y, p, threshold, QUALITY_DEFAULTS.calibrationBins).metrics;
    return {
      accuracy: m.accuracy,
      precision: m.precision,
      recall: m.recall,
      f1: m.f1,
      ...(finite(m.rocAuc) !== undefined ? { rocAuc: m.rocAuc } : {}),
      calibrationError: m.ece,
    };
  }
  if (task === 'multiclass') {
    const p = new Float64Array(n * k);
    for (let i = 0; i < n; i++) p.set(samples[i].p, i * k);
    const m = evaluateMulticlass(
      Array.from(y),
      p,
      Array.from({ length: k }, (_, i) => String(i)),
    ).metrics;
    return { accuracy: m.accuracy, ...(finite(m.macroF1) !== undefined ? { macroF1: m.macroF1 } : {}) };
  }
  const pred = new Float64Array(n);
  for (let i = 0; i < n; i++) pred[i] = samples[i].p[0];
  const m = evaluateRegression(y, pred).metrics;
  return { rmse: m.rmse, mae: m.mae };
}

/**
 * Exports a monitor's state in `registry`:
 * - ghosteam_model_quality{model,version,metric}        quality over the window (accuracy, precision, recall, f1, rocAuc, calibrationError, macroF1, rmse, mae)
 * - ghosteam_model_quality_samples{model,version}       labelled predictions in the window
 * - ghosteam_model_quality_estimate{model,version,metric} CBPE estimate before the labels arrive (binary: accuracy, precision, recall, f1, rocAuc)
 * - ghosteam_model_quality_estimate_sampling_error{…}   its sampling error (bound: ±3 of it); _samples: predictions it covers
 * - ghosteam_model_feedback_total{model,version,outcome} labels by outcome (matched, duplicate, corrected, late, unmatched, invalid, refused)
 * - ghosteam_model_feedback_pending                     unmatched labels held for a later prediction
 */
export function registerQualityMetrics(registry: Registry, monitor: QualityMonitor): void {
  new Gauge({
    name: 'ghosteam_model_quality',
    help: `Model quality from delayed labels over the last ${monitor.windowMs / 1000} s, by metric`,
    labelNames: ['model', 'version', 'metric'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { model, version, quality } of monitor.all())
        for (const [metric, value] of Object.entries(quality.metrics)) if (value !== undefined) this.set({ model, version, metric }, value);
    },
  });
  new Gauge({
    name: 'ghosteam_model_quality_samples',
    help: 'Labelled predictions in the quality window',
    labelNames: ['model', 'version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { model, version, quality } of monitor.all()) this.set({ model, version }, quality.samples);
    },
  });
  new Gauge({
    name: 'ghosteam_model_quality_estimate',
    help: 'Model quality estimated before the labels arrive (CBPE, binary classifiers), by metric: an estimate, not a measurement',
    labelNames: ['model', 'version', 'metric'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { model, version, estimate } of monitor.estimates())
        for (const [metric, m] of Object.entries(estimate.metrics)) this.set({ model, version, metric }, m.value);
    },
  });
  new Gauge({
    name: 'ghosteam_model_quality_estimate_sampling_error',
    help: 'Sampling error of the CBPE estimate (NannyML); the estimate is bounded by ±3 of it',
    labelNames: ['model', 'version', 'metric'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { model, version, estimate } of monitor.estimates())
        for (const [metric, m] of Object.entries(estimate.metrics)) this.set({ model, version, metric }, m.samplingError);
    },
  });
  new Gauge({
    name: 'ghosteam_model_quality_estimate_samples',
    help: 'Predictions without a label yet that the CBPE estimate covers',
    labelNames: ['model', 'version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { model, version, estimate } of monitor.estimates()) this.set({ model, version }, estimate.samples);
    },
  });
  const feedback = new Counter({
    name: 'ghosteam_model_feedback_total',
    help: 'Feedback labels by outcome (matched, duplicate, corrected, late, unmatched, invalid, refused)',
    labelNames: ['model', 'version', 'outcome'],
    registers: [registry],
  });
  monitor.onCount = (model, version, outcome, n) => feedback.inc({ model, version, outcome }, n);
  new Gauge({
    name: 'ghosteam_model_feedback_pending',
    help: 'Unmatched labels held for a prediction logged later',
    registers: [registry],
    collect() {
      this.set(monitor.pendingLabels);
    },
  });
}
