/**
 * Batch prediction (`ghosteam predict`): a CSV, JSON Lines, Parquet or Arrow IPC file streamed
 * through an ONNX model in large batches with bounded memory; the kept input columns (ids) and the
 * model's outputs written atomically, with lineage (model version and digest, input digest) in a
 * sidecar `<output>.lineage.json` and, for Parquet and Arrow outputs, in the file's metadata.
 *
 * ```ts
 * const r = await predictFile({ model: 'fraud@champion', registry, input: 'today.parquet', output: 'scores.parquet' });
 * console.log(r.rows, r.rowsPerSec, r.lineage.model.version);
 * ```
 */
export {
  predictFile,
  lineagePathFor,
  modelMeta,
  DEFAULT_BATCH_ROWS,
  DEFAULT_CHUNK_ROWS,
  type PredictOptions,
  type PredictResult,
  type PredictLineage,
  type PredictProgress,
} from './predict.ts';
export { BatchPredictError, formatOfPath, planFeatures, planOutputs, type TableFormat, type FeaturePlan, type OutputColumn, type ModelMeta } from './plan.ts';
export { resumeStateDir, chunkPartName, diffResumeState, type ResumeIdentity, type ResumeState } from './resume.ts';
export { openReader, type Chunk, type TableReader } from './readers.ts';
export { openWriter, type ColumnSpec, type ColumnKind, type TableWriter } from './writers.ts';
