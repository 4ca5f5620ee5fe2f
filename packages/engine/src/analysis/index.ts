export { pairwiseIouCxcywh } from './box_iou';
export { type ConfidenceMode, CONFIDENCE_MODES, checkConfidenceMode, sigmoid, maxClassScores, classScores } from './confidence';
export { descendingRanks, rankOf } from './ranking';
export { pearson } from './pearson';
export { type ImagePredictions, type ImageTargets, type ImageMatchPairs, checkImageInputs, checkMatch } from './image_inputs';
export { type BestRegressedResult, bestRegressedSamples, countRecalledAtK } from './best_regressed';
export { type MatchedSamples, matchedSamples } from './matched_samples';
export { type DistributionSummary, summarizeDistribution, histogramCounts, quantileSorted } from './distribution';
export { type AlignmentOptions, type AlignmentReport, type AlignmentSamples, AlignmentAccumulator } from './alignment_accumulator';
export { type AlignmentPlotOptions, writeAlignmentPlots } from './alignment_plots';
export { type BarGroup, barPlot } from './bar_plot';
export {
  type AnalyzableDetector,
  type FinalLayerMatcher,
  type AnalyzeDetectorOptions,
  type AnalyzeDetectorResult,
  analyzeDetector,
  isAnalyzableDetector,
} from './analyze_detector';
export {
  type AlignmentRunOptions,
  type AlignmentFile,
  type AlignmentRunResult,
  ALIGNMENT_DEFINITIONS,
  matcherCostsFromConfig,
  runAlignmentAnalysis,
  formatAlignmentSummary,
} from './run_analysis';
export { type MetricStats, meanStd, formatMeanStd } from './seed_statistics';
export {
  type RunSpec,
  type RunMetrics,
  type RunRecord,
  type RunStatus,
  type ExecuteRunOptions,
  RUN_RECORD,
  runDir,
  readRunRecord,
  runStatus,
  metricsFromAlignment,
  executeRun,
} from './reproduce_runs';
export { type ReportRow, type RowSummary, type ReportContext, REPORT_METRICS, summarizeRows, resultsMarkdown, writeReproduceReport } from './reproduce_report';
