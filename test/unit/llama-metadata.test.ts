/**
 * The one writer of reward-model metadata (src/gguf/llama-metadata.ts),
 * read back through the GGUF reader: keys, value types, order, and the
 * optional keys, without the native addon.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { GgmlType, type GgufHeader, GgufValueType } from "../../src/gguf/gguf-types.js";
import { GgufWriter } from "../../src/gguf/gguf-writer.js";
import { type LlamaHyperparameters, type RewardModelIdentity, writeLlamaRewardMetadata } from "../../src/gguf/llama-metadata.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-metadata-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const hp: LlamaHyperparameters = {
    contextLength: 8192,
    embeddingLength: 256,
    blockCount: 3,
    feedForwardLength: 512,
    headCount: 4,
    headCountKv: 2,
    ropeFreqBase: 500000,
    rmsEpsilon: 1e-5,
    ropeDimensionCount: 64,
    vocabSize: 128257,
};

function written(name: string, id: RewardModelIdentity, params: LlamaHyperparameters, labels: string[]): GgufHeader {
    const file = path.join(dir, name);
    const w = new GgufWriter(file);
    writeLlamaRewardMetadata(w, id, params, labels);
    w.addTensorInfo("cls.output.weight", [params.embeddingLength, labels.length], GgmlType.F32);
    w.writeHeader();
    w.writeTensorData("cls.output.weight", new Uint8Array(params.embeddingLength * labels.length * 4));
    w.finish();
    return readGgufHeader(file);
}

describe("writeLlamaRewardMetadata", () => {
    it("writes the contract's keys with llama.cpp's value types", () => {
        const h = written("plain.gguf", { name: "m", fileType: 1 }, hp, ["good", "bad"]);
        const expected: [string, unknown, GgufValueType][] = [
            ["general.architecture", "llama", GgufValueType.STRING],
            ["general.name", "m", GgufValueType.STRING],
            ["general.file_type", 1, GgufValueType.UINT32],
            ["llama.block_count", 3, GgufValueType.UINT32],
            ["llama.context_length", 8192, GgufValueType.UINT32],
            ["llama.embedding_length", 256, GgufValueType.UINT32],
            ["llama.feed_forward_length", 512, GgufValueType.UINT32],
            ["llama.attention.head_count", 4, GgufValueType.UINT32],
            ["llama.attention.head_count_kv", 2, GgufValueType.UINT32],
            ["llama.rope.freq_base", 500000, GgufValueType.FLOAT32],
            ["llama.attention.layer_norm_rms_epsilon", Math.fround(1e-5), GgufValueType.FLOAT32],
            ["llama.vocab_size", 128257, GgufValueType.UINT32],
            ["llama.rope.dimension_count", 64, GgufValueType.UINT32],
            ["llama.pooling_type", 4, GgufValueType.UINT32],
            ["llama.classifier.output_labels", ["good", "bad"], GgufValueType.ARRAY],
        ];
        // Exactly these keys, in this order (the writer may add general.alignment only when it is not the default).
        expect([...h.metadata.keys()]).toEqual(expected.map(([key]) => key));
        for (const [key, value, type] of expected) {
            expect(h.metadata.get(key), key).toEqual(value);
            expect(h.metadataTypes.get(key)?.type, key).toBe(type);
        }
    });

    it("writes the optional keys only when given", () => {
        const h = written(
            "full.gguf",
            { name: "m", description: "d", type: "model", fileType: 0, quantizationVersion: 2 },
            { ...hp, explicitHeadDim: 128 },
            ["LABEL_0"],
        );
        expect(h.metadata.get("general.type")).toBe("model");
        expect(h.metadata.get("general.description")).toBe("d");
        expect(h.metadata.get("general.quantization_version")).toBe(2);
        expect(h.metadata.get("llama.attention.key_length")).toBe(128);
        expect(h.metadata.get("llama.attention.value_length")).toBe(128);

        const plain = written("plain2.gguf", { name: "m", fileType: 0 }, hp, ["LABEL_0"]);
        for (const key of ["general.type", "general.description", "general.quantization_version", "llama.attention.key_length"]) {
            expect(plain.metadata.has(key), key).toBe(false);
        }
    });
});
