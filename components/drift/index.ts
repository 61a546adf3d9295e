/**
 * ghosteam drift detection.
 *
 * Batch (exact):      detectDrift(referenceColumns, currentColumns, options) → DriftResult
 *                     detectDriftParallel(…) — the same over worker threads for wide data
 * Streaming (sketch): const ref = buildReferenceSummary(referenceColumns)          // store as JSON
 *                     compareToReference(ref, currentSummary | currentColumns, options) → DriftResult
 *                     SummaryAccumulator / mergeSummaries / summarizeColumns       // fixed memory, mergeable
 * Payload logs:       detectDriftFromPayloadLog(path, ref, { features, window })  // what the DriftMonitor calls
 *                     summarizePayloadLog / readPayloadLog
 * Report:             renderHtmlReport(result), featureChartSvg(column), svgToPng(svg)
 * Statistics:         ks2samp, wasserstein, psi, jensenShannon, chi2Contingency, mmdTest, pcaReconstructionDrift
 */
export * from './types.ts';
export {
  detectDrift,
  compareProfiles,
  profileColumn,
  combineColumns,
  selectTest,
  testApplies,
  fdrAdjust,
  AUTO_SMALL_REFERENCE,
  AUTO_LOW_CARDINALITY,
} from './detect.ts';
export { detectDriftParallel, type ParallelOptions } from './parallel.ts';
export {
  buildReferenceSummary,
  compareToReference,
  mergeSummaries,
  summarizeColumns,
  parseSummary,
  ksBounds,
  wassersteinFromBins,
  SummaryAccumulator,
  SUMMARY_FORMAT,
  type ReferenceSummary,
  type CurrentSummary,
  type ColumnSummary,
  type NumericColumnSummary,
  type CategoricalColumnSummary,
  type ReferenceSummaryOptions,
} from './summary.ts';
export {
  detectDriftFromPayloadLog,
  summarizePayloadLog,
  readPayloadLog,
  type PayloadLogOptions,
  type PayloadBatch,
  type WindowSpec,
  type SummaryWindow,
  type SummarizeOptions,
  type PayloadDriftReport,
  type PayloadDriftWindow,
} from './payload-log.ts';
export {
  ks2samp,
  ksPValue,
  wasserstein,
  psi,
  jensenShannon,
  chi2Contingency,
  stdDev,
  quantileEdges,
  type KsResult,
  type Chi2Result,
  type Alternative,
  type KsMethod,
} from './stats.ts';
export { kstwoSf, smirnovSf, chi2Sf } from './special.ts';
export { sortNumeric } from './sort.ts';
export { mmdTest, pcaReconstructionDrift, matrixFromColumns, type Matrix, type MmdOptions, type PcaOptions } from './multivariate.ts';
export { renderHtmlReport, featureChartSvg, svgToPng, type ReportMeta } from './report.ts';
export { columnData, datasetColumns, readPair, readReferenceSummary, sideOptions, type ReadPairOptions } from './io.ts';
export { driftComponent } from './component.ts';
