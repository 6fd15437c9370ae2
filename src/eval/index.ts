/**
 * Evaluation and quantization experiments: preference data parsers,
 * `evaluate()`, the quantization sweep, and the report writers.
 */
export { evaluate } from "./evaluate.js";
export type { EvalModel, EvalModelSpec, EvalProgress, EvaluateOptions } from "./evaluate.js";
export { readPairs, parsePairLines, parseRow, parseTranscript, detectFormat, dataFormats } from "./formats.js";
export type { DataFormat, PreferencePair, ReadPairsOptions, PairsFile } from "./formats.js";
export { quantizationSweep, sweepTypes } from "./sweep.js";
export type { SweepOptions } from "./sweep.js";
export { buildReport } from "./report.js";
export type { EvalReport, ModelReport, ComparisonReport, ItemReport, SubsetResult, ModelRun } from "./report.js";
export { rewardBenchScores, rewardBenchSubsets, rewardBenchSectionNames } from "./rewardbench.js";
export type { RewardBenchSection, RewardBenchScores } from "./rewardbench.js";
export { renderMarkdown } from "./markdown.js";
export { reportJson, writeReportJson, writeReportDir, reportPlots } from "./write-report.js";
export type { PlotFile } from "./svg-plots.js";
export { preferenceProbability } from "../model/preference.js";
export { pearson, spearman, averageRanks, relativeL2 } from "./statistics.js";
