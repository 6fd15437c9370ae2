/**
 * The messages between an IsolatedRewardModel (host) and its engine process
 * (engine-child.ts), and how a RewardModelError crosses that boundary with
 * its code. Messages go through the structured-clone channel of
 * child_process.fork ("advanced" serialization) or Electron's utilityProcess,
 * so typed arrays and plain objects pass as they are.
 */
import { RewardModelError, isRewardErrorCode } from "../../errors.js";
import type { LoadOptions, ResolvedLoadOptions } from "../load-options.js";
import type { RewardModelInfo } from "../reward-model.js";
import type { SchedulerStats } from "../../scoring/scheduler.js";

/** The RewardModel methods the engine runs, with the position of their options argument (signal, onProgress). */
export const ENGINE_METHODS = {
    score: 1,
    scoreVector: 1,
    scoreBatch: 1,
    scoreResponses: 2,
    compare: 2,
    rank: 2,
    scoreText: 1,
    scoreTokens: 1,
    scoreTokenBatch: 1,
    scoreTokensAt: 2,
    scoreSteps: 1,
    scoreObjectives: 1,
    scoreObjectivesOfTokens: 1,
    tokenize: 1,
    tokenizeConversation: 1,
    hiddenStates: 1,
    hiddenStatesOfTokens: 1,
    tokenText: -1,
} as const;

export type EngineMethod = keyof typeof ENGINE_METHODS;

/** LoadOptions as sent to the engine: the signal and the progress callback stay in the host. */
export type EngineLoadOptions = Omit<LoadOptions, "signal" | "onProgress">;

export interface SerializedError {
    code: string;
    message: string;
}

/** Host to engine. */
export type HostMessage =
    | { type: "load"; path: string; options: EngineLoadOptions; progress: boolean }
    | {
          type: "call";
          id: number;
          method: EngineMethod;
          args: unknown[];
          /** The call's options without signal and onProgress; undefined when the method takes none. */
          options?: Record<string, unknown>;
          progress: boolean;
      }
    | { type: "abort"; id: number }
    | { type: "dispose" };

/** Engine to host. */
export type EngineMessage =
    | { type: "ready" }
    | { type: "load-progress"; progress: number }
    | {
          type: "loaded";
          info: RewardModelInfo;
          options: ResolvedLoadOptions;
          bosText: string;
          eosText: string;
          stats: SchedulerStats;
      }
    | { type: "load-failed"; error: SerializedError }
    | { type: "progress"; id: number; completed: number; total: number }
    | { type: "result"; id: number; value: unknown; stats: SchedulerStats }
    | { type: "error"; id: number; error: SerializedError; stats: SchedulerStats }
    | { type: "disposed" };

/** What the engine sends for a failure: the code of a RewardModelError, ERR_INTERNAL for anything else. */
export function serializeError(error: unknown): SerializedError {
    if (error instanceof RewardModelError) return { code: error.code, message: error.message };
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { code: "ERR_INTERNAL", message: `the isolated engine failed: ${text}` };
}

/** The host's RewardModelError for a failure the engine reported. */
export function deserializeError(error: SerializedError, cause?: unknown): RewardModelError {
    const code = isRewardErrorCode(error.code) ? error.code : "ERR_INTERNAL";
    return new RewardModelError(code, error.message, cause === undefined ? undefined : { cause });
}
