/**
 * The pure half of the payload sink: CloudEvents in, payload-log records out (the record shape of
 * ../model-server/payload-log.ts, which ../drift/payload-log.ts reads). No I/O, no clock of its own.
 *
 * Two senders are understood:
 * - KServe's inference logger (pkg/logger/worker.go): HTTP binary content mode, one event per
 *   request and one per response, joined by `ce-id`. Headers `ce-specversion`, `ce-id`, `ce-source`,
 *   `ce-type` (`org.kubeflow.serving.inference.request` | `.response`), `ce-time` and the extensions
 *   `ce-inferenceservicename`, `ce-namespace`, `ce-component`, `ce-endpoint`; the body is the
 *   request's or response's JSON as the client sent / the server answered it (V1 `instances` /
 *   `predictions`, or Open Inference Protocol V2 `inputs` / `outputs`).
 * - ghosteam's model server (PayloadLogger with a sinkUrl): a structured batch
 *   (`application/cloudevents-batch+json`) of events of type `io.ghosteam.inference.payload` whose
 *   `data` is already a record.
 */
import type { PayloadRecord, PayloadTensor } from '../model-server/payload-log.ts';
import { OIP_DATATYPES, type OipDatatype } from '../model-server/tensors.ts';

export const KSERVE_REQUEST = 'org.kubeflow.serving.inference.request';
export const KSERVE_RESPONSE = 'org.kubeflow.serving.inference.response';
export const GHOSTEAM_PAYLOAD = 'io.ghosteam.inference.payload';

/** A client's mistake in an event: the sink answers 400 with this message. */
export class EventError extends Error {}

/** One received CloudEvent, reduced to what the sink uses. */
export type SinkEvent =
  | {
      readonly kind: 'request' | 'response';
      readonly key: string;
      readonly id: string;
      readonly time?: string;
      readonly model?: string;
      readonly namespace?: string;
      readonly body: Record<string, unknown>;
      /** Size of the half as held (its serialized body); counts against the Pairer's maxPendingBytes. @default 0 */
      readonly bytes?: number;
      /** The sink's journal id of this half (see ./server.ts), reported by Pairer.takeReleased(). */
      readonly jid?: string;
    }
  | { readonly kind: 'record'; readonly record: PayloadRecord };

const OIP_TYPES = new Set<string>(OIP_DATATYPES);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function header(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Deepest nesting of arrays and objects a sink accepts (a tensor needs a handful of levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * The nesting depth of a JSON text (strings skipped), stopping early past `limit`. Linear and
 * allocation-free: run before JSON.parse so a 10,000-deep document is a 400, not a stack overflow
 * in the code that walks the parsed value.
 */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function parseJson(text: string, what: string): unknown {
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH)
    throw new EventError(`${what} nests arrays/objects more than ${MAX_JSON_DEPTH} levels deep; send tensors as flat or [rows][columns] arrays`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new EventError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function validTime(t: unknown): string | undefined {
  return typeof t === 'string' && Number.isFinite(Date.parse(t)) ? new Date(Date.parse(t)).toISOString() : undefined;
}

/** Checks a ghosteam payload record (an event's `data`); `where` names the event. */
export function checkRecord(v: unknown, where: string): PayloadRecord {
  if (!isObject(v)) throw new EventError(`${where}: data must be a payload record object`);
  if (validTime(v.ts) === undefined) throw new EventError(`${where}: data.ts must be an ISO-8601 time`);
  if (typeof v.model !== 'string' || v.model === '') throw new EventError(`${where}: data.model must be a non-empty string`);
  if (typeof v.version !== 'string') throw new EventError(`${where}: data.version must be a string`);
  for (const side of ['inputs', 'outputs'] as const) {
    const ts = v[side];
    if (side === 'outputs' && ts === undefined) continue;
    if (!isObject(ts)) throw new EventError(`${where}: data.${side} must be an object of tensors`);
    for (const [name, t] of Object.entries(ts)) checkTensor(t, `${where}: data.${side}.${name}`);
  }
  return {
    ts: v.ts as string,
    model: v.model,
    version: v.version,
    id: typeof v.id === 'string' ? v.id : '',
    inputs: v.inputs as Record<string, PayloadTensor>,
    outputs: (v.outputs ?? {}) as Record<string, PayloadTensor>,
  };
}

function checkTensor(t: unknown, where: string): PayloadTensor {
  if (!isObject(t)) throw new EventError(`${where} must be a tensor object {name, shape, datatype, data}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && (d as number) >= 0))
    throw new EventError(`${where}.shape must be an array of non-negative integers`);
  if (typeof t.datatype !== 'string' || !OIP_TYPES.has(t.datatype))
    throw new EventError(`${where}.datatype ${JSON.stringify(t.datatype)} is not an Open Inference Protocol datatype`);
  if (!Array.isArray(t.data)) throw new EventError(`${where}.data must be an array (binary tensor data is not supported; log JSON requests)`);
  checkValues(t.data, t.datatype as OipDatatype, where);
  return { shape: t.shape as number[], datatype: t.datatype as OipDatatype, data: t.data };
}

/**
 * Every value of a tensor's (possibly nested) data matches its datatype: numbers for numeric
 * types (null is accepted for floats: JSON has no NaN), integers for INT/UINT, booleans for BOOL,
 * strings for BYTES. The payload log is what drift is computed on, so a string in FP32 data is a
 * 400 to its sender instead of a poisoned record.
 */
function checkValues(data: unknown[], datatype: OipDatatype, where: string): void {
  const float = datatype.startsWith('FP');
  const int = datatype.startsWith('INT') || datatype.startsWith('UINT');
  const ok = (x: unknown): boolean =>
    datatype === 'BYTES'
      ? typeof x === 'string'
      : datatype === 'BOOL'
        ? typeof x === 'boolean'
        : float
          ? typeof x === 'number' || x === null
          : int
            ? Number.isInteger(x)
            : true;
  const walk = (a: unknown[], path: string): void => {
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (Array.isArray(x)) walk(x, `${path}[${i}]`);
      else if (!ok(x))
        throw new EventError(
          `${where}.data${path}[${i}] is ${JSON.stringify(x)?.slice(0, 40)}, not ${datatype === 'BYTES' ? 'a string' : datatype === 'BOOL' ? 'a boolean' : int ? 'an integer' : 'a number'} as datatype ${datatype} needs`,
        );
    }
  };
  walk(data, '');
}

/**
 * The CloudEvents of one HTTP request: binary mode (ce-* headers, body = data), structured
 * (`application/cloudevents+json`) or a structured batch (`application/cloudevents-batch+json`).
 */
export function parseCloudEvents(headers: Readonly<Record<string, string | string[] | undefined>>, body: string): SinkEvent[] {
  const ctype = (header(headers, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (ctype === 'application/cloudevents-batch+json') {
    const batch = parseJson(body, 'the CloudEvents batch');
    if (!Array.isArray(batch)) throw new EventError('the CloudEvents batch must be a JSON array of events');
    return batch.map((e, i) => structured(e, `event ${i}`));
  }
  if (ctype === 'application/cloudevents+json') return [structured(parseJson(body, 'the CloudEvent'), 'the CloudEvent')];
  const attr = (n: string) => header(headers, `ce-${n}`);
  for (const n of ['specversion', 'id', 'type', 'source']) {
    if (!attr(n))
      throw new EventError(`missing header ce-${n}: send a CloudEvent (binary mode with ce-* headers, or content-type application/cloudevents+json)`);
  }
  if (attr('specversion') !== '1.0') throw new EventError(`ce-specversion '${attr('specversion')}' is not supported; send CloudEvents 1.0`);
  return [
    fromAttributes(
      { id: attr('id')!, type: attr('type')!, time: attr('time'), inferenceservicename: attr('inferenceservicename'), namespace: attr('namespace') },
      () => parseJson(body, `event ${attr('id')}: the body`),
      `event ${attr('id')}`,
    ),
  ];
}

function structured(e: unknown, where: string): SinkEvent {
  if (!isObject(e)) throw new EventError(`${where} must be a JSON object`);
  for (const n of ['specversion', 'id', 'type', 'source']) {
    if (typeof e[n] !== 'string' || e[n] === '') throw new EventError(`${where}: attribute '${n}' must be a non-empty string`);
  }
  if (e.specversion !== '1.0') throw new EventError(`${where}: specversion '${e.specversion}' is not supported; send CloudEvents 1.0`);
  const label = `${where} (${e.id as string})`;
  const data = () => {
    if (e.data !== undefined) return e.data;
    if (typeof e.data_base64 === 'string') return parseJson(Buffer.from(e.data_base64, 'base64').toString('utf8'), `${label}: data_base64`);
    throw new EventError(`${label}: the event has no data`);
  };
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return fromAttributes(
    { id: e.id as string, type: e.type as string, time: str(e.time), inferenceservicename: str(e.inferenceservicename), namespace: str(e.namespace) },
    data,
    label,
  );
}

function fromAttributes(
  a: { id: string; type: string; time?: string; inferenceservicename?: string; namespace?: string },
  data: () => unknown,
  where: string,
): SinkEvent {
  if (a.type === GHOSTEAM_PAYLOAD) return { kind: 'record', record: checkRecord(data(), where) };
  if (a.type !== KSERVE_REQUEST && a.type !== KSERVE_RESPONSE)
    throw new EventError(`${where}: type '${a.type}' is not supported; expected ${KSERVE_REQUEST}, ${KSERVE_RESPONSE} or ${GHOSTEAM_PAYLOAD}`);
  const body = data();
  if (!isObject(body)) throw new EventError(`${where}: the ${a.type === KSERVE_REQUEST ? 'request' : 'response'} body must be a JSON object`);
  return {
    kind: a.type === KSERVE_REQUEST ? 'request' : 'response',
    key: `${a.namespace ?? ''}/${a.inferenceservicename ?? ''}/${a.id}`,
    id: a.id,
    body,
    ...(validTime(a.time) ? { time: validTime(a.time) } : {}),
    ...(a.inferenceservicename ? { model: a.inferenceservicename } : {}),
    ...(a.namespace ? { namespace: a.namespace } : {}),
  };
}

/** Shape, datatype and flat data of a nested JSON array (rows of values). */
export function tensorOf(values: unknown, where: string): PayloadTensor {
  if (!Array.isArray(values)) throw new EventError(`${where} must be an array`);
  const shape: number[] = [values.length];
  let probe: unknown = values[0];
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const data = shape.length > 1 ? (values.flat(shape.length - 1) as unknown[]) : values;
  if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new EventError(`${where} is ragged: rows must all have ${shape.slice(1).join('×')} values`);
  let datatype: OipDatatype;
  if (data.every((x) => typeof x === 'number')) datatype = 'FP64';
  else if (data.every((x) => typeof x === 'string')) datatype = 'BYTES';
  else if (data.every((x) => typeof x === 'boolean')) datatype = 'BOOL';
  else throw new EventError(`${where} must hold only numbers, only strings or only booleans`);
  return { shape, datatype, data };
}

/** Input tensors of a KServe request body: V2 `inputs: [{name, shape, datatype, data}]`, or V1 `instances` / `inputs`. */
export function requestTensors(body: Record<string, unknown>, where: string): Record<string, PayloadTensor> {
  const out: Record<string, PayloadTensor> = {};
  const v2 = Array.isArray(body.inputs) && body.inputs.length > 0 && isObject(body.inputs[0]) && typeof body.inputs[0].name === 'string';
  if (v2) {
    for (const [i, t] of (body.inputs as unknown[]).entries()) {
      const name = isObject(t) && typeof t.name === 'string' ? t.name : `#${i}`;
      const c = checkTensor(t, `${where}: inputs[${i}] (${name})`);
      out[name] = { shape: c.shape, datatype: c.datatype, data: (c.data as unknown[]).flat(Infinity) };
    }
    return out;
  }
  const rows = body.instances ?? body.inputs;
  if (rows === undefined) throw new EventError(`${where}: the request body has neither 'inputs' (V2) nor 'instances' (V1)`);
  const key = body.instances !== undefined ? 'instances' : 'inputs';
  if (isObject(rows)) {
    // V1 columnar: {"inputs": {"a": [[...], ...], "b": [...]}}
    for (const [name, v] of Object.entries(rows)) out[name] = tensorOf(v, `${where}: ${key}.${name}`);
    return out;
  }
  if (!Array.isArray(rows) || rows.length === 0) throw new EventError(`${where}: '${key}' must be a non-empty array of rows`);
  if (isObject(rows[0])) {
    // V1 rows keyed by input name: {"instances": [{"a": [...], "b": [...]}, ...]}
    for (const name of Object.keys(rows[0])) {
      out[name] = tensorOf(
        rows.map((r, i) => {
          if (!isObject(r) || !(name in r))
            throw new EventError(`${where}: ${key}[${i}] has no '${name}' (rows keyed by input name must all have the same keys)`);
          return r[name];
        }),
        `${where}: ${key}[*].${name}`,
      );
    }
    return out;
  }
  out[key] = tensorOf(rows, `${where}: ${key}`);
  return out;
}

/** Output tensors, model name and version of a KServe response body (V2 `outputs` or V1 `predictions`). */
export function responseTensors(body: Record<string, unknown>, where: string): { outputs: Record<string, PayloadTensor>; model?: string; version?: string } {
  const out: Record<string, PayloadTensor> = {};
  const meta = {
    ...(typeof body.model_name === 'string' ? { model: body.model_name } : {}),
    ...(typeof body.model_version === 'string' ? { version: body.model_version } : {}),
  };
  if (Array.isArray(body.outputs)) {
    for (const [i, t] of body.outputs.entries()) {
      const name = isObject(t) && typeof t.name === 'string' ? t.name : `#${i}`;
      const c = checkTensor(t, `${where}: outputs[${i}] (${name})`);
      out[name] = { shape: c.shape, datatype: c.datatype, data: (c.data as unknown[]).flat(Infinity) };
    }
    return { outputs: out, ...meta };
  }
  if (body.predictions !== undefined) return { outputs: { predictions: tensorOf(body.predictions, `${where}: predictions`) }, ...meta };
  throw new EventError(`${where}: the response body has neither 'outputs' (V2) nor 'predictions' (V1)`);
}

/**
 * A record from a KServe request/response pair (response may be missing: the logger's mode is
 * `request`, or the response never came). The model is the InferenceService's name (= the Model's,
 * which DriftMonitors name), else the response's model_name; the version is the response's
 * model_version, else ''.
 */
export function kserveRecord(req: SinkEvent & { kind: 'request' }, res: (SinkEvent & { kind: 'response' }) | undefined, now: () => number): PayloadRecord {
  const where = `event ${req.id}`;
  const inputs = requestTensors(req.body, where);
  const r = res ? responseTensors(res.body, where) : { outputs: {} };
  const model = req.model ?? res?.model ?? ('model' in r ? r.model : undefined);
  if (!model) throw new EventError(`${where}: no model name: send ce-inferenceservicename or a response with model_name`);
  const namespace = req.namespace ?? res?.namespace;
  return {
    ts: req.time ?? res?.time ?? new Date(now()).toISOString(),
    model,
    version: ('version' in r ? r.version : undefined) ?? '',
    id: req.id,
    ...(namespace ? { namespace } : {}),
    inputs,
    outputs: r.outputs,
  };
}

export interface PairerOptions {
  /** How long a request or response waits for its other half. @default 30000 */
  readonly ttlMs?: number;
  /** Halves held at most; the oldest goes first when full. @default 10000 */
  readonly maxPending?: number;
  /** Bytes of halves held at most (their `bytes`); the oldest goes first when over. @default 32 MiB */
  readonly maxPendingBytes?: number;
  readonly now?: () => number;
}

export interface PairerCounts {
  /** Requests written without a response (expired or evicted: feature data is still good). */
  requestsAlone: number;
  /** Responses dropped because their request never came (or came after the TTL). */
  responsesDropped: number;
  /** Lone requests dropped because nothing names their model (no ce-inferenceservicename). */
  requestsDropped: number;
}

/**
 * Joins KServe request and response events by (namespace, InferenceService, ce-id), in either
 * order. Memory is bounded: at most maxPending halves and maxPendingBytes of them, each kept at most ttlMs. A request that
 * outlives its TTL is still written, without outputs (drift over features needs only the inputs);
 * a lone response is dropped. Both are counted.
 */
export class Pairer {
  private readonly pending = new Map<string, { at: number; ev: SinkEvent & { kind: 'request' | 'response' } }>();
  readonly counts: PairerCounts = { requestsAlone: 0, responsesDropped: 0, requestsDropped: 0 };
  private readonly ttlMs: number;
  private readonly maxPending: number;
  private readonly maxPendingBytes: number;
  private readonly now: () => number;
  private heldBytes = 0;
  private released: string[] = [];

  constructor(o: PairerOptions = {}) {
    this.ttlMs = o.ttlMs ?? 30_000;
    this.maxPending = o.maxPending ?? 10_000;
    this.maxPendingBytes = o.maxPendingBytes ?? 32 * 1024 * 1024;
    this.now = o.now ?? Date.now;
    if (!(this.ttlMs > 0)) throw new Error(`ttlMs must be positive; got ${o.ttlMs}`);
    if (!(Number.isInteger(this.maxPending) && this.maxPending > 0)) throw new Error(`maxPending must be a positive integer; got ${o.maxPending}`);
    if (!(this.maxPendingBytes > 0)) throw new Error(`maxPendingBytes must be positive; got ${o.maxPendingBytes}`);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Bytes of the halves held. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** True while `ev` itself is waiting for its other half. */
  holds(ev: SinkEvent & { kind: 'request' | 'response' }): boolean {
    return this.pending.get(ev.key)?.ev === ev;
  }

  /** Forgets `ev` if it is still waiting (it was never acknowledged); nothing is written or counted. */
  drop(ev: SinkEvent & { kind: 'request' | 'response' }): void {
    if (!this.holds(ev)) return;
    this.pending.delete(ev.key);
    this.heldBytes -= ev.bytes ?? 0;
  }

  /** The journal ids (`jid`) of the halves that left since the last call: paired, written alone or dropped. */
  takeReleased(): string[] {
    const r = this.released;
    this.released = [];
    return r;
  }

  /** The halves held, oldest first (to rewrite the sink's journal). */
  held(): Array<SinkEvent & { kind: 'request' | 'response' }> {
    return [...this.pending.values()].map((v) => v.ev);
  }

  private take(key: string): void {
    const v = this.pending.get(key);
    if (!v) return;
    this.pending.delete(key);
    this.heldBytes -= v.ev.bytes ?? 0;
    if (v.ev.jid !== undefined) this.released.push(v.ev.jid);
  }

  /**
   * Adds one half; returns the records now complete (the pair, and any request evicted to make
   * room). Throws EventError for a body that can't be converted (the pair is then forgotten).
   */
  add(ev: SinkEvent & { kind: 'request' | 'response' }): PayloadRecord[] {
    const other = this.pending.get(ev.key);
    if (other && other.ev.kind !== ev.kind) {
      this.take(ev.key);
      const [req, res] = ev.kind === 'request' ? [ev, other.ev] : [other.ev, ev];
      return [kserveRecord(req as SinkEvent & { kind: 'request' }, res as SinkEvent & { kind: 'response' }, this.now)];
    }
    // Check the body now, so a bad event is a 400 to its sender rather than a silent drop later.
    if (ev.kind === 'request') requestTensors(ev.body, `event ${ev.id}`);
    else responseTensors(ev.body, `event ${ev.id}`);
    const out = other ? this.release(ev.key, other) : [];
    this.take(ev.key);
    this.pending.set(ev.key, { at: this.now(), ev });
    this.heldBytes += ev.bytes ?? 0;
    while (this.pending.size > this.maxPending || (this.heldBytes > this.maxPendingBytes && this.pending.size > 1)) {
      const [k, v] = this.pending.entries().next().value!;
      out.push(...this.release(k, v));
    }
    return out;
  }

  /** Releases the halves older than the TTL; returns the lone requests as records. */
  expire(): PayloadRecord[] {
    const cutoff = this.now() - this.ttlMs;
    const out: PayloadRecord[] = [];
    for (const [k, v] of this.pending) {
      if (v.at > cutoff) break; // insertion order is age order
      out.push(...this.release(k, v));
    }
    return out;
  }

  /** Releases every pending half (shutdown). */
  drain(): PayloadRecord[] {
    const out: PayloadRecord[] = [];
    for (const [k, v] of this.pending) out.push(...this.release(k, v));
    return out;
  }

  private release(key: string, v: { ev: SinkEvent & { kind: 'request' | 'response' } }): PayloadRecord[] {
    this.take(key);
    if (v.ev.kind === 'response') {
      this.counts.responsesDropped++;
      return [];
    }
    try {
      const r = kserveRecord(v.ev as SinkEvent & { kind: 'request' }, undefined, this.now);
      this.counts.requestsAlone++;
      return [r];
    } catch (e) {
      if (!(e instanceof EventError)) throw e;
      this.counts.requestsDropped++;
      return [];
    }
  }
}
