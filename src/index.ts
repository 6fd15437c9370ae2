/**
 * llama-reward: score chat conversations with GGUF Llama-3 reward models.
 */
export { RewardModel } from "./model/reward-model.js";
export { IsolatedRewardModel } from "./model/isolation/isolated-reward-model.js";
export type {
    RewardModelInfo,
    CallOptions,
    BatchOptions,
    BatchProgress,
    TokenizeOptions,
    TokenizeConversationOptions,
    CompareResult,
    RankedResponse,
    StepOptions,
    StepScore,
    StepScores,
    ObjectiveScores,
} from "./model/reward-model.js";
export type {
    StepInput,
    StepSolution,
    StepTokens,
    StepAggregates,
    StepFormat,
    StepActivation,
    StepAggregate,
} from "./model/step-scores.js";
export type { StepMetadata } from "./gguf/step-metadata.js";
export type { RewardNormalization } from "./model/reward-normalization.js";
export type { TemplateValue } from "./model/template-variables.js";
export type { ChatMessage } from "./model/chat-template.js";
export type { BosPolicy } from "./model/bos-policy.js";
export type { LoadOptions, IsolatedLoadOptions, LoadProgress, KvCacheType, Truncation, ResolvedLoadOptions } from "./model/load-options.js";
export { RewardModelError, isRewardModelError, rewardErrorCodes } from "./errors.js";
export type { RewardErrorCode } from "./errors.js";
export { fileTypes, fileTypeName } from "./model/file-types.js";
export { systemInfo, cpuInfo, backendDevices, addonInfo } from "./model/system.js";
export type { CpuReport, CpuFeatureFlags, CpuKind, FileTypeRecommendation, RecommendedFileType } from "./model/cpu-features.js";
export type { BackendDevice, AddonInfo } from "./model/system.js";
export type { CpuBackendInfo } from "./addon/cpu-backend.js";
export type { Bf16Kernel, F16Kernel, F32Kernel } from "./addon/native-types.js";
export type { GpuOption, GpuBackend } from "./model/gpu.js";
export { convert } from "./convert/convert.js";
export type { ConvertOptions, ConvertProgress, ConvertResult, ConvertOutType, ConvertStepOptions } from "./convert/convert.js";
export { quantize, quantizeTypeNames } from "./convert/quantize.js";
export type { QuantizeOptions, QuantizeProgress, QuantizeResult } from "./convert/quantize.js";
export { createServer } from "./server/index.js";
export type { RewardServer, ListenAddress, ServerOptions, ServerState } from "./server/index.js";
export {
    evaluate,
    evaluateBestOfN,
    quantizationSweep,
    quantizationSweepBestOfN,
    readBestOfN,
    readPairs,
    parsePairLines,
    parseRow,
    writeReportDir,
    writeBestOfNReportDir,
    writeReportJson,
    renderMarkdown,
    renderHtmlReport,
    reportPlots,
    rewardBenchScores,
} from "./eval/index.js";
export type {
    EvalModel,
    EvalModelSpec,
    EvalProgress,
    EvaluateOptions,
    SweepOptions,
    DataFormat,
    PreferencePair,
    ReadPairsOptions,
    EvalReport,
    ModelReport,
    ComparisonReport,
    ItemReport,
    PlotFile,
    EvaluateBestOfNOptions,
    BestOfNFormat,
    BestOfNItem,
    BestOfNReport,
    BestOfNModelReport,
    BestOfNComparison,
    HtmlReportOptions,
} from "./eval/index.js";
export { trainHead } from "./train/train-head.js";
export type { TrainHeadOptions, TrainHeadProgress, TrainHeadReport, TrainHeadResult } from "./train/train-head.js";
