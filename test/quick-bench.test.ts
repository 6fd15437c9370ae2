/**
 * `llama-reward bench --quick` and quickBench() on the tiny model (random
 * weights: only speed is measured) as F32 and as a Q8_0 quantized from it,
 * with a budget so small that the least workload runs: the report's
 * structure, positive figures, the same tokens for both files, the fastest
 * file and the recommendation check recomputed here from the figures, the
 * kernel of each file type, and the coded errors and exit statuses of bad
 * input. No timing thresholds.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
    QUICK_LONG_RANGE,
    QUICK_LONG_TOKENS,
    QUICK_SHORT_RANGE,
    QUICK_SHORT_TOKENS,
    type QuickBenchReport,
    quickBench,
} from "../src/bench/quick-bench.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { cpuInfo, quantize } from "../src/index.js";
import { requireFile, root, tinyF32 } from "./support/fixtures.js";
import { makeWorkDir } from "./support/hf-fixtures.js";
import { writeHeadlessCopy } from "./support/headless-model.js";

const work = makeWorkDir("quick-bench");
const q8 = path.join(work, "tiny-reward-q8_0.gguf");
const headless = path.join(work, "tiny-headless.gguf");
const cli = path.join(root, "dist", "src", "cli", "main.js");
/** What multiplies the tiny F32 model's weights here, and how the CLI names it. */
const f32Kernel = cpuInfo().f32Kernel;
const f32KernelName = {
    "avx512-f32": "llama-reward AVX-512 F32",
    "avx2-f32": "llama-reward AVX2 F32",
    "neon-f32": "llama-reward NEON F32",
    ggml: "ggml",
}[f32Kernel];

beforeAll(async () => {
    await quantize(requireFile(tinyF32), q8, "Q8_0", { threads: 2 });
    writeHeadlessCopy(tinyF32, headless);
}, 120_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function bench(args: string[]): { status: number | null; stdout: string; stderr: string } {
    return spawnSync(process.execPath, [requireFile(cli), "bench", ...args], { encoding: "utf8", cwd: root, timeout: 120_000 });
}

/** What every report must hold, checked against its own figures. */
function checkReport(report: QuickBenchReport, paths: string[]): void {
    expect(report.files.map((f) => f.path)).toEqual(paths);
    expect(report.estimates.map((e) => e.path)).toEqual(paths);
    expect(report.workload.short).toBeGreaterThanOrEqual(QUICK_SHORT_RANGE.min);
    expect(report.workload.short).toBeLessThanOrEqual(QUICK_SHORT_RANGE.max);
    expect(report.workload.long).toBeGreaterThanOrEqual(QUICK_LONG_RANGE.min);
    expect(report.workload.long).toBeLessThanOrEqual(QUICK_LONG_RANGE.max);
    for (const f of report.files) {
        expect(f.short.conversations, f.path).toBe(report.workload.short);
        expect(f.long.conversations, f.path).toBe(report.workload.long);
        // conversations fitted to at most their target length, and not far below it
        expect(f.short.tokens).toBeLessThanOrEqual(report.workload.short * QUICK_SHORT_TOKENS);
        expect(f.short.tokens).toBeGreaterThan(report.workload.short * QUICK_SHORT_TOKENS * 0.8);
        expect(f.long.tokens).toBeLessThanOrEqual(report.workload.long * QUICK_LONG_TOKENS);
        expect(f.long.tokens).toBeGreaterThan(report.workload.long * QUICK_LONG_TOKENS * 0.8);
        for (const r of [f.short, f.long]) {
            expect(r.seconds).toBeGreaterThan(0);
            expect(r.tokensPerSecond).toBeCloseTo(r.tokens / r.seconds, 6);
        }
        expect(f.tokensPerSecond).toBeCloseTo((f.short.tokens + f.long.tokens) / (f.short.seconds + f.long.seconds), 6);
        expect(f.sizeBytes).toBe(fs.statSync(f.path).size);
        // the file's own layout, read here: the largest power of two up to 64 dividing every weight matrix's offset
        const h = readGgufHeader(f.path);
        const offsets = h.tensors.filter((t) => t.shape.length >= 2).map((t) => h.dataOffset + t.offset);
        let alignment = 64;
        while (alignment > 1 && offsets.some((o) => o % alignment !== 0)) alignment /= 2;
        expect(f.weightAlignment, f.path).toBe(alignment);
    }
    for (const e of report.estimates) expect(e.tokensPerSecond).toBeGreaterThan(0);
    // the same conversations for every file: one model, so the same tokens
    expect(new Set(report.files.map((f) => `${f.short.tokens}/${f.long.tokens}`)).size).toBe(1);
    // the fastest is the file with the most tokens/s, recomputed here
    const best = Math.max(...report.files.map((f) => f.tokensPerSecond));
    const fastest = report.files.find((f) => f.tokensPerSecond === best)!;
    expect(report.fastest).toEqual({ path: fastest.path, fileType: fastest.fileType, tokensPerSecond: best });
    const info = cpuInfo();
    expect(report.recommendation).toEqual(info.recommendation);
    expect(report.cpu).toEqual({ model: info.model, kind: info.kind, ggmlCpu: info.build });
    const recommended = info.recommendation.fileType;
    const expected = !report.files.some((f) => f.fileType === recommended)
        ? "not-measured"
        : fastest.fileType === recommended
          ? "agrees"
          : "disagrees";
    expect(report.check).toBe(expected);
    expect(report.elapsedSeconds).toBeGreaterThan(0);
}

describe("quickBench", () => {
    it("measures F32 and Q8_0 files with one workload and ranks them by their own figures", async () => {
        const progress: string[] = [];
        const report = await quickBench([tinyF32, q8], { seconds: 0.1, threads: 2, onProgress: (p) => progress.push(p.phase) });
        checkReport(report, [tinyF32, q8]);
        // a budget far below what one file needs: the least workload
        expect(report.workload).toEqual({ short: QUICK_SHORT_RANGE.min, long: QUICK_LONG_RANGE.min });
        expect(report.files.map((f) => f.fileType)).toEqual(["F32", "Q8_0"]);
        expect(report.threads).toBe(2);
        expect(report.budgetSeconds).toBe(0.1);
        // F32 runs on llama-reward's AVX-512 F32 kernel where the addon uses it, ggml's otherwise; Q8_0 on ggml's
        // AMX int8 tiles exactly where the ggml CPU backend has them
        const amxInt8 = cpuInfo().build.includes("AMX_INT8");
        expect(report.files.map((f) => f.kernel)).toEqual([f32Kernel, amxInt8 ? "ggml-amx-int8" : "ggml"]);
        expect(progress).toEqual(["estimate", "estimate", "workload", "measured", "measured"]);
    }, 120_000);

    it("rejects a missing file or a file without a reward head before timing anything", async () => {
        await expect(quickBench([tinyF32, path.join(work, "missing.gguf")], { seconds: 0.1 })).rejects.toMatchObject({
            code: "ERR_MODEL_NOT_FOUND",
        });
        await expect(quickBench([headless], { seconds: 0.1 })).rejects.toMatchObject({ code: "ERR_NO_REWARD_HEAD" });
        await expect(quickBench([], { seconds: 0.1 })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        await expect(quickBench([tinyF32], { seconds: 0 })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
    });
});

describe("llama-reward bench --quick", () => {
    it("prints a progress line per file and the report as JSON", () => {
        const r = bench(["--quick", tinyF32, q8, "--seconds", "0.1", "--threads", "1", "--json"]);
        expect(r.status, r.stderr).toBe(0);
        const report = JSON.parse(r.stdout) as QuickBenchReport;
        checkReport(report, [tinyF32, q8]);
        expect(report.threads).toBe(1);
        const measured = r.stderr.split("\n").filter((l) => /^llama-reward bench: \d\/2 /.test(l));
        expect(measured).toHaveLength(2);
        expect(measured[0]).toContain(`tiny-reward-f32.gguf (F32, ${f32KernelName})`);
    });

    it("prints a table with the fastest type and the recommendation beside it", () => {
        const r = bench(["--quick", tinyF32, "--seconds", "0.1"]);
        expect(r.status, r.stderr).toBe(0);
        const lines = r.stdout.split("\n");
        expect(lines.find((l) => l.startsWith("tiny-reward-f32.gguf"))).toMatch(
            new RegExp(`^tiny-reward-f32\\.gguf\\s+F32\\s+${f32KernelName}\\s+[\\d.]+\\s+[\\d.]+\\s+[\\d.]+$`),
        );
        expect(r.stdout).toContain("fastest here: F32 (tiny-reward-f32.gguf)");
        const recommended = cpuInfo().recommendation.fileType;
        expect(r.stdout).toContain(`recommended for this CPU: ${recommended} (`);
        // F32 is never the recommended type, so one F32 file cannot say whether the recommendation holds
        expect(r.stdout).toContain("no file of that type was measured");
    });

    it("bench --help lists every flag it takes", () => {
        const r = bench(["--help"]);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("usage: llama-reward bench");
        for (const flag of ["--quick", "--threads", "--seconds", "--json"]) expect(r.stdout).toContain(flag);
    });

    it("exits 1 with the code of a bad file and 2 for a bad command line", () => {
        const missing = bench(["--quick", path.join(work, "missing.gguf"), "--seconds", "0.1"]);
        expect(missing.status).toBe(1);
        expect(missing.stderr).toContain("[ERR_MODEL_NOT_FOUND]");
        const noHead = bench(["--quick", headless, "--seconds", "0.1"]);
        expect(noHead.status).toBe(1);
        expect(noHead.stderr).toContain("[ERR_NO_REWARD_HEAD]");
        for (const args of [[tinyF32], ["--quick"], ["--quick", tinyF32, "--seconds", "0"], ["--quick", tinyF32, "--threads", "x"]]) {
            const r = bench(args);
            expect(r.status, args.join(" ")).toBe(2);
            expect(r.stderr, args.join(" ")).toContain("[ERR_INVALID_OPTION]");
        }
    });
});
