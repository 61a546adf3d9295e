/**
 * What the optimizer asks onnxruntime (onnxruntime-node, the runtime ghosteam serves with):
 * - graph optimizations, saved as a model (`optimizedModelFilePath`);
 * - the element type of every tensor in a graph (its own type inference, by loading a copy of the
 *   model that lists every node output as a graph output);
 * - whether a rewritten model loads, and which node it has no kernel for.
 */
import * as ort from 'onnxruntime-node';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptimizeError } from './int8.ts';
import { ORT_TYPE_OF_ONNX } from '../onnx/index.ts';
import { decodeModel, DT, encodeModel, onnx, pruneOpsets, type IModel } from './proto.ts';

/**
 * onnxruntime's graph optimization levels. 'basic' rewrites with standard ONNX ops only (constant
 * folding, redundant node elimination, semantics-preserving fusions), so the file runs anywhere;
 * 'extended' and 'all' fuse into onnxruntime's own com.microsoft ops (and 'all' into this CPU's
 * layouts), so that file runs on onnxruntime only.
 */
export type GraphLevel = 'disabled' | 'basic' | 'extended' | 'all';
export const GRAPH_LEVELS: readonly GraphLevel[] = ['disabled', 'basic', 'extended', 'all'];

/** The model after onnxruntime's graph optimizations at `level`, as onnxruntime saves it. */
export async function optimizeGraph(bytes: Uint8Array, level: GraphLevel, where: string): Promise<Uint8Array> {
  if (level === 'disabled') return bytes;
  const dir = await mkdtemp(join(tmpdir(), 'ghosteam-optimize-'));
  try {
    const file = join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level, optimizedModelFilePath: file, intraOpNumThreads: 1 }).catch(
      (e: Error) => {
        throw new OptimizeError(`can't load ${where} in onnxruntime: ${e.message.split('\n')[0]}`);
      },
    );
    await session.release();
    const m = decodeModel(await readFile(file));
    // onnxruntime's saved model imports every domain it knows; keep the ones the graph uses.
    pruneOpsets(m, []);
    return encodeModel(m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Element types of the graph's tensors (inputs, initializers, every node output), from
 * onnxruntime's type inference: a copy of the model that lists every node output as a typeless
 * graph output is loaded (not run), and onnxruntime reports each output's type. Non-tensor values
 * (a ZipMap's sequence of maps) are 'non-tensor'.
 */
export async function tensorTypes(m: IModel, where: string): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  const g = m.graph!;
  for (const t of g.initializer ?? []) types.set(String(t.name), ORT_TYPE_OF_ONNX[t.dataType ?? 0] ?? 'unknown');
  const probe = onnx.ModelProto.decode(encodeModel(m));
  const pg = probe.graph!;
  const outputs = (pg.output ??= []);
  const listed = new Set(outputs.map((v) => v.name));
  for (const n of pg.node ?? [])
    for (const o of n.output ?? [])
      if (o && !listed.has(o)) {
        listed.add(o);
        outputs.push(onnx.ValueInfoProto.create({ name: o }));
      }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnx.ModelProto.encode(probe).finish(), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  } catch (e) {
    throw new OptimizeError(`can't load ${where} in onnxruntime: ${(e as Error).message.split('\n')[0]}`);
  }
  for (const v of [...session.inputMetadata, ...session.outputMetadata]) types.set(v.name, v.isTensor ? v.type : 'non-tensor');
  await session.release();
  return types;
}

/** Loads a rewritten model (not run): undefined when it loads, else onnxruntime's message and the node it names as lacking a kernel. */
export async function loadProblem(bytes: Uint8Array): Promise<{ message: string; node?: string; op?: string } | undefined> {
  try {
    const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
    await s.release();
    return undefined;
  } catch (e) {
    const message = (e as Error).message.split('\n')[0];
    const k = /Could not find an implementation for (\w+)\(\d+\) node with name '([^']*)'/.exec(message);
    return k ? { message, op: k[1], node: k[2] } : { message };
  }
}

export { DT };
