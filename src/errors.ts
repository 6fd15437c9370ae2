/**
 * The one error type of llama-reward. Every failure a caller can cause or
 * meet carries a stable `code`, so callers branch on codes, never on text.
 */

export type RewardErrorCode =
    | "ERR_MODEL_NOT_FOUND"          // the model path does not exist or is not a file
    | "ERR_NOT_GGUF"                 // the file is not a GGUF file (bad magic or version)
    | "ERR_CORRUPT_MODEL"            // GGUF metadata or tensor table is malformed, or the file is truncated
    | "ERR_UNSUPPORTED_ARCHITECTURE" // general.architecture is not one llama-reward runs
    | "ERR_NO_REWARD_HEAD"           // no cls.output.weight tensor
    | "ERR_LOAD_FAILED"              // llama.cpp refused the file or the context
    | "ERR_CONTEXT_OVERFLOW"         // a sequence does not fit the context
    | "ERR_INVALID_MESSAGES"         // messages are not a non-empty list of {role, content}
    | "ERR_INVALID_TOKENS"           // token ids are empty, non-integer or out of the vocabulary
    | "ERR_INVALID_OPTION"           // an option has a wrong type or value
    | "ERR_TEMPLATE"                 // the chat template failed to render
    | "ERR_DECODE_FAILED"            // llama_decode reported an error
    | "ERR_ABORTED"                  // an AbortSignal fired
    | "ERR_DISPOSED"                 // the model was disposed
    | "ERR_NATIVE_NOT_BUILT"         // the native addon could not be loaded
    | "ERR_CONVERT_FAILED"           // a checkpoint could not be converted
    | "ERR_QUANTIZE_FAILED";         // llama_model_quantize failed

export class RewardModelError extends Error {
    override readonly name = "RewardModelError";
    readonly code: RewardErrorCode;

    constructor(code: RewardErrorCode, message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.code = code;
    }
}

/** True when `error` is a RewardModelError, optionally with the given code. */
export function isRewardModelError(error: unknown, code?: RewardErrorCode): error is RewardModelError {
    return error instanceof RewardModelError && (code === undefined || error.code === code);
}

/** The error an aborted call rejects with, keeping the signal's reason as cause. */
export function abortedError(signal: AbortSignal | undefined, what: string): RewardModelError {
    return new RewardModelError("ERR_ABORTED", `${what} was aborted`, { cause: signal?.reason });
}
