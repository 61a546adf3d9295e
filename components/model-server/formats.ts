/**
 * Finding the ONNX file a model path means, and naming the converter when it is not ONNX.
 *
 * A path may be an `.onnx` file, a directory holding exactly one (KServe's /mnt/models), or an MLflow
 * model directory: its `MLmodel` file (what `mlflow.onnx.log_model` writes) names the ONNX file in
 * the `onnx` flavor's `data`. A native model file (a scikit-learn pickle, an XGBoost `.ubj`/`.json`,
 * a LightGBM `.txt`, a PyTorch `.pt`) is refused with the converter that turns it into ONNX.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { RequestError } from './tensors.ts';

const SKLEARN =
  "a scikit-learn model (or an XGBoost/LightGBM model pickled through its scikit-learn API): convert it with skl2onnx (`skl2onnx.to_onnx(model, X[:1].astype(numpy.float32))`; XGBoost/LightGBM estimators need onnxmltools' converters registered, see onnxmltools.convert_xgboost / convert_lightgbm)";
const XGBOOST =
  'an XGBoost model: convert it with onnxmltools (`onnxmltools.convert_xgboost(booster, initial_types=[("input", FloatTensorType([None, n_features]))])`)';
const LIGHTGBM =
  'a LightGBM model: convert it with onnxmltools (`onnxmltools.convert_lightgbm(model, initial_types=[("input", FloatTensorType([None, n_features]))])`)';
const TORCH = 'a PyTorch model: export it with `torch.onnx.export(model, example_input, "model.onnx", dynamic_axes={"input": {0: "batch"}})`';
const KERAS = 'a TensorFlow/Keras model: convert it with tf2onnx (`python -m tf2onnx.convert`)';

/**
 * What a non-ONNX model file is and how to convert it, from its name and first bytes; undefined
 * when it looks like nothing known (then onnxruntime's own error stands).
 */
export function nativeFormatHint(file: string, head: Uint8Array): string | undefined {
  const ext = extname(file).toLowerCase();
  const text = new TextDecoder('latin1').decode(head.subarray(0, 64));
  const isZip = head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  const isPickle = head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
  if (ext === '.pt' || ext === '.pth' || (isZip && ext !== '.keras')) return TORCH;
  if (ext === '.keras' || ext === '.h5' || ext === '.hdf5' || text.startsWith('\x89HDF')) return KERAS;
  if (ext === '.joblib' || ext === '.pkl' || ext === '.pickle' || isPickle) return SKLEARN;
  if (ext === '.ubj' || ext === '.bst' || ext === '.xgb' || (text.startsWith('{') && /"learner"/.test(new TextDecoder('latin1').decode(head)))) return XGBOOST;
  if (/^tree\r?\nversion=/.test(text) || (ext === '.txt' && text.startsWith('tree'))) return LIGHTGBM;
  if (text.startsWith('{L') || text.startsWith('{U') || text.startsWith('{i')) return XGBOOST; // UBJSON
  return undefined;
}

async function head(path: string, n = 512): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The error for a native model file. */
export function nativeFormatError(what: string, path: string, hint: string): RequestError {
  return new RequestError(400, `${what}: ${path} is not an ONNX model; it looks like ${hint}, and serve the .onnx file`);
}

/** The ONNX file an MLmodel file points at (onnx flavor), checked to stay inside the model directory. */
export async function onnxOfMlmodel(mlmodelPath: string, what: string): Promise<string> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(mlmodelPath, 'utf8'));
  } catch (e) {
    throw new RequestError(400, `${what}: ${mlmodelPath} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const flavors = (doc as { flavors?: Record<string, { data?: unknown; model_data?: unknown }> } | null)?.flavors;
  if (!flavors || typeof flavors !== 'object') throw new RequestError(400, `${what}: ${mlmodelPath} has no 'flavors'; it is not an MLflow model`);
  const onnx = flavors.onnx;
  if (!onnx) {
    const names = Object.keys(flavors).filter((f) => f !== 'python_function');
    const hint = names.includes('sklearn')
      ? SKLEARN
      : names.includes('xgboost')
        ? XGBOOST
        : names.includes('lightgbm')
          ? LIGHTGBM
          : names.includes('pytorch')
            ? TORCH
            : names.some((n) => /keras|tensorflow/.test(n))
              ? KERAS
              : undefined;
    throw new RequestError(
      400,
      `${what}: the MLflow model at ${dirname(mlmodelPath)} has flavor${names.length === 1 ? '' : 's'} ${names.join(', ') || '(none)'} but no 'onnx' flavor; the server serves ONNX${hint ? `. It is ${hint}, and log it with mlflow.onnx.log_model` : '; log an ONNX model with mlflow.onnx.log_model'}`,
    );
  }
  const data = onnx.data ?? onnx.model_data;
  if (typeof data !== 'string' || data === '')
    throw new RequestError(400, `${what}: ${mlmodelPath}: flavors.onnx.data must name the ONNX file (e.g. model.onnx)`);
  const dir = dirname(mlmodelPath);
  const file = resolve(dir, data);
  const rel = relative(dir, file);
  if (rel.startsWith('..') || rel.startsWith(sep))
    throw new RequestError(400, `${what}: ${mlmodelPath}: flavors.onnx.data '${data}' points outside the model directory`);
  return file;
}

/**
 * The ONNX file behind a model path: the file itself, the one .onnx in a directory, or the onnx
 * flavor's file of an MLflow model directory (or of an `MLmodel` file). Refuses native formats with
 * the converter to use.
 */
export async function modelFileIn(path: string, what: string): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new RequestError(400, `${what}: ${path} does not exist`);
  if (st.isDirectory()) {
    const files = (await readdir(path)).sort();
    if (files.includes('MLmodel')) return onnxOfMlmodel(join(path, 'MLmodel'), what);
    const onnx = files.filter((f) => f.endsWith('.onnx'));
    if (onnx.length === 1) return join(path, onnx[0]);
    if (onnx.length === 0) {
      for (const f of files) {
        const fst = await stat(join(path, f)).catch(() => undefined);
        if (!fst?.isFile()) continue;
        const hint = nativeFormatHint(f, await head(join(path, f)));
        if (hint) throw nativeFormatError(what, join(path, f), hint);
      }
    }
    throw new RequestError(
      400,
      `${what}: directory ${path} holds ${onnx.length} .onnx files (${onnx.join(', ') || 'none'}); it must hold exactly one, or an MLflow MLmodel file, or pass the file's path`,
    );
  }
  if (basename(path) === 'MLmodel') return onnxOfMlmodel(path, what);
  if (!path.toLowerCase().endsWith('.onnx')) {
    const hint = nativeFormatHint(path, await head(path));
    if (hint) throw nativeFormatError(what, path, hint);
  }
  return path;
}
