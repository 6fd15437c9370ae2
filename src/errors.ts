/**
 * The one error path of llama-reward. Every failure a caller can cause or
 * meet is a RewardModelError with a stable `code`, so callers branch on
 * codes, never on text. This module owns the list of codes, the mapping of
 * addon errors to codes (`fromNativeError`), the invalid-argument error
 * (`invalidArgument`) and the caller's stack on
 * asynchronous failures (`withCallerStack`); nothing else builds them.
 */

/** Every code a RewardModelError can carry; the addon rejects with a subset of them. */
export const rewardErrorCodes = [
    "ERR_MODEL_NOT_FOUND", // the model path does not exist or is not a file
    "ERR_NOT_GGUF", // the file is not a GGUF file (bad magic or version)
    "ERR_CORRUPT_MODEL", // GGUF metadata or tensor table is malformed, or the file is truncated
    "ERR_UNSUPPORTED_ARCHITECTURE", // general.architecture is not one llama-reward runs
    "ERR_NO_REWARD_HEAD", // no cls.output.weight tensor
    "ERR_NOT_MULTI_OBJECTIVE", // objectives asked of a head without a gating network (not an ArmoRM-style model)
    "ERR_LOAD_FAILED", // llama.cpp refused the file or the context
    "ERR_CONTEXT_OVERFLOW", // a sequence does not fit the context
    "ERR_INVALID_MESSAGES", // messages are not a non-empty list of {role, content}
    "ERR_INVALID_TOKENS", // token ids are empty, non-integer or out of the vocabulary
    "ERR_INVALID_OPTION", // an option has a wrong type or value
    "ERR_TEMPLATE", // the chat template failed to render
    "ERR_DECODE_FAILED", // llama_decode reported an error
    "ERR_ABORTED", // an AbortSignal fired
    "ERR_DISPOSED", // the model was disposed
    "ERR_ENGINE_CRASHED", // the engine process of an isolated model died (the message ends with its stderr)
    "ERR_NATIVE_NOT_BUILT", // the native addon could not be loaded
    "ERR_GPU_UNAVAILABLE", // the requested GPU backend (gpu option) has no usable device here
    "ERR_CONVERT_FAILED", // a checkpoint could not be converted
    "ERR_QUANTIZE_FAILED", // llama_model_quantize failed
    "ERR_INVALID_DATA", // an evaluation data file or row does not fit a known format
    "ERR_INTERNAL", // llama-reward broke one of its own invariants (a bug: please report it)
] as const;

export type RewardErrorCode = (typeof rewardErrorCodes)[number];

const knownCodes: ReadonlySet<string> = new Set(rewardErrorCodes);

/** True when `value` is one of the codes in `rewardErrorCodes`. */
export function isRewardErrorCode(value: unknown): value is RewardErrorCode {
    return typeof value === "string" && knownCodes.has(value);
}

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

/**
 * The error for an argument, option or data value a caller got wrong: the
 * one helper every validator uses. It returns the error and the caller
 * throws it (`throw invalidArgument(...)`), so control flow stays visible at
 * the call site. `code` defaults to ERR_INVALID_OPTION; data validators pass
 * ERR_INVALID_DATA.
 */
export function invalidArgument(message: string, code: RewardErrorCode = "ERR_INVALID_OPTION"): RewardModelError {
    return new RewardModelError(code, message);
}

/** The error an aborted call rejects with, keeping the signal's reason as cause. */
export function abortedError(signal: AbortSignal | undefined, what: string): RewardModelError {
    return new RewardModelError("ERR_ABORTED", `${what} was aborted`, { cause: signal?.reason });
}

/**
 * Maps what the addon threw or rejected with to a RewardModelError. The addon
 * sets `code` on its errors (see native/src); a known code is kept, anything
 * else (an unknown code, a plain Error, a non-Error) gets `fallbackCode`.
 * A RewardModelError passes through unchanged. `what`, when given, prefixes
 * the message to say which operation failed.
 */
export function fromNativeError(error: unknown, fallbackCode: RewardErrorCode, what?: string): RewardModelError {
    if (error instanceof RewardModelError) return error;
    const code = (error as { code?: unknown } | null | undefined)?.code;
    const text = error instanceof Error ? error.message : String(error);
    return new RewardModelError(isRewardErrorCode(code) ? code : fallbackCode, what ? `${what}: ${text}` : text, { cause: error });
}

/**
 * Runs `fn` and, if it rejects, gives the error the stack of the code that
 * called the public function calling withCallerStack. An error settled on a
 * later tick (a native worker, the scheduler) otherwise shows only internal
 * frames, and the user cannot see which of their calls failed. Call it
 * synchronously at the top of the public function, so the captured stack
 * still holds the caller's frames.
 */
export async function withCallerStack<T>(fn: () => Promise<T>): Promise<T> {
    const caller: { stack?: string } = {};
    Error.captureStackTrace(caller, withCallerStack); // starts at the public function, not here
    try {
        return await fn();
    } catch (error) {
        throw attachStack(error, caller.stack);
    }
}

/** Replaces the frames of `error` with those of `callerStack` (a stack whose first line is its message). */
function attachStack(error: unknown, callerStack: string | undefined): unknown {
    const firstFrame = callerStack?.indexOf("\n") ?? -1;
    if (error instanceof Error && callerStack && firstFrame >= 0) {
        const frames = callerStack.slice(firstFrame + 1);
        error.stack = `${error.name}: ${error.message}\n${frames}`;
    }
    return error;
}
