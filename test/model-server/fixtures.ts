/** Model files and helpers shared by the model-server tests. */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { denseNetToOnnx, type DenseNet } from '../../components/onnx/index.ts';
import { randomDenseNet, seededRandom } from '../../components/onnx/random.ts';

const { onnx } = onnxProto;

export function tempDir(prefix = 'ghosteam-ms-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a fraud-shaped MLP (16 → 8 → 1) with a given seed; different seeds give different versions. */
export function writeFraudModel(dir: string, seed: number, file = `fraud-${seed}.onnx`): { path: string; net: DenseNet } {
  const net = randomDenseNet([16, 8, 1], seed);
  const path = join(dir, file);
  writeFileSync(path, denseNetToOnnx(net, { modelName: 'fraud' }));
  return { path, net };
}

const DT = onnx.TensorProto.DataType;
export const IDENTITY_TYPES: Record<string, number> = {
  BOOL: DT.BOOL,
  UINT8: DT.UINT8,
  UINT16: DT.UINT16,
  UINT32: DT.UINT32,
  UINT64: DT.UINT64,
  INT8: DT.INT8,
  INT16: DT.INT16,
  INT32: DT.INT32,
  INT64: DT.INT64,
  FP32: DT.FLOAT,
  FP64: DT.DOUBLE,
  BYTES: DT.STRING,
};

/** A model with one input 'x' [N, 2] of the given OIP datatype, returned unchanged as 'y'. */
export function writeIdentityModel(dir: string, datatype: keyof typeof IDENTITY_TYPES): string {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: IDENTITY_TYPES[datatype], shape: { dim: [{ dimParam: 'N' }, { dimValue: 2 }] } } } });
  const bytes = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'test',
      graph: { name: 'identity', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], input: [vi('x')], output: [vi('y')] },
    }),
  ).finish();
  const path = join(dir, `identity-${datatype}.onnx`);
  writeFileSync(path, bytes);
  return path;
}

export function rows(n: number, seed: number, k = 16): number[][] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => Array.from({ length: k }, () => Math.fround(r() * 10)));
}

export function inferBody(data: number[][], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ inputs: [{ name: 'input', shape: [data.length, data[0].length], datatype: 'FP32', data: data.flat() }], ...extra });
}

export async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/** Follows a spawned `ghosteam serve`: its combined output so far, and its URL once it says "listening on" (rejects if it exits first). */
export function watchServe(child: ChildProcessWithoutNullStreams): { readonly url: Promise<string>; output(): string } {
  let out = '';
  child.stderr.on('data', (c) => (out += c));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c) => {
      out += c;
      const u = /listening on (http:\/\/\S+)/.exec(out);
      if (u) resolve(u[1]);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { url, output: () => out };
}

/**
 * The records of a JSON Lines file another process or task is appending to: complete lines only
 * (the writer may be mid-append: an empty file, or a last line without its newline yet); none when
 * the file is not there yet.
 */
export function completeJsonLines<T = any>(path: string): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}
