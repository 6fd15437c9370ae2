/**
 * llama-reward: score chat conversations with GGUF Llama-3 reward models.
 */
export { RewardModel } from "./reward-model.js";
export type { RewardModelInfo, CallOptions, BatchOptions, BatchProgress, TokenizeOptions } from "./reward-model.js";
export type { ChatMessage } from "./chat-template.js";
export type { BosPolicy } from "./bos-policy.js";
export type { LoadOptions, LoadProgress, KvCacheType, Truncation, ResolvedLoadOptions } from "./load-options.js";
export { RewardModelError, isRewardModelError } from "./errors.js";
export type { RewardErrorCode } from "./errors.js";
export { fileTypes, fileTypeName } from "./file-types.js";
export { systemInfo, backendDevices } from "./system.js";
