/**
 * weightAlignmentOf (src/model/model-file.ts): the alignment every weight
 * matrix of a GGUF has, capped at a cache line, on headers built here.
 */
import { describe, expect, it } from "vitest";
import { type GgufHeader, type GgufTensorInfo, MODEL_FILE_ALIGNMENT } from "../../src/gguf/gguf-types.js";
import { weightAlignmentOf } from "../../src/model/model-file.js";

function header(dataOffset: number, tensors: { shape: number[]; offset: number }[]): GgufHeader {
    return {
        version: 3,
        metadata: new Map(),
        metadataTypes: new Map(),
        tensors: tensors.map((t, i) => ({ name: `t${i}`, type: 0, byteSize: 0, ...t }) as unknown as GgufTensorInfo),
        alignment: 32,
        dataOffset,
        fileSize: 0,
    } as GgufHeader;
}

describe("weightAlignmentOf", () => {
    it("is the largest power of two, at most 64, dividing every weight matrix's file offset", () => {
        expect(weightAlignmentOf(header(4096, [{ shape: [64, 64], offset: 0 }]))).toBe(MODEL_FILE_ALIGNMENT);
        expect(weightAlignmentOf(header(4096 + 32, [{ shape: [64, 64], offset: 0 }]))).toBe(32);
        // the worst matrix decides
        expect(
            weightAlignmentOf(
                header(4096, [
                    { shape: [64, 64], offset: 0 },
                    { shape: [64, 64], offset: 16384 + 16 },
                    { shape: [64, 64], offset: 65536 },
                ]),
            ),
        ).toBe(16);
        expect(weightAlignmentOf(header(4097, [{ shape: [64, 2], offset: 0 }]))).toBe(1);
    });

    it("counts matrices only: norms and biases (1-D) do not lower it, and a file without matrices is 64", () => {
        expect(
            weightAlignmentOf(
                header(4096, [
                    { shape: [64], offset: 32 },
                    { shape: [64, 64], offset: 128 },
                ]),
            ),
        ).toBe(64);
        expect(weightAlignmentOf(header(4096 + 8, [{ shape: [64], offset: 0 }]))).toBe(64);
        expect(weightAlignmentOf(header(4096, []))).toBe(64);
    });
});
