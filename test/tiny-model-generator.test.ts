/**
 * The deterministic tiny-model generator (tools/models/generate-tiny-model.ts):
 * identical bytes on two runs, up-to-date files skipped, the metadata and
 * tensors the tests' models need, and the F16 file holding exactly the F32
 * weights rounded. Needs the llama.cpp vocabulary the native build clones.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { f16ToFloat32, float32ToF16 } from "../src/gguf/float16.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { GgmlType, GgufValueType, ggmlTensorByteSize } from "../src/gguf/gguf-types.js";
import { llamaCppDir } from "../src/package-root.js";
import {
    LLAMA3_CHAT_TEMPLATE,
    TINY_MODEL_FILES,
    TINY_MODEL_GENERATOR_VERSION,
    generateTinyModels,
} from "../tools/models/generate-tiny-model.js";
import { readTensorAsFloat64 } from "../src/gguf/gguf-tensor-reader.js";

let tmp: string;
beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-tiny-model-"));
});
afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
});

const vocabPath = path.join(llamaCppDir(), "models", "ggml-vocab-llama-bpe.gguf");
const haveVocab = fs.existsSync(vocabPath);

describe.skipIf(!haveVocab)("tiny model generator (needs the llama.cpp vocab; set LLAMA_REWARD_LLAMA_DIR)", () => {
    let dirA: string;
    let dirB: string;
    const lines: string[] = [];
    beforeAll(() => {
        dirA = path.join(tmp, "gen-a");
        dirB = path.join(tmp, "gen-b");
        generateTinyModels({ outDir: dirA, vocabPath, log: (l) => lines.push(l) });
        generateTinyModels({ outDir: dirB, vocabPath, log: () => {} });
    }, 60_000);

    it("is deterministic: two runs give identical bytes", () => {
        for (const name of Object.values(TINY_MODEL_FILES)) {
            const a = fs.readFileSync(path.join(dirA, name));
            const b = fs.readFileSync(path.join(dirB, name));
            expect(a.length).toBeGreaterThan(1_000_000);
            expect(a.equals(b), name).toBe(true);
        }
        expect(lines).toHaveLength(2);
    });

    it("skips up-to-date files", () => {
        const again: string[] = [];
        const r = generateTinyModels({ outDir: dirA, vocabPath, log: (l) => again.push(l) });
        expect(again).toHaveLength(0);
        expect(r.files.every((f) => !f.written)).toBe(true);
    });

    it("writes the expected metadata", () => {
        const vocab = readGgufHeader(vocabPath);
        for (const [name, fileType] of [
            [TINY_MODEL_FILES.f32, 0],
            [TINY_MODEL_FILES.f16, 1],
        ] as const) {
            const h = readGgufHeader(path.join(dirA, name));
            const m = h.metadata;
            const nVocab = (vocab.metadata.get("tokenizer.ggml.tokens") as string[]).length;
            expect(m.get("general.architecture")).toBe("llama");
            expect(m.get("general.name")).toBe("llama-reward tiny (random weights)");
            expect(m.get("general.file_type")).toBe(fileType);
            expect(m.get("llama_reward.generator_version")).toBe(TINY_MODEL_GENERATOR_VERSION);
            // every tensor starts on a cache line (MODEL_FILE_ALIGNMENT), as mapped weights are read in place
            expect(m.get("general.alignment")).toBe(64);
            for (const t of h.tensors) expect((h.dataOffset + t.offset) % 64, t.name).toBe(0);
            expect(m.get("llama.vocab_size")).toBe(nVocab);
            expect(m.get("llama.context_length")).toBe(2048);
            expect(m.get("llama.embedding_length")).toBe(64);
            expect(m.get("llama.block_count")).toBe(2);
            expect(m.get("llama.feed_forward_length")).toBe(128);
            expect(m.get("llama.attention.head_count")).toBe(4);
            expect(m.get("llama.attention.head_count_kv")).toBe(2);
            expect(m.get("llama.rope.freq_base")).toBe(500000);
            expect(m.get("llama.attention.layer_norm_rms_epsilon")).toBe(Math.fround(1e-5));
            expect(m.get("llama.rope.dimension_count")).toBe(16);
            expect(m.get("llama.pooling_type")).toBe(4);
            expect(h.metadataTypes.get("llama.pooling_type")).toEqual({ type: GgufValueType.UINT32 });
            expect(m.get("llama.classifier.output_labels")).toEqual(["LABEL_0"]);
            expect(m.get("tokenizer.ggml.model")).toBe("gpt2");
            expect(m.get("tokenizer.ggml.pre")).toBe("llama-bpe");
            expect(m.get("tokenizer.ggml.tokens")).toEqual(vocab.metadata.get("tokenizer.ggml.tokens"));
            expect(m.get("tokenizer.ggml.merges")).toEqual(vocab.metadata.get("tokenizer.ggml.merges"));
            expect(m.get("tokenizer.ggml.token_type")).toEqual(vocab.metadata.get("tokenizer.ggml.token_type"));
            expect(m.get("tokenizer.ggml.bos_token_id")).toBe(128000);
            expect(m.get("tokenizer.ggml.eos_token_id")).toBe(128009);
            expect(m.get("tokenizer.ggml.add_bos_token")).toBe(true);
            expect(m.get("tokenizer.chat_template")).toBe(LLAMA3_CHAT_TEMPLATE);
            expect(LLAMA3_CHAT_TEMPLATE.startsWith("{% set loop_messages = messages %}")).toBe(true);
        }
    });

    it("has the llama tensors, with the head and norms F32 in the F16 file", () => {
        const f32 = readGgufHeader(path.join(dirA, TINY_MODEL_FILES.f32));
        const f16 = readGgufHeader(path.join(dirA, TINY_MODEL_FILES.f16));
        const shapes = Object.fromEntries(f32.tensors.map((t) => [t.name, t.shape]));
        expect(shapes["token_embd.weight"]).toEqual([64, 128256]);
        expect(shapes["blk.1.attn_q.weight"]).toEqual([64, 64]);
        expect(shapes["blk.1.attn_k.weight"]).toEqual([64, 32]);
        expect(shapes["blk.1.attn_v.weight"]).toEqual([64, 32]);
        expect(shapes["blk.1.attn_output.weight"]).toEqual([64, 64]);
        expect(shapes["blk.0.ffn_gate.weight"]).toEqual([64, 128]);
        expect(shapes["blk.0.ffn_up.weight"]).toEqual([64, 128]);
        expect(shapes["blk.0.ffn_down.weight"]).toEqual([128, 64]);
        expect(shapes["blk.0.attn_norm.weight"]).toEqual([64]);
        expect(shapes["output_norm.weight"]).toEqual([64]);
        expect(shapes["cls.output.weight"]).toEqual([64, 1]);
        expect(shapes["output.weight"]).toBeUndefined();
        expect(f32.tensors).toHaveLength(3 + 2 * 9);
        expect(f32.tensors.every((t) => t.type === GgmlType.F32)).toBe(true);
        for (const t of f16.tensors) {
            const oneD = t.shape.length === 1;
            const expected = oneD || t.name === "cls.output.weight" ? GgmlType.F32 : GgmlType.F16;
            expect(t.type, t.name).toBe(expected);
            expect(t.byteSize).toBe(ggmlTensorByteSize(t.type, t.shape));
        }
    });

    it("stores in the F16 file exactly the F32 weights rounded to f16", () => {
        const f32Path = path.join(dirA, TINY_MODEL_FILES.f32);
        const f16Path = path.join(dirA, TINY_MODEL_FILES.f16);
        const h32 = readGgufHeader(f32Path);
        const h16 = readGgufHeader(f16Path);
        for (const name of ["blk.0.attn_q.weight", "blk.1.ffn_down.weight", "cls.output.weight", "output_norm.weight"]) {
            const a = readTensorAsFloat64(f32Path, h32, name);
            const b = readTensorAsFloat64(f16Path, h16, name);
            const isF16 = h16.tensors.find((t) => t.name === name)!.type === GgmlType.F16;
            for (let i = 0; i < a.length; i++) {
                const want = isF16 ? f16ToFloat32(float32ToF16(a[i]!)) : a[i]!;
                if (b[i] !== want) expect(b[i], `${name}[${i}]`).toBe(want);
            }
        }
    });
});
