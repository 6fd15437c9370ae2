/**
 * The pure parts of `llama-reward bench --quick` (src/bench/quick-bench.ts),
 * without the addon: sizing the workload to the budget from the estimates,
 * ranking files by their figures, the check against the recommended type,
 * and which kernel a file type runs on.
 */
import { describe, expect, it } from "vitest";
import {
    checkRecommendation,
    fastestFile,
    kernelFor,
    planWorkload,
    QUICK_LONG_RANGE,
    QUICK_LONG_TOKENS,
    QUICK_SHORT_RANGE,
    QUICK_SHORT_TOKENS,
    type QuickBenchFile,
    type QuickBenchKernel,
    rate,
} from "../../src/bench/quick-bench.js";
import type { Bf16Kernel, F16Kernel, F32Kernel } from "../../src/addon/native-types.js";
import { formatQuickBench } from "../../src/cli/bench.js";

function file(
    path: string,
    fileType: string,
    shortTps: number,
    longTps: number,
    weightAlignment = 64,
    kernel: QuickBenchKernel = "ggml",
): QuickBenchFile {
    // 800 short tokens and 1400 long ones at the given rates
    const short = rate(10, 800, 800 / shortTps);
    const long = rate(2, 1400, 1400 / longTps);
    return {
        path,
        fileType,
        sizeBytes: 1,
        kernel,
        weightAlignment,
        loadSeconds: 0,
        short,
        long,
        tokensPerSecond: rate(0, 2200, short.seconds + long.seconds).tokensPerSecond,
    };
}

describe("quick bench planning and ranking", () => {
    it("sizes the workload so all files together take about the budget, half short and half long", () => {
        // two files at 100 and 300 tok/s: 1/100 + 1/300 s per token, 60 s -> 4500 tokens per file
        const plan = planWorkload([100, 300], 60);
        expect(plan).toEqual({ short: Math.floor(2250 / QUICK_SHORT_TOKENS), long: Math.floor(2250 / QUICK_LONG_TOKENS) });
        const seconds = (plan.short * QUICK_SHORT_TOKENS + plan.long * QUICK_LONG_TOKENS) * (1 / 100 + 1 / 300);
        expect(seconds).toBeLessThanOrEqual(60);
        expect(seconds).toBeGreaterThan(45);
        // a slower CPU or more files: fewer conversations, never fewer than the least workload
        expect(planWorkload([10, 10, 10], 60)).toEqual({ short: 2, long: 1 });
        expect(planWorkload([100], 0)).toEqual({ short: QUICK_SHORT_RANGE.min, long: QUICK_LONG_RANGE.min });
        expect(planWorkload([100], -5)).toEqual({ short: QUICK_SHORT_RANGE.min, long: QUICK_LONG_RANGE.min });
        // a fast CPU: capped
        expect(planWorkload([1e6], 60)).toEqual({ short: QUICK_SHORT_RANGE.max, long: QUICK_LONG_RANGE.max });
    });

    it("the fastest file is the one with the most tokens/s over both sets, the first on a tie", () => {
        const files = [file("a", "Q8_0", 130, 120), file("b", "BF16", 300, 250), file("c", "F16", 60, 55)];
        expect(fastestFile(files).path).toBe("b");
        // fast on short but slow on long conversations loses to steady speed over the same tokens
        const mixed = [file("s", "Q8_0", 1000, 50), file("t", "BF16", 200, 200)];
        expect(mixed.map((f) => f.tokensPerSecond.toFixed(1))).toEqual(["76.4", "200.0"]);
        expect(fastestFile(mixed).path).toBe("t");
        expect(fastestFile([file("x", "Q8_0", 100, 100), file("y", "BF16", 100, 100)]).path).toBe("x");
        expect(() => fastestFile([])).toThrow(/no files/);
    });

    it("says whether the measurement agrees with the recommended type", () => {
        const files = [file("a", "Q8_0", 130, 120), file("b", "BF16", 300, 250)];
        expect(checkRecommendation(files, fastestFile(files), "BF16")).toBe("agrees");
        expect(checkRecommendation(files, fastestFile(files), "Q8_0")).toBe("disagrees");
        expect(checkRecommendation(files, fastestFile(files), "Q4_K_M")).toBe("not-measured");
    });

    it("names the kernel of each file type: llama-reward's for BF16, F32 and F16 where in use, ggml's AMX int8 where the backend has it", () => {
        const amx = ["AVX512", "AVX512_BF16", "AMX_INT8"];
        const zen4 = ["AVX512", "AVX512_BF16", "AVX512_VNNI"];
        const kernels = (bf16Kernel: Bf16Kernel, f32Kernel: F32Kernel = "ggml", f16Kernel: F16Kernel = "ggml") => ({
            bf16Kernel,
            f32Kernel,
            f16Kernel,
        });
        const cases: [string, ReturnType<typeof kernels>, string[], QuickBenchKernel][] = [
            ["BF16", kernels("amx"), amx, "amx"],
            ["BF16", kernels("avx512-bf16"), zen4, "avx512-bf16"],
            ["BF16", kernels("avx512-fma"), zen4, "avx512-fma"],
            ["BF16", kernels("ggml"), zen4, "ggml"],
            ["Q8_0", kernels("amx"), amx, "ggml-amx-int8"],
            ["Q4_K_M", kernels("amx"), amx, "ggml-amx-int8"],
            ["Q8_0", kernels("avx512-bf16"), zen4, "ggml"],
            ["F16", kernels("amx"), amx, "ggml"],
            ["F32", kernels("amx"), amx, "ggml"],
            ["F32", kernels("amx", "avx512-f32"), amx, "avx512-f32"],
            ["F16", kernels("avx512-bf16", "avx512-f32"), zen4, "ggml"],
            ["F16", kernels("avx512-bf16", "avx512-f32", "avx512-f16"), zen4, "avx512-f16"],
            ["F32", kernels("amx", "ggml", "avx512-f16"), amx, "ggml"],
        ];
        for (const [fileType, k, build, expected] of cases)
            expect(kernelFor(fileType, k, build), `${fileType} ${JSON.stringify(k)}`).toBe(expected);
    });
});

describe("bench --quick's report", () => {
    it("notes each file on the AMX BF16 kernel (which reads weights in place) whose weight matrices start inside cache lines, and no other", () => {
        const files = [
            file("/m/aligned-bf16.gguf", "BF16", 300, 250, 64, "amx"),
            file("/m/off-bf16.gguf", "BF16", 280, 230, 32, "amx"),
            file("/m/off-bf16-avx512.gguf", "BF16", 100, 95, 32, "avx512-bf16"), // staged by the kernel: no note
            file("/m/off-f32.gguf", "F32", 90, 85, 16, "avx512-f32"), // staged by the kernel: no note
            file("/m/off-f16.gguf", "F16", 90, 85, 16, "avx512-f16"),
            file("/m/off-q8.gguf", "Q8_0", 200, 190, 32, "ggml-amx-int8"),
            file("/m/off-bf16-ggml.gguf", "BF16", 90, 85, 16, "ggml"),
        ];
        const text = formatQuickBench({
            cpu: { model: "test CPU", kind: "x86-amx-bf16", ggmlCpu: ["AVX512"] },
            threads: 2,
            budgetSeconds: 60,
            elapsedSeconds: 60,
            loadAverage: [1, 1, 1],
            workload: { short: 10, long: 2 },
            estimates: [],
            files,
            fastest: { path: "/m/aligned-bf16.gguf", fileType: "BF16", tokensPerSecond: 280 },
            recommendation: { fileType: "BF16", reason: "test", measuredOn: "test" },
            check: "agrees",
        });
        const notes = text.split("\n").filter((l) => l.startsWith("note: "));
        expect(notes).toHaveLength(1);
        expect(notes[0]).toContain("off-bf16.gguf's weight matrices are aligned to 32 bytes");
    });
});
