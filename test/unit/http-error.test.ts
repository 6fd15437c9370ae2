/**
 * The HTTP status of every RewardModelError code (src/server/http-error.ts):
 * each code has a deliberate status, and a crashed isolated engine is a 503
 * (the service is unavailable until someone loads the model again).
 */
import { describe, expect, it } from "vitest";
import { RewardModelError, rewardErrorCodes, type RewardErrorCode } from "../../src/errors.js";
import { toHttpError } from "../../src/server/http-error.js";

const expected: Record<RewardErrorCode, number> = {
    ERR_MODEL_NOT_FOUND: 500,
    ERR_NOT_GGUF: 500,
    ERR_CORRUPT_MODEL: 500,
    ERR_UNSUPPORTED_ARCHITECTURE: 500,
    ERR_NO_REWARD_HEAD: 500,
    ERR_NOT_MULTI_OBJECTIVE: 422,
    ERR_LOAD_FAILED: 500,
    ERR_CONTEXT_OVERFLOW: 413,
    ERR_INVALID_MESSAGES: 422,
    ERR_INVALID_TOKENS: 422,
    ERR_INVALID_OPTION: 422,
    ERR_TEMPLATE: 422,
    ERR_DECODE_FAILED: 500,
    ERR_ABORTED: 499,
    ERR_DISPOSED: 503,
    ERR_ENGINE_CRASHED: 503,
    ERR_NATIVE_NOT_BUILT: 500,
    ERR_GPU_UNAVAILABLE: 500,
    ERR_CONVERT_FAILED: 500,
    ERR_QUANTIZE_FAILED: 500,
    ERR_INVALID_DATA: 500,
    ERR_INTERNAL: 500,
};

describe("toHttpError", () => {
    it("gives every error code its status and keeps the code and message", () => {
        expect(Object.keys(expected).sort()).toEqual([...rewardErrorCodes].sort());
        for (const code of rewardErrorCodes) {
            const e = toHttpError(new RewardModelError(code, `failed with ${code}`));
            expect({ code, status: e.status }).toEqual({ code, status: expected[code] });
            expect(e.code).toBe(code);
            expect(e.message).toBe(`failed with ${code}`);
        }
    });

    it("answers a crashed engine as service_unavailable", () => {
        expect(toHttpError(new RewardModelError("ERR_ENGINE_CRASHED", "engine died")).type).toBe("service_unavailable");
    });
});
