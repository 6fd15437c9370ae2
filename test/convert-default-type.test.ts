/**
 * convert()'s default output type: a BF16 checkpoint becomes a BF16 GGUF
 * whose matrices are the checkpoint's bytes exactly (F16 would round every
 * weight again and clip BF16's range), an F32 checkpoint becomes F16, and an
 * explicit outType still wins.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convert } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { readTensorAsFloat64 } from "../src/gguf/gguf-tensor-reader.js";
import { GgmlType } from "../src/gguf/gguf-types.js";
import type { HfCheckpoint } from "./support/hf-checkpoint.js";
import { loadVocab, makeWorkDir, writeLlama31Checkpoint, writeLlama3Checkpoint } from "./support/hf-fixtures.js";

const work = makeWorkDir("convert-default");
let bf16: HfCheckpoint;
let f32: HfCheckpoint;

beforeAll(() => {
    const vocab = loadVocab();
    bf16 = writeLlama3Checkpoint(work, vocab);
    f32 = writeLlama31Checkpoint(work, vocab);
});

afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
});

describe("convert default outType", () => {
    it("keeps a BF16 checkpoint in BF16, bit for bit", async () => {
        const out = path.join(work, "bf16-default.gguf");
        const result = await convert(bf16.dir, out);
        expect(result.outType).toBe("bf16");
        const header = readGgufHeader(out);
        const q = header.tensors.find((t) => t.name === "blk.0.ffn_down.weight")!;
        expect(q.type).toBe(GgmlType.BF16);
        // ffn_down is not permuted: its GGUF rows are the checkpoint's rows, so every value must be identical
        const stored = readTensorAsFloat64(out, header, "blk.0.ffn_down.weight");
        const source = bf16.weights.get("model.layers.0.mlp.down_proj.weight")!;
        expect(stored.length).toBe(source.length);
        let mismatches = 0;
        for (let i = 0; i < source.length; i++) if (stored[i] !== source[i]) mismatches++;
        expect(mismatches).toBe(0);
        expect(header.tensors.find((t) => t.name === "cls.output.weight")!.type).toBe(GgmlType.F32);
    });

    it("writes an F32 checkpoint as F16, and an explicit outType wins", async () => {
        const out = path.join(work, "f32-default.gguf");
        expect((await convert(f32.dir, out)).outType).toBe("f16");
        expect(readGgufHeader(out).tensors.find((t) => t.name === "blk.0.attn_q.weight")!.type).toBe(GgmlType.F16);
        const explicit = path.join(work, "bf16-as-f16.gguf");
        expect((await convert(bf16.dir, explicit, { outType: "f16" })).outType).toBe("f16");
        expect(readGgufHeader(explicit).tensors.find((t) => t.name === "blk.0.attn_q.weight")!.type).toBe(GgmlType.F16);
    });
});
