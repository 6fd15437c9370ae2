/**
 * `llama-reward bench --quick`: how fast this CPU scores each of the given
 * GGUF files (typically file types of one model), within a time budget, and
 * whether the fastest of them is the type cpuInfo() recommends.
 *
 * Two passes. First each file is loaded and one ~80-token conversation is
 * scored after a warm-up one, which estimates its speed; from those estimates
 * one workload is sized to fill the budget: the same short (~80 tokens) and
 * long (~700 tokens) conversations for every file, the two halves taking
 * about the same time. Then each file is loaded again and the two sets are
 * scored through scoreTokenBatch, timed apart. Weight products run on the CPU
 * (`gpu: false`), with llama-reward's default options otherwise.
 */
import fs from "node:fs";
import os from "node:os";
import type { Bf16Kernel, F16Kernel, F32Kernel } from "../addon/native-types.js";
import { invalidArgument } from "../errors.js";
import type { ChatMessage } from "../model/chat-template.js";
import type { CpuKind, FileTypeRecommendation, WeightKernels } from "../model/cpu-features.js";
import { inspectRewardModelFile } from "../model/model-file.js";
import { RewardModel } from "../model/reward-model.js";
import { cpuInfo } from "../model/system.js";
import { type CountTokens, mixedConversations } from "./random-conversations.js";

/** Token length of the short and long conversations, and their fixed seeds (as tools/bench/cpu-kinds.ts). */
export const QUICK_SHORT_TOKENS = 80;
export const QUICK_LONG_TOKENS = 700;
const SHORT_SEED = 0x5107;
const LONG_SEED = 0x1079;
/** The least and most conversations of each length per file. */
export const QUICK_SHORT_RANGE = { min: 2, max: 64 } as const;
export const QUICK_LONG_RANGE = { min: 1, max: 8 } as const;
export const QUICK_DEFAULT_SECONDS = 60;

/**
 * What multiplied a file's weight matrices: llama-reward's BF16 kernels ("amx", "avx512-bf16", "avx512-fma"; BF16
 * files; "avx2-fma" on AVX2 CPUs, "neon-fma" on Arm), its AVX-512, AVX2 and NEON F32 and F16 kernels ("avx512-f32",
 * "avx512-f16", "avx2-f32", "avx2-f16", "neon-f32", "neon-f16"),
 * ggml's int8 kernel on AMX tiles ("ggml-amx-int8": Q8_0, Q4_0, Q4_1 and the Q4_K/Q5_K/Q6_K/IQ4_XS types
 * where the ggml CPU backend has AMX_INT8), or llama.cpp's other CPU kernels ("ggml").
 */
export type QuickBenchKernel = Bf16Kernel | F32Kernel | F16Kernel | "ggml-amx-int8";

export interface QuickBenchRate {
    conversations: number;
    tokens: number;
    seconds: number;
    tokensPerSecond: number;
}

export interface QuickBenchFile {
    path: string;
    /** The file's weight type, e.g. "BF16", "Q8_0". */
    fileType: string;
    /** The file's size. */
    sizeBytes: number;
    kernel: QuickBenchKernel;
    /** model.info.weightAlignment: below 64, weights start inside cache lines (slower for BF16 on the AMX kernel). */
    weightAlignment: number;
    /** Seconds the second load took (the file is in the page cache by then when memory allows). */
    loadSeconds: number;
    short: QuickBenchRate;
    long: QuickBenchRate;
    /** Tokens of both sets over the seconds of both: the figure files are ranked by. */
    tokensPerSecond: number;
}

export interface QuickBenchEstimate {
    path: string;
    fileType: string;
    /** Tokens/s of one short conversation scored alone after a warm-up one (lower than batched). */
    tokensPerSecond: number;
}

/** Whether the fastest file is of the recommended type; "not-measured" when no file is of that type. */
export type RecommendationCheck = "agrees" | "disagrees" | "not-measured";

export interface QuickBenchReport {
    cpu: { model: string; kind: CpuKind; ggmlCpu: string[] };
    threads: number;
    budgetSeconds: number;
    elapsedSeconds: number;
    /** 1, 5 and 15 minute load averages when the run ended (zeros where the OS has none): above the thread count, figures are low. */
    loadAverage: number[];
    workload: { short: number; long: number };
    estimates: QuickBenchEstimate[];
    files: QuickBenchFile[];
    fastest: { path: string; fileType: string; tokensPerSecond: number };
    recommendation: FileTypeRecommendation;
    check: RecommendationCheck;
}

export type QuickBenchProgress =
    | { phase: "estimate"; index: number; count: number; estimate: QuickBenchEstimate }
    | { phase: "workload"; short: number; long: number; plannedSeconds: number }
    | { phase: "measured"; index: number; count: number; file: QuickBenchFile };

export interface QuickBenchOptions {
    /** CPU threads; default: RewardModel's (os.availableParallelism()). */
    threads?: number;
    /** The time the whole run should take, in seconds (default 60); the least workload runs even when it takes longer. */
    seconds?: number;
    onProgress?: (progress: QuickBenchProgress) => void;
}

/** ggml types with AMX int8 kernels (ggml-cpu/amx/common.h, qtype_has_amx_kernels), as file types. */
const AMX_INT8_FILE_TYPES = new Set(["Q4_0", "Q4_1", "Q8_0", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_XS"]);

/** What multiplies the weights of a file of `fileType` in this process. */
export function kernelFor(fileType: string, kernels: WeightKernels, ggmlCpu: readonly string[]): QuickBenchKernel {
    if (fileType === "BF16") return kernels.bf16Kernel;
    if (fileType === "F32") return kernels.f32Kernel;
    if (fileType === "F16") return kernels.f16Kernel;
    if (AMX_INT8_FILE_TYPES.has(fileType) && ggmlCpu.includes("AMX_INT8")) return "ggml-amx-int8";
    return "ggml";
}

/** The rate of `tokens` scored in `seconds`. */
export function rate(conversations: number, tokens: number, seconds: number): QuickBenchRate {
    return { conversations, tokens, seconds, tokensPerSecond: seconds > 0 ? tokens / seconds : 0 };
}

/** The file with the most tokens/s (short and long together); the first one on a tie. */
export function fastestFile(files: readonly QuickBenchFile[]): QuickBenchFile {
    if (files.length === 0) throw invalidArgument("no files were measured");
    return files.reduce((best, f) => (f.tokensPerSecond > best.tokensPerSecond ? f : best));
}

/** Whether the measured fastest file is of the recommended type. */
export function checkRecommendation(files: readonly QuickBenchFile[], fastest: QuickBenchFile, recommended: string): RecommendationCheck {
    if (!files.some((f) => f.fileType === recommended)) return "not-measured";
    return fastest.fileType === recommended ? "agrees" : "disagrees";
}

/**
 * How many short and long conversations each file scores so that all files together take about
 * `seconds`, given each file's estimated tokens/s: half the tokens short, half long, within the ranges.
 */
export function planWorkload(estimates: readonly number[], seconds: number): { short: number; long: number } {
    const secondsPerToken = estimates.reduce((s, r) => s + (r > 0 ? 1 / r : 0), 0);
    const tokensPerFile = secondsPerToken > 0 ? Math.max(0, seconds) / secondsPerToken : 0;
    const clamp = (n: number, range: { min: number; max: number }): number => Math.min(range.max, Math.max(range.min, Math.floor(n)));
    return {
        short: clamp(tokensPerFile / 2 / QUICK_SHORT_TOKENS, QUICK_SHORT_RANGE),
        long: clamp(tokensPerFile / 2 / QUICK_LONG_TOKENS, QUICK_LONG_RANGE),
    };
}

function secondsSince(start: bigint): number {
    return Number(process.hrtime.bigint() - start) / 1e9;
}

async function timedTokens(model: RewardModel, lists: number[][]): Promise<QuickBenchRate> {
    const tokens = lists.reduce((n, l) => n + l.length, 0);
    const start = process.hrtime.bigint();
    await model.scoreTokenBatch(lists);
    return rate(lists.length, tokens, secondsSince(start));
}

function shortSet(count: CountTokens, n: number): ChatMessage[][] {
    return mixedConversations(count, n, QUICK_SHORT_TOKENS, QUICK_SHORT_TOKENS, SHORT_SEED);
}

function longSet(count: CountTokens, n: number): ChatMessage[][] {
    return mixedConversations(count, n, QUICK_LONG_TOKENS, QUICK_LONG_TOKENS, LONG_SEED);
}

/** Measures each file on this CPU; every file is checked (ERR_MODEL_NOT_FOUND, ERR_NO_REWARD_HEAD, ...) before any is timed. */
export async function quickBench(paths: readonly string[], options: QuickBenchOptions = {}): Promise<QuickBenchReport> {
    if (paths.length === 0) throw invalidArgument("bench --quick needs at least one GGUF file");
    const budgetSeconds = options.seconds ?? QUICK_DEFAULT_SECONDS;
    if (!(Number.isFinite(budgetSeconds) && budgetSeconds > 0)) {
        throw invalidArgument(`seconds must be a positive number, got ${String(budgetSeconds)}`);
    }
    for (const path of paths) inspectRewardModelFile(path);
    const started = process.hrtime.bigint();
    const load = (path: string): Promise<RewardModel> =>
        RewardModel.load(path, { gpu: false, ...(options.threads !== undefined ? { threads: options.threads } : {}) });

    // Pass 1: an estimate per file, from the first two short conversations (fitted with the first file's tokenizer).
    const estimates: QuickBenchEstimate[] = [];
    let probe: ChatMessage[][] | undefined;
    let loadSeconds = 0;
    for (const [index, path] of paths.entries()) {
        const loadStart = process.hrtime.bigint();
        const model = await load(path);
        loadSeconds += secondsSince(loadStart);
        try {
            probe ??= shortSet((c) => model.tokenizeConversation(c).length, 2);
            const [warmUp, timed] = probe.map((c) => model.tokenizeConversation(c)) as [number[], number[]];
            await model.scoreTokenBatch([warmUp]);
            const estimate = {
                path,
                fileType: model.info.fileType,
                tokensPerSecond: (await timedTokens(model, [timed])).tokensPerSecond,
            };
            estimates.push(estimate);
            options.onProgress?.({ phase: "estimate", index, count: paths.length, estimate });
        } finally {
            await model.dispose();
        }
    }

    // The rest of the budget, less the loads of pass 2 (about those of pass 1), goes to the timed sets.
    const left = budgetSeconds - secondsSince(started) - loadSeconds;
    const workload = planWorkload(
        estimates.map((e) => e.tokensPerSecond),
        left,
    );
    const secondsPerToken = estimates.reduce((s, e) => s + 1 / Math.max(e.tokensPerSecond, 1e-9), 0);
    const plannedTokens = workload.short * QUICK_SHORT_TOKENS + workload.long * QUICK_LONG_TOKENS;
    options.onProgress?.({ phase: "workload", ...workload, plannedSeconds: plannedTokens * secondsPerToken });

    // Pass 2: the same conversations through every file, short then long, each set timed on its own.
    const info = cpuInfo();
    const files: QuickBenchFile[] = [];
    let sets: { short: ChatMessage[][]; long: ChatMessage[][] } | undefined;
    let threads = 0;
    for (const [index, path] of paths.entries()) {
        const loadStart = process.hrtime.bigint();
        const model = await load(path);
        const fileLoadSeconds = secondsSince(loadStart);
        try {
            threads = model.options.threads;
            const count: CountTokens = (c) => model.tokenizeConversation(c).length;
            sets ??= { short: shortSet(count, workload.short), long: longSet(count, workload.long) };
            const shortLists = sets.short.map((c) => model.tokenizeConversation(c));
            const longLists = sets.long.map((c) => model.tokenizeConversation(c));
            await model.scoreTokenBatch([shortLists[0]!]); // warm-up: weights paged in, graphs built
            const short = await timedTokens(model, shortLists);
            const long = await timedTokens(model, longLists);
            const file: QuickBenchFile = {
                path,
                fileType: model.info.fileType,
                sizeBytes: fs.statSync(path).size,
                kernel: kernelFor(model.info.fileType, info, info.build),
                weightAlignment: model.info.weightAlignment,
                loadSeconds: fileLoadSeconds,
                short,
                long,
                tokensPerSecond: rate(0, short.tokens + long.tokens, short.seconds + long.seconds).tokensPerSecond,
            };
            files.push(file);
            options.onProgress?.({ phase: "measured", index, count: paths.length, file });
        } finally {
            await model.dispose();
        }
    }
    const fastest = fastestFile(files);
    return {
        cpu: { model: info.model, kind: info.kind, ggmlCpu: info.build },
        threads,
        budgetSeconds,
        elapsedSeconds: secondsSince(started),
        loadAverage: loadAverage(),
        workload,
        estimates,
        files,
        fastest: { path: fastest.path, fileType: fastest.fileType, tokensPerSecond: fastest.tokensPerSecond },
        recommendation: info.recommendation,
        check: checkRecommendation(files, fastest, info.recommendation.fileType),
    };
}

/** The load averages, or zeros where os.loadavg() has none (Windows). */
function loadAverage(): number[] {
    return os.loadavg().map((l) => Math.round(l * 100) / 100);
}
