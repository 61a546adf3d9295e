/** The model artifact train-tabular writes and evaluate / export-onnx / register read. */
import { readFile } from 'node:fs/promises';
import type { DenseNet, DenseNetTask } from '../onnx/index.ts';

export const MODEL_FORMAT = 'ghosteam.densenet/v1';

export interface ModelArtifact {
  readonly format: typeof MODEL_FORMAT;
  readonly net: DenseNet;
  /** What was learned. Absent in artifacts written before tasks existed: binary. */
  readonly task?: DenseNetTask;
  /** The label column; absent for an anomaly model trained without one. */
  readonly label?: string;
  /** binary: the label value read as class 1. */
  readonly positive?: string;
  /** multiclass: the class labels, in the order of the output columns. */
  readonly classes?: readonly string[];
  readonly training: {
    /** Rows trained on (without the validation slice). */
    readonly rows: number;
    /** Held-out rows whose loss was reported per epoch, and those losses. */
    readonly validationRows?: number;
    readonly valLosses?: readonly number[];
    readonly epochs: number;
    readonly batchSize: number;
    readonly learningRate: number;
    readonly seed: number;
    readonly hidden?: readonly number[];
    readonly backend: string;
    readonly losses: readonly number[];
    readonly durationMs: number;
  };
}

export async function readModel(path: string): Promise<ModelArtifact> {
  let m: ModelArtifact;
  try {
    m = JSON.parse(await readFile(path, 'utf8')) as ModelArtifact;
  } catch (err) {
    throw new Error(`cannot read model ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (m?.format !== MODEL_FORMAT)
    throw new Error(`${path}: not a ghosteam model artifact (format '${String(m?.format)}', expected '${MODEL_FORMAT}'); produce it with train-tabular`);
  return m;
}
