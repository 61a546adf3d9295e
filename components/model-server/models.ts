/**
 * Loading ONNX model versions into onnxruntime-node sessions, and parsing the model specs users
 * write (`fraud@champion`, `fraud:3`, `./model.onnx`, `fraud=./model.onnx`, `fraud:2=./model.onnx`).
 */
import * as ort from 'onnxruntime-node';
import { basename, extname, resolve as resolvePath } from 'node:path';
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { parseModelRef, type ModelRegistry } from '../registry/types.ts';
import { oipDatatypeOf, ortTypeOf, RequestError, type TensorSpec } from './tensors.ts';
import type { BatchInput, RawOutput } from './batcher.ts';
import { rewriteBf16Io, unsupportedIoMessage } from './onnx-io.ts';
import { planGraph, type ClassLabels, type GraphPlan } from './graph.ts';
import { modelFileIn, nativeFormatError, nativeFormatHint } from './formats.ts';
import { ORT_TYPE_OF_ONNX } from '../onnx/index.ts';

const { onnx } = onnxProto;

/**
 * A model to serve: a file on disk (an .onnx file, a directory holding one, or an MLflow model
 * directory with an `MLmodel` file of the onnx flavor), or a registry reference resolved through a
 * ModelRegistry (`fraud@champion`, `models:/fraud@champion`, `models:/fraud/3`, `runs:/RUN/model`).
 */
export type ModelSpec = { readonly name: string; readonly version?: string; readonly path: string } | { readonly ref: string };

/**
 * Parses a CLI model spec. `NAME[@ALIAS|@VERSION|:VERSION]` is a registry reference; a value ending
 * in `.onnx` or containing a path separator is a file (name = file name without `.onnx`, version 1);
 * `NAME[:VERSION]=PATH` names a file explicitly.
 */
export function parseModelSpec(s: string): ModelSpec {
  const eq = s.indexOf('=');
  if (eq > 0) {
    const left = s.slice(0, eq);
    const path = s.slice(eq + 1);
    const m = /^([A-Za-z0-9][-A-Za-z0-9_.]*)(?:[:@](\d+))?$/.exec(left);
    if (!m) throw new Error(`model spec '${s}': '${left}' is not NAME or NAME:VERSION (e.g. fraud:2=./model.onnx)`);
    if (!path) throw new Error(`model spec '${s}': the path after '=' is empty`);
    return { name: m[1], version: m[2], path };
  }
  if (s.startsWith('models:/')) {
    parseModelRef(s); // throws a clear message for a malformed URI
    return { ref: s };
  }
  if (s.startsWith('runs:/')) {
    if (!/^runs:\/[0-9a-zA-Z]+\/.+/.test(s)) throw new Error(`model spec '${s}': an MLflow run URI is runs:/RUN_ID/PATH (e.g. runs:/0a1b2c/model)`);
    return { ref: s };
  }
  if (s.endsWith('.onnx') || s.includes('/') || s.includes('\\')) {
    const name = basename(s, extname(s)).replace(/[^-A-Za-z0-9_.]/g, '-');
    if (!/^[A-Za-z0-9]/.test(name)) throw new Error(`model spec '${s}': can't derive a model name from the file name; write NAME=${s}`);
    return { name, path: s };
  }
  parseModelRef(s); // throws a clear message for a malformed reference
  return { ref: s };
}

/** The model name a spec will be served under, as far as it is known before loading (for failure reports). */
export function specName(spec: ModelSpec): string {
  if (!('ref' in spec)) return spec.name;
  if (spec.ref.startsWith('runs:/')) return spec.ref.replace(/\/+$/, '').split('/').pop() ?? spec.ref;
  try {
    return parseModelRef(spec.ref).name;
  } catch {
    return spec.ref;
  }
}

export interface ResolvedSpec {
  readonly name: string;
  readonly version: string;
  readonly path: string;
  /** Where it came from, for the admin listing: a path or 'registry:fraud@champion'. */
  readonly source: string;
}

const NAME_RE = /^[A-Za-z0-9][-A-Za-z0-9_.]*$/;

/**
 * What to do when a registry reference does not resolve: on a fresh registry the `champion` alias
 * (the help's own example) is unset until the operator promotes a version, so name the versions
 * that can be served instead, or how to register one.
 */
async function unresolvedHint(registry: ModelRegistry, name: string, version: string | number): Promise<string> {
  const versions = await registry.listVersions(name).catch(() => undefined);
  if (!versions || versions.length === 0)
    return `; register a version first (\`ghosteam run app.ts\` trains and registers one), or point --registry-dir/--mlflow-uri at the registry that has it`;
  if (typeof version === 'number' || /^\d+$/.test(version) || version === 'latest') return '';
  const latest = Math.max(...versions.map((v) => v.version));
  const why = version === 'champion' ? ' yet (the operator sets it when it promotes a version)' : '';
  return `; no version of '${name}' has the alias '${version}'${why}; serve a version instead: --model ${name}:${latest} (the latest of ${versions.length}) or --model ${name}@latest`;
}

export async function resolveSpec(spec: ModelSpec, registry?: ModelRegistry): Promise<ResolvedSpec> {
  if ('ref' in spec) {
    if (!registry)
      throw new RequestError(
        400,
        `model '${spec.ref}' is a registry reference but the server has no registry; pass a path instead (NAME=./model.onnx) or configure a registry`,
      );
    if (spec.ref.startsWith('runs:/')) {
      if (!registry.fetchRunModel)
        throw new RequestError(
          400,
          `'${spec.ref}' is an MLflow run URI; the ${registry.kind} registry has no runs; configure an MLflow registry (MLFLOW_TRACKING_URI)`,
        );
      let got;
      try {
        got = await registry.fetchRunModel(spec.ref);
      } catch (e) {
        throw new RequestError(404, `can't load '${spec.ref}' from the ${registry.kind} registry: ${(e as Error).message}`);
      }
      return { name: got.name, version: '1', path: await modelFileIn(got.path, spec.ref), source: spec.ref };
    }
    const { name, version } = parseModelRef(spec.ref);
    let mv;
    try {
      mv = await registry.resolve(name, version);
    } catch (e) {
      throw new RequestError(
        404,
        `can't resolve '${spec.ref}' in the ${registry.kind} registry: ${(e as Error).message}${await unresolvedHint(registry, name, version)}`,
      );
    }
    if (mv.format && mv.format !== 'onnx')
      throw new RequestError(400, `'${spec.ref}' resolved to ${mv.name} version ${mv.version} in format '${mv.format}'; the model server serves ONNX only`);
    const path = await modelFileIn(await registry.fetchArtifact(mv), spec.ref);
    return { name: mv.name, version: String(mv.version), path, source: `registry:${spec.ref}` };
  }
  if (typeof spec.name !== 'string' || !NAME_RE.test(spec.name))
    throw new RequestError(400, `model name ${JSON.stringify(spec.name)} is invalid; use letters, digits, '-', '_' and '.'`);
  if (spec.version !== undefined && (typeof spec.version !== 'string' || !/^[A-Za-z0-9][-A-Za-z0-9_.]*$/.test(spec.version)))
    throw new RequestError(400, `model version ${JSON.stringify(spec.version)} is invalid; use e.g. "2"`);
  if (typeof spec.path !== 'string' || spec.path === '') throw new RequestError(400, `model '${spec.name}': path must be a non-empty string`);
  const path = await modelFileIn(resolvePath(spec.path), `model '${spec.name}'`);
  return { name: spec.name, version: spec.version ?? '1', path, source: path };
}

export interface SessionOptions {
  /** onnxruntime intra-op threads. @default 1 (the HTTP layer needs the other core) */
  readonly intraOpThreads?: number;
  /**
   * Whether onnxruntime's intra-op threads spin between runs (session.intra_op.allow_spinning).
   * Off where runs come with gaps and the cores have other work (batch prediction's reader and
   * writer): a spinning pool takes that CPU. @default true (onnxruntime's default)
   */
  readonly spinning?: boolean;
}

/** What the server knows of a model without running it: its OIP signature and whether requests can be merged. */
export interface ModelSignature {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  /** True when every output's rows follow the inputs' rows (graph.ts), so requests can be merged. */
  readonly batchable: boolean;
  /** Why it is or isn't batchable, from the graph. */
  readonly batchReason: string;
  /** Outputs that the ONNX model declares as seq(map) (ZipMap), now served as [N, classes] tensors, with their labels. */
  readonly classLabels: ReadonlyMap<string, ClassLabels>;
}

/** One loaded ONNX session with its OIP signature. */
export interface OrtModel extends ModelSignature {
  readonly run: (inputs: readonly BatchInput[]) => Promise<Record<string, RawOutput>>;
  readonly release: () => Promise<void>;
}

/** Whether requests can be merged, and why: from the graph's proof and the declared shapes. */
function batchability(plan: GraphPlan | undefined, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): { batchable: boolean; batchReason: string } {
  const declared = [...inputs, ...outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
  // Only what the graph proves: where the proof stops (an operator or a use of the batch size it
  // can't follow), each request runs alone, and the reason says where; declared shapes are no proof.
  const batchable = declared && plan?.batchRows === true;
  const batchReason = !plan
    ? 'not proved: onnx-proto could not read the graph; each request runs alone'
    : plan.batchRows === true
      ? declared
        ? plan.batchReason
        : 'not proved: an input or output has no leading batch dimension; each request runs alone'
      : plan.batchRows === undefined
        ? `not proved: the analysis stops at ${plan.batchReason}; each request runs alone`
        : `not batchable: ${plan.batchReason}; each request runs alone`;
  return { batchable, batchReason };
}

/**
 * A model's signature read from its ONNX graph (inputs other than initializers, outputs, ZipMaps
 * as the server serves them), without creating a session: what a server under a memory budget
 * registers a model with, so that metadata and the batcher need no session until a request does.
 * Undefined where only onnxruntime can tell (a graph onnx-proto can't read, one the server
 * refuses, a tensor without a declared shape, an element type the session reports otherwise, e.g.
 * bfloat16): the caller then creates a session. server.ts checks the first session against it.
 */
export async function readModelSignature(path: string): Promise<ModelSignature | undefined> {
  const fileBytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new RequestError(400, `can't read model file ${path}: ${e.code ?? e.message}`);
  });
  let plan: GraphPlan;
  let graph: onnxProto.onnx.IGraphProto | null | undefined;
  try {
    plan = planGraph(fileBytes);
    if (plan.problems.length) return undefined;
    graph = onnx.ModelProto.decode(plan.bytes ?? fileBytes).graph;
  } catch {
    return undefined;
  }
  if (!graph) return undefined;
  const spec = (v: onnxProto.onnx.IValueInfoProto, labels?: ReadonlyMap<string, ClassLabels>): TensorSpec | undefined => {
    const t = v.type?.tensorType;
    const ortType = t?.elemType === undefined || t?.elemType === null ? undefined : ORT_TYPE_OF_ONNX[t.elemType];
    const datatype = ortType ? oipDatatypeOf(ortType) : undefined;
    if (!t?.shape || !datatype || typeof v.name !== 'string') return undefined;
    const shape = (t.shape.dim ?? []).map((d) => {
      const n = d.dimValue === undefined || d.dimValue === null ? undefined : Number(d.dimValue);
      return d.dimParam || n === undefined || !(n >= 0) ? -1 : n;
    });
    const l = labels?.get(v.name);
    return { name: v.name, datatype, shape, ...(l ? { parameters: { labels: l } } : {}) };
  };
  const inits = new Set((graph.initializer ?? []).map((x) => x.name));
  const inputs = (graph.input ?? []).filter((v) => !inits.has(v.name)).map((v) => spec(v));
  const outputs = (graph.output ?? []).map((v) => spec(v, plan.labels));
  const all = (xs: (TensorSpec | undefined)[]): xs is TensorSpec[] => xs.every((x) => x !== undefined);
  if (!all(inputs) || !all(outputs)) return undefined;
  return { inputs, outputs, ...batchability(plan, inputs, outputs), classLabels: plan.labels };
}

function signature(meta: readonly ort.InferenceSession.ValueMetadata[], what: string, path: string, labels?: ReadonlyMap<string, ClassLabels>): TensorSpec[] {
  return meta.map((m) => {
    if (!m.isTensor)
      throw new RequestError(
        400,
        `${path}: ${what} '${m.name}' is not a tensor; the Open Inference Protocol carries tensors only (a ZipMap's seq(map) output is served as a tensor; export other outputs as tensors)`,
      );
    const datatype = oipDatatypeOf(m.type);
    if (!datatype)
      throw new RequestError(
        400,
        `${path}: ${what} '${m.name}' has type ${m.type}, which has no JSON form in the Open Inference Protocol here (use float16/float32/float64/int*/uint*/bool/string)`,
      );
    const l = labels?.get(m.name);
    return { name: m.name, datatype, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)), ...(l ? { parameters: { labels: l } } : {}) };
  });
}

export async function loadOrtModel(path: string, opts: SessionOptions = {}): Promise<OrtModel> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.intraOpThreads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(opts.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  };
  const fileBytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new RequestError(400, `can't read model file ${path}: ${e.code ?? e.message}`);
  });
  // The graph as the server runs it: ZipMap outputs as tensors, row dims made symbolic (graph.ts).
  let plan: GraphPlan | undefined;
  try {
    plan = planGraph(fileBytes);
  } catch {
    const hint = nativeFormatHint(path, fileBytes.subarray(0, 512));
    if (hint) throw nativeFormatError('model', path, hint);
    // Not decodable by onnx-proto: let onnxruntime say what it thinks below.
  }
  if (plan && plan.problems.length) throw new RequestError(400, `can't serve ONNX model ${path}: ${plan.problems.join('; ')}`);
  let session: ort.InferenceSession;
  // bfloat16 inputs/outputs: onnxruntime-node 1.30 has no bfloat16 Tensor, so such a model is
  // loaded with float32 Casts at its edges (onnx-io.ts) and those tensors are BF16 to clients.
  let bf16: Set<string> | undefined;
  const modelBytes = plan?.bytes ?? fileBytes;
  try {
    session = plan?.bytes ? await ort.InferenceSession.create(plan.bytes, sessionOptions) : await ort.InferenceSession.create(path, sessionOptions);
  } catch (e) {
    const msg = (e as Error).message;
    const rewritten = /Unsupported data type: 16$/m.test(msg) ? rewriteBf16Io(modelBytes) : undefined;
    if (!rewritten) {
      const hint = nativeFormatHint(path, fileBytes.subarray(0, 512));
      if (hint && /Protobuf parsing failed|INVALID_PROTOBUF/i.test(msg)) throw nativeFormatError('model', path, hint);
      throw new RequestError(400, (await unsupportedIoMessage(path, msg)) ?? `can't load ONNX model ${path}: ${msg.split('\n')[0]}`);
    }
    try {
      session = await ort.InferenceSession.create(rewritten.bytes, sessionOptions);
    } catch (e2) {
      throw new RequestError(
        400,
        `can't load ONNX model ${path} (with its bfloat16 inputs and outputs cast from and to float32): ${(e2 as Error).message.split('\n')[0]}`,
      );
    }
    bf16 = new Set([...rewritten.inputs, ...rewritten.outputs]);
  }
  const asBf16 = (t: TensorSpec): TensorSpec => (bf16?.has(t.name) ? { ...t, datatype: 'BF16' } : t);
  const inputs = signature(session.inputMetadata, 'input', path).map(asBf16);
  const outputs = signature(session.outputMetadata, 'output', path, plan?.labels).map(asBf16);
  const { batchable, batchReason } = batchability(plan, inputs, outputs);
  const run = async (feeds: readonly BatchInput[]): Promise<Record<string, RawOutput>> => {
    const f: Record<string, ort.Tensor> = {};
    // ort.Tensor has one overload per element type; ortTypeOf(datatype) and the typed array match by construction.
    for (const i of feeds) f[i.name] = new ort.Tensor(ortTypeOf(i.datatype) as 'float32', i.typed as unknown as Float32Array, i.shape);
    const out = await session.run(f);
    const r: Record<string, RawOutput> = {};
    for (const k of Object.keys(out)) r[k] = { data: out[k].data, dims: out[k].dims };
    return r;
  };
  return { inputs, outputs, batchable, batchReason, classLabels: plan?.labels ?? new Map(), run, release: () => session.release() };
}
