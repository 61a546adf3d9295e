/**
 * The built-in components, as the pipeline DSL sees them: name, version, typed inputs/outputs and
 * output params (the `Component` contract minus `run`). Kept as plain data so that synthesizing a
 * pipeline never loads the components' heavy dependencies (tfjs, onnxruntime). A test checks every
 * entry against the real component module in components/<name>/.
 */
import type { Component, ParamDecl } from '../components/component.ts';
import { PARAMS } from '../components/param-decls.ts';
import { ALL_METRICS } from '../components/evaluate/task-metrics.ts';

export type { ParamDecl } from '../components/component.ts';

export type ComponentDescriptor = Pick<Component, 'name' | 'version' | 'inputs' | 'outputs' | 'fileParams'> & {
  readonly outputParams?: readonly string[];
  readonly description?: string;
  /** Every param the component reads: any other param, or a value outside what one takes, is a synth-time error. */
  readonly params: Readonly<Record<string, ParamDecl>>;
};

export const BUILTIN_COMPONENTS: Readonly<Record<string, ComponentDescriptor>> = {
  ingest: {
    name: 'ingest',
    version: '3',
    inputs: [{ name: 'source', kind: 'file', optional: true }],
    outputs: [{ name: 'dataset', kind: 'dataset' }],
    outputParams: ['rows', 'columns', 'digest', 'kafkaOffsets'],
    fileParams: ['path'],
    params: PARAMS.ingest,
  },
  validate: {
    name: 'validate',
    version: '3',
    inputs: [{ name: 'dataset', kind: 'dataset' }],
    outputs: [
      { name: 'report', kind: 'metrics' },
      { name: 'dataReport', kind: 'file' },
    ],
    outputParams: ['passed', 'violations', 'failureRate', 'expectationsFailed'],
    params: PARAMS.validate,
  },
  split: {
    name: 'split',
    version: '2',
    inputs: [{ name: 'dataset', kind: 'dataset' }],
    outputs: [
      { name: 'train', kind: 'dataset' },
      { name: 'test', kind: 'dataset' },
    ],
    outputParams: ['trainRows', 'testRows'],
    params: PARAMS.split,
  },
  'train-tabular': {
    name: 'train-tabular',
    version: '2',
    inputs: [
      { name: 'train', kind: 'dataset' },
      { name: 'validation', kind: 'dataset', optional: true },
    ],
    outputs: [{ name: 'model', kind: 'model' }],
    outputParams: ['finalLoss', 'valLoss', 'backend', 'rows', 'task'],
    params: PARAMS['train-tabular'],
  },
  evaluate: {
    name: 'evaluate',
    version: '2',
    inputs: [
      { name: 'model', kind: 'model' },
      { name: 'test', kind: 'dataset' },
    ],
    outputs: [{ name: 'metrics', kind: 'metrics' }],
    outputParams: [...ALL_METRICS, 'task', 'passed'],
    params: PARAMS.evaluate,
  },
  gate: {
    name: 'gate',
    version: '1',
    inputs: [{ name: 'metrics', kind: 'metrics' }],
    outputs: [],
    outputParams: ['passed', 'reasons'],
    params: PARAMS.gate,
  },
  'export-onnx': {
    name: 'export-onnx',
    version: '1',
    inputs: [{ name: 'model', kind: 'model' }],
    outputs: [{ name: 'onnx', kind: 'model' }],
    outputParams: ['digest', 'features'],
    params: PARAMS['export-onnx'],
  },
  register: {
    name: 'register',
    version: '1',
    inputs: [
      { name: 'model', kind: 'model' },
      { name: 'metrics', kind: 'metrics', optional: true },
      { name: 'dataset', kind: 'dataset', optional: true },
      { name: 'trained', kind: 'model', optional: true },
    ],
    outputs: [],
    outputParams: ['version', 'modelRef', 'registry'],
    params: PARAMS.register,
  },
  'get-historical-features': {
    name: 'get-historical-features',
    version: '1',
    inputs: [{ name: 'entities', kind: 'dataset' }],
    outputs: [{ name: 'dataset', kind: 'dataset' }],
    outputParams: ['rows', 'features', 'found'],
    params: PARAMS['get-historical-features'],
  },
  'sweep-controller': {
    name: 'sweep-controller',
    version: '1',
    inputs: [],
    outputs: [],
    outputParams: ['items', 'state', 'done', 'final', 'best'],
    params: PARAMS['sweep-controller'],
  },
  'materialize-features': {
    name: 'materialize-features',
    version: '1',
    inputs: [],
    outputs: [],
    outputParams: ['rowsWritten', 'chunks', 'until'],
    params: PARAMS['materialize-features'],
  },
  'optimize-onnx': {
    name: 'optimize-onnx',
    version: '1',
    inputs: [
      { name: 'model', kind: 'model', optional: true },
      { name: 'validation', kind: 'dataset', optional: true },
    ],
    outputs: [
      { name: 'optimized', kind: 'model' },
      { name: 'report', kind: 'metrics' },
    ],
    outputParams: ['accepted', 'sizeRatio', 'metricDelta', 'version', 'modelRef'],
    params: PARAMS['optimize-onnx'],
  },
  'batch-predict': {
    name: 'batch-predict',
    version: '1',
    inputs: [{ name: 'input', kind: 'dataset', optional: true }],
    outputs: [{ name: 'lineage', kind: 'file' }],
    outputParams: ['rows', 'modelVersion', 'inputDigest', 'outputDigest', 'output'],
    fileParams: ['input'],
    params: PARAMS['batch-predict'],
  },
  drift: {
    name: 'drift',
    version: '1',
    inputs: [
      { name: 'reference', kind: 'dataset' },
      { name: 'current', kind: 'dataset' },
    ],
    outputs: [
      { name: 'result', kind: 'metrics' },
      { name: 'report', kind: 'file', optional: true },
      { name: 'summary', kind: 'file', optional: true },
    ],
    outputParams: ['datasetDrift', 'driftShare', 'driftedColumns'],
    params: PARAMS.drift,
  },
};

/** Looks a built-in component up by name; the error lists what exists. */
export function builtinComponent(name: string): ComponentDescriptor {
  const c = BUILTIN_COMPONENTS[name];
  if (!c) throw new Error(`'${name}' is not a built-in component; use one of ${Object.keys(BUILTIN_COMPONENTS).join(', ')}, or pass a Component object`);
  return c;
}
