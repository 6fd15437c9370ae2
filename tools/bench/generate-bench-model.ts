/**
 * Writes the benchmark reward model (Llama-3.2-1B shape, random weights,
 * real Llama-3 tokenizer and chat template, F32 `cls.output.weight` head,
 * RANK pooling) as F16, BF16 or F32 with the streaming GgufWriter, one chunk
 * at a time.
 *
 * Deterministic and fast: each tensor has its own seed; F16 values are drawn
 * from a 65536-entry table of normal samples (createNormalRng, scaled to the
 * tensor's std) indexed by 16-bit halves of createUniformRng outputs, so
 * ~1.2 billion weights cost two table lookups per 32-bit random number. The
 * F32 file holds exactly the F16 file's weights (each F16 value widened); the
 * BF16 file holds each F16 value rounded to BF16 (the same draws).
 */
import { createNormalRng, createUniformRng } from "../models/generate-tiny-model.js";
import { f16ToFloat32, float32ArrayToBf16, float32ArrayToF16 } from "../../src/gguf/float16.js";
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { GgmlType, ggmlElementCount, ggmlTensorByteSize, MODEL_FILE_ALIGNMENT } from "../../src/gguf/gguf-types.js";
import { GgufWriter } from "../../src/gguf/gguf-writer.js";
import { writeLlamaRewardMetadata } from "../../src/gguf/llama-metadata.js";
import {
    BENCH_MODEL_GENERATOR_VERSION,
    BENCH_MODEL_HPARAMS,
    BENCH_MODEL_SEED,
    BENCH_MODEL_VERSION_KEY,
    benchTensors,
    type BenchTensor,
} from "./bench-model-spec.js";
import { vocabTokenCount, writeLlama3Tokenizer } from "../models/llama3-tokenizer.js";

const CHUNK_ELEMENTS = 1 << 21;

function tensorSeed(index: number): number {
    return (BENCH_MODEL_SEED + Math.imul(index + 1, 0x9e3779b1)) >>> 0;
}

function isF32(t: BenchTensor): boolean {
    return t.kind === "norm" || t.kind === "head";
}

/** The weight types the generator writes; the norms and the head are F32 in each. */
export type GeneratedWeightType = "f16" | "bf16" | "f32";

const GGML_TYPE_OF: Record<GeneratedWeightType, GgmlType> = { f16: GgmlType.F16, bf16: GgmlType.BF16, f32: GgmlType.F32 };
/** general.file_type (llama_ftype) of each: MOSTLY_F16, MOSTLY_BF16, ALL_F32. */
const FILE_TYPE_OF: Record<GeneratedWeightType, number> = { f16: 1, bf16: 32, f32: 0 };

/** Streams one weight tensor's random data into the writer, as `type`. */
function writeWeightTensor(w: GgufWriter, t: BenchTensor, type: GeneratedWeightType, seed: number, onBytes: (n: number) => void): void {
    const normal = createNormalRng(seed);
    const halves = float32ArrayToF16(Float32Array.from({ length: 65536 }, () => normal() * t.std));
    // The same F16 draws, stored as the requested type.
    const table =
        type === "f32"
            ? Float32Array.from(halves, f16ToFloat32)
            : type === "bf16"
              ? float32ArrayToBf16(Float32Array.from(halves, f16ToFloat32))
              : halves;
    const uniform = createUniformRng(seed ^ 0x5bd1e995);
    const total = ggmlElementCount(t.shape);
    const chunk = type === "f32" ? new Float32Array(CHUNK_ELEMENTS) : new Uint16Array(CHUNK_ELEMENTS);
    for (let done = 0; done < total; done += CHUNK_ELEMENTS) {
        const n = Math.min(CHUNK_ELEMENTS, total - done); // every size here is even
        for (let j = 0; j < n; j += 2) {
            const bits = (uniform() * 4294967296) >>> 0;
            chunk[j] = table[bits & 0xffff]!;
            chunk[j + 1] = table[bits >>> 16]!;
        }
        w.writeTensorData(t.name, new Uint8Array(chunk.buffer, 0, n * chunk.BYTES_PER_ELEMENT));
        onBytes(n * chunk.BYTES_PER_ELEMENT);
    }
}

function writeF32Tensor(w: GgufWriter, t: BenchTensor, seed: number, onBytes: (n: number) => void): void {
    const normal = createNormalRng(seed);
    const data = new Float32Array(ggmlElementCount(t.shape));
    const offset = t.kind === "norm" ? 1 : 0;
    for (let i = 0; i < data.length; i++) data[i] = offset + t.std * normal();
    w.writeTensorData(t.name, new Uint8Array(data.buffer));
    onBytes(data.byteLength);
}

/** Writes the reward model with `type` weights to `outPath` (atomically, via `<outPath>.tmp`). */
export function generateBenchModel(
    outPath: string,
    type: GeneratedWeightType,
    vocabPath: string,
    onProgress: (done: number, total: number) => void,
): void {
    const hp = BENCH_MODEL_HPARAMS;
    const vocab = readGgufHeader(vocabPath);
    if (vocabTokenCount(vocab) !== hp.vocabSize) {
        throw new Error(`${vocabPath} has ${vocabTokenCount(vocab)} tokens, expected ${hp.vocabSize}`);
    }
    const tensors = benchTensors();
    const typeOf = (t: BenchTensor): GgmlType => (isF32(t) ? GgmlType.F32 : GGML_TYPE_OF[type]);
    const totalBytes = tensors.reduce((n, t) => n + ggmlTensorByteSize(typeOf(t), t.shape), 0);
    const w = new GgufWriter(outPath, { alignment: MODEL_FILE_ALIGNMENT });
    try {
        writeLlamaRewardMetadata(
            w,
            {
                name: "llama-reward benchmark (random weights, Llama-3.2-1B shape)",
                description: "Random weights for benchmarking llama-reward. Its rewards are meaningless.",
                fileType: FILE_TYPE_OF[type],
            },
            hp,
            ["LABEL_0"],
        );
        w.addU32(BENCH_MODEL_VERSION_KEY, BENCH_MODEL_GENERATOR_VERSION);
        writeLlama3Tokenizer(w, vocab);
        for (const t of tensors) w.addTensorInfo(t.name, t.shape, typeOf(t));
        w.writeHeader();
        let done = 0;
        const onBytes = (n: number): void => {
            done += n;
            onProgress(done, totalBytes);
        };
        tensors.forEach((t, i) => {
            if (isF32(t)) writeF32Tensor(w, t, tensorSeed(i), onBytes);
            else writeWeightTensor(w, t, type, tensorSeed(i), onBytes);
        });
        w.finish();
    } catch (error) {
        w.abort();
        throw error;
    }
}
