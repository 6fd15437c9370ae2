/**
 * Where the benchmark keeps things: the gitignored cache folder `.bench/` at
 * the package root (generated models, results), the llama.cpp sources the
 * addon was built from, and the separate llama-bench build folder.
 */
import path from "node:path";
import { llamaCppDir, packageRoot } from "../../src/package-root.js";

/** Every file type the bench measures, in table order. */
export const BENCH_TYPES = ["f32", "bf16", "f16", "q8_0", "q4_k_m"] as const;
export type BenchType = (typeof BENCH_TYPES)[number];

export const root = packageRoot();
export const cacheDir = path.join(root, ".bench");
export const resultsPath = path.join(cacheDir, "results.json");
export const investigationPath = path.join(cacheDir, "investigation.json");
export const serverLoadPath = path.join(cacheDir, "server-load.json");
export const replicaLoadPath = path.join(cacheDir, "replica-load.json");
export const llamaCppSourceDir = llamaCppDir();
export const vocabPath = path.join(llamaCppSourceDir, "models", "ggml-vocab-llama-bpe.gguf");
export const llamaToolsDir = path.join(root, "build", "llama-tools");
export const llamaBenchPath = path.join(llamaToolsDir, "bin", "llama-bench");

/** The reward model (with cls.output head, RANK pooling) of one weight type. */
export function rewardModelPath(type: BenchType): string {
    return path.join(cacheDir, `bench-llama3-1b-reward-${type}.gguf`);
}

/** The same weights without the head and with LAST pooling, for node-llama-cpp's stock llama.cpp. */
export function headlessModelPath(type: BenchType): string {
    return path.join(cacheDir, `bench-llama3-1b-headless-${type}.gguf`);
}

/** Scratch file through which a worker process hands its measurements back. */
export function workerResultPath(name: string): string {
    return path.join(cacheDir, `worker-${name}.json`);
}
