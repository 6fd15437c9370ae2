/**
 * The error path in src/errors.ts, without the native addon: how addon
 * errors map to codes, the invalid-argument error every validator returns,
 * and that an asynchronous failure shows the caller.
 */
import { describe, expect, it } from "vitest";
import {
    RewardModelError,
    fromNativeError,
    invalidArgument,
    isRewardErrorCode,
    rewardErrorCodes,
    withCallerStack,
} from "../../src/errors.js";

/** What the addon rejects with: an Error with a `code` property (see native/src). */
function nativeError(message: string, code?: string): Error {
    return Object.assign(new Error(message), code === undefined ? {} : { code });
}

describe("fromNativeError", () => {
    it("keeps a known code and the message, with the native error as cause", () => {
        const cause = nativeError("n_ctx exceeded", "ERR_CONTEXT_OVERFLOW");
        const e = fromNativeError(cause, "ERR_DECODE_FAILED");
        expect(e).toBeInstanceOf(RewardModelError);
        expect(e.code).toBe("ERR_CONTEXT_OVERFLOW");
        expect(e.message).toBe("n_ctx exceeded");
        expect(e.cause).toBe(cause);
    });

    it("uses the fallback code for unknown codes, plain errors and non-errors", () => {
        expect(fromNativeError(nativeError("x", "ERR_SOMETHING_NEW"), "ERR_LOAD_FAILED").code).toBe("ERR_LOAD_FAILED");
        expect(fromNativeError(nativeError("x"), "ERR_DECODE_FAILED").code).toBe("ERR_DECODE_FAILED");
        const e = fromNativeError("bare string", "ERR_QUANTIZE_FAILED");
        expect(e.code).toBe("ERR_QUANTIZE_FAILED");
        expect(e.message).toBe("bare string");
        expect(fromNativeError(undefined, "ERR_LOAD_FAILED").message).toBe("undefined");
    });

    it("passes a RewardModelError through unchanged", () => {
        const original = new RewardModelError("ERR_DISPOSED", "gone");
        expect(fromNativeError(original, "ERR_DECODE_FAILED", "decode")).toBe(original);
    });

    it("prefixes the message with the operation when given", () => {
        const e = fromNativeError(nativeError("disk full", "ERR_QUANTIZE_FAILED"), "ERR_QUANTIZE_FAILED", "quantize a.gguf to Q8_0");
        expect(e.message).toBe("quantize a.gguf to Q8_0: disk full");
    });
});

describe("error codes", () => {
    it("is a runtime list the type is derived from", () => {
        expect(rewardErrorCodes).toContain("ERR_ABORTED");
        expect(new Set(rewardErrorCodes).size).toBe(rewardErrorCodes.length);
        expect(rewardErrorCodes.every(isRewardErrorCode)).toBe(true);
        expect(isRewardErrorCode("ERR_NOPE")).toBe(false);
        expect(isRewardErrorCode(42)).toBe(false);
    });
});

describe("withCallerStack", () => {
    // Settles on a later macrotask, as a native worker does, so the error's own stack has no user frame.
    function failLater(): Promise<never> {
        return new Promise((_, reject) => setTimeout(() => reject(new RewardModelError("ERR_DECODE_FAILED", "later")), 1));
    }

    // Plain functions: V8's async stack traces do not list them, so only withCallerStack can.
    function publicCall(): Promise<never> {
        return withCallerStack(failLater);
    }
    function userCode(): Promise<never> {
        return publicCall();
    }

    it("puts the caller's frames on an error that settles later", async () => {
        const e = await userCode().catch((error: unknown) => error as Error);
        expect(e.stack).toMatch(/^RewardModelError: later\n/);
        expect(e.stack).toContain("publicCall");
        expect(e.stack).toContain("userCode");
        expect(e.stack).not.toContain("withCallerStack");
    });

    it("resolves with the value when nothing fails", async () => {
        await expect(withCallerStack(async () => 7)).resolves.toBe(7);
    });

    it("leaves non-errors alone", async () => {
        await expect(withCallerStack(() => Promise.reject("plain"))).rejects.toBe("plain");
    });
});

describe("invalidArgument", () => {
    it("returns the error for the caller to throw: ERR_INVALID_OPTION unless another code is given", () => {
        const option = invalidArgument("threads must be positive");
        expect(option).toBeInstanceOf(RewardModelError);
        expect(option.code).toBe("ERR_INVALID_OPTION");
        expect(option.message).toBe("threads must be positive");
        expect(invalidArgument("line 3: bad row", "ERR_INVALID_DATA").code).toBe("ERR_INVALID_DATA");
    });
});
