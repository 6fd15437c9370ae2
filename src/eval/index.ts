/**
 * Evaluation and quantization experiments: preference-pair and best-of-N
 * (RewardBench 2) data parsers, `evaluate()` and `evaluateBestOfN()`, the
 * quantization sweeps, and the report writers (JSON, HTML, Markdown, SVG).
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
export { evaluateBestOfN } from "./evaluate-best-of-n.js";
export type { EvaluateBestOfNOptions } from "./evaluate-best-of-n.js";
export { readBestOfN, parseBestOfNLines, parseBestOfNRow, detectBestOfNFormat, bestOfNFormats } from "./best-of-n-formats.js";
export type { BestOfNFormat, BestOfNItem, BestOfNFile } from "./best-of-n-formats.js";
export { buildBestOfNReport } from "./best-of-n-report.js";
export type {
    BestOfNReport,
    BestOfNModelReport,
    BestOfNComparison,
    BestOfNItemReport,
    BestOfNSubsetResult,
    BestOfNRun,
} from "./best-of-n-report.js";
export { promptResult, tiesScore, rewardBench2Subsets } from "./rewardbench2.js";
export type { TiesScore, TiesPrompt } from "./rewardbench2.js";
export { quantizationSweepBestOfN } from "./sweep.js";
export { renderHtmlReport } from "./html-report.js";
export type { HtmlReportOptions } from "./html-report.js";
export { writeBestOfNReportDir, bestOfNReportPlots } from "./write-report.js";
export { kendallTau } from "./statistics.js";
