/**
 * Writes the F16 benchmark reward model (Llama-3.2-1B shape, random weights,
 * real Llama-3 tokenizer and chat template, F32 `cls.output.weight` head,
 * RANK pooling) with the streaming GgufWriter, one chunk at a time.
 *
 * Deterministic and fast: each tensor has its own seed; F16 values are drawn
 * from a 65536-entry table of normal samples (createNormalRng, scaled to the
 * tensor's std) indexed by 16-bit halves of createUniformRng outputs, so
 * ~1.2 billion weights cost two table lookups per 32-bit random number.
 */
import { createNormalRng, createUniformRng } from "../models/generate-tiny-model.js";
import { float32ArrayToF16 } from "../../src/gguf/float16.js";
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { GgmlType, ggmlElementCount, ggmlTensorByteSize } from "../../src/gguf/gguf-types.js";
import { GgufWriter } from "../../src/gguf/gguf-writer.js";
import { writeLlamaRewardMetadata } from "../../src/gguf/llama-metadata.js";
import {
    BENCH_MODEL_GENERATOR_VERSION, BENCH_MODEL_HPARAMS, BENCH_MODEL_SEED, BENCH_MODEL_VERSION_KEY,
    benchTensors, type BenchTensor,
} from "./bench-model-spec.js";
import { vocabTokenCount, writeLlama3Tokenizer } from "../models/llama3-tokenizer.js";

const CHUNK_ELEMENTS = 1 << 21;

function tensorSeed(index: number): number {
    return (BENCH_MODEL_SEED + Math.imul(index + 1, 0x9e3779b1)) >>> 0;
}

function isF32(t: BenchTensor): boolean {
    return t.kind === "norm" || t.kind === "head";
}

/** Streams one F16 tensor's random data into the writer. */
function writeF16Tensor(w: GgufWriter, t: BenchTensor, seed: number, onBytes: (n: number) => void): void {
    const normal = createNormalRng(seed);
    const table = float32ArrayToF16(Float32Array.from({ length: 65536 }, () => normal() * t.std));
    const uniform = createUniformRng(seed ^ 0x5bd1e995);
    const total = ggmlElementCount(t.shape);
    const chunk = new Uint16Array(CHUNK_ELEMENTS);
    for (let done = 0; done < total; done += CHUNK_ELEMENTS) {
        const n = Math.min(CHUNK_ELEMENTS, total - done);   // every size here is even
        for (let j = 0; j < n; j += 2) {
            const bits = (uniform() * 4294967296) >>> 0;
            chunk[j] = table[bits & 0xffff]!;
            chunk[j + 1] = table[bits >>> 16]!;
        }
        w.writeTensorData(t.name, new Uint8Array(chunk.buffer, 0, n * 2));
        onBytes(n * 2);
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

/** Writes the F16 reward model to `outPath` (atomically, via `<outPath>.tmp`). */
export function generateBenchModelF16(outPath: string, vocabPath: string, onProgress: (done: number, total: number) => void): void {
    const hp = BENCH_MODEL_HPARAMS;
    const vocab = readGgufHeader(vocabPath);
    if (vocabTokenCount(vocab) !== hp.vocabSize) {
        throw new Error(`${vocabPath} has ${vocabTokenCount(vocab)} tokens, expected ${hp.vocabSize}`);
    }
    const tensors = benchTensors();
    const typeOf = (t: BenchTensor): GgmlType => (isF32(t) ? GgmlType.F32 : GgmlType.F16);
    const totalBytes = tensors.reduce((n, t) => n + ggmlTensorByteSize(typeOf(t), t.shape), 0);
    const w = new GgufWriter(outPath);
    try {
        writeLlamaRewardMetadata(w, {
            name: "llama-reward benchmark (random weights, Llama-3.2-1B shape)",
            description: "Random weights for benchmarking llama-reward. Its rewards are meaningless.",
            fileType: 1, // MOSTLY_F16
        }, hp, ["LABEL_0"]);
        w.addU32(BENCH_MODEL_VERSION_KEY, BENCH_MODEL_GENERATOR_VERSION);
        writeLlama3Tokenizer(w, vocab);
        for (const t of tensors) w.addTensorInfo(t.name, t.shape, typeOf(t));
        w.writeHeader();
        let done = 0;
        const onBytes = (n: number): void => { done += n; onProgress(done, totalBytes); };
        tensors.forEach((t, i) => {
            if (isF32(t)) writeF32Tensor(w, t, tensorSeed(i), onBytes);
            else writeF16Tensor(w, t, tensorSeed(i), onBytes);
        });
        w.finish();
    } catch (error) {
        w.abort();
        throw error;
    }
}
