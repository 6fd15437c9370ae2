/**
 * model.info.weightAlignment: 64 for the files llama-reward writes (every
 * weight matrix on a cache line), 32 for the same model rewritten with
 * GGUF's default alignment and its weights 32 bytes off a line; the two
 * files give bitwise the same rewards (only where the weights lie differs):
 * F32 weights, and BF16 weights on each BF16 kernel this CPU runs (child
 * processes, test/support/kernel-child.ts). llama-reward's AVX-512 kernels
 * stage rows that are off cache lines into a buffer of their own (its AMX
 * kernel reads them in place); a staging copy from the wrong place would move
 * a reward.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAddon } from "../src/addon/load-addon.js";
import { addonInfo, cpuInfo, quantize, RewardModel } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { rewriteGguf } from "../src/gguf/gguf-rewrite.js";
import { GgufValueType } from "../src/gguf/gguf-types.js";
import { conversations, kernelCases, requireFile, tinyF32 } from "./support/fixtures.js";
import { GGML_BF16_ENV, NO_AVX2, scoreInChild } from "./support/kernel-child.js";

/** A copy of `file` at alignment 32 whose weights start 32 bytes off a cache line (a padding key moves the data section). */
function misalignedCopy(file: string, out: string): void {
    const source = readGgufHeader(file);
    for (let pad = 0; pad < 64; pad++) {
        const setKeys = new Map([["llama_reward.test_padding", { type: GgufValueType.STRING, value: "x".repeat(pad) }]]);
        rewriteGguf(file, out, { setKeys }, { ...source, alignment: 32 });
        if (readGgufHeader(out).dataOffset % 64 === 32) return;
    }
    throw new Error("no padding put the data section 32 bytes off a cache line");
}

/** Weight products this process has staged because their rows were off cache lines (-1: an addon without the counter). */
function misalignedProducts(): number {
    const count = loadAddon().misalignedWeightProducts;
    return typeof count === "function" ? count() : -1;
}

describe("model.info.weightAlignment", () => {
    let dir: string;
    let offFile: string;
    let bf16Aligned: string;
    let bf16Off: string;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-weight-alignment-"));
        offFile = path.join(dir, "tiny-32.gguf");
        misalignedCopy(requireFile(tinyF32), offFile);
        // quantize() writes GGUF's 32-byte alignment; one copy at 64, one with the data section 32 bytes off
        const bf16 = path.join(dir, "tiny-bf16.gguf");
        await quantize(requireFile(tinyF32), bf16, "BF16");
        bf16Aligned = path.join(dir, "tiny-bf16-64.gguf");
        rewriteGguf(bf16, bf16Aligned, {}, { ...readGgufHeader(bf16), alignment: 64 });
        bf16Off = path.join(dir, "tiny-bf16-32.gguf");
        misalignedCopy(bf16, bf16Off);
    }, 60_000);

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("is 64 for a file llama-reward wrote and 32 for the same weights 32 bytes off, with the same rewards", async () => {
        const aligned = await RewardModel.load(requireFile(tinyF32), { contextSize: 1024 });
        const off = await RewardModel.load(offFile, { contextSize: 1024 });
        try {
            expect(aligned.info.weightAlignment).toBe(64);
            expect(off.info.weightAlignment).toBe(32);
            const before = misalignedProducts();
            const alignedScores = await aligned.scoreBatch(conversations);
            const between = misalignedProducts();
            expect(await off.scoreBatch(conversations)).toEqual(alignedScores);
            // the AVX-512 F32 kernel reads the aligned file in place and stages the other one's rows
            expect(between - before).toBe(0);
            if (addonInfo().f32Kernel === "avx512-f32") expect(misalignedProducts() - between).toBeGreaterThan(0);
        } finally {
            await aligned.dispose();
            await off.dispose();
        }
    });

    it("BF16 weights 32 bytes off score bitwise as aligned ones on each BF16 kernel this CPU runs", () => {
        const cpu = cpuInfo().cpu;
        const linuxX64 = process.platform === "linux" && process.arch === "x64";
        // each kernel, where this CPU runs it; `staged`: rows off cache lines are staged (the misaligned-product
        // counter moves for the off file only), as the AVX-512 BF16 kernel does; the FMA kernel stages every
        // chunk (widening), as does the AVX2 kernel; the AMX kernel and ggml's read rows in place
        const kernels: { kernel: string; env: Record<string, string>; runs: boolean; staged: boolean }[] = [
            { kernel: "amx", env: {}, runs: addonInfo().bf16Kernel === "amx", staged: false },
            {
                kernel: "avx512-bf16",
                env: { LLAMA_REWARD_AMX_BF16: "0", LLAMA_REWARD_BF16_FMA: "0", ...NO_AVX2 },
                runs: linuxX64 && cpu.avx512Bf16 === true,
                staged: true,
            },
            {
                kernel: "avx512-fma",
                env: { LLAMA_REWARD_AMX_BF16: "0", LLAMA_REWARD_BF16_FMA: "1", ...NO_AVX2 },
                runs: linuxX64 && cpu.avx512 === true,
                staged: false,
            },
            {
                kernel: "avx2-fma",
                env: { LLAMA_REWARD_AMX_BF16: "0", LLAMA_REWARD_AVX2: "1" },
                runs: linuxX64 && cpu.avx2 === true,
                staged: false,
            },
            { kernel: "ggml", env: { ...GGML_BF16_ENV }, runs: true, staged: false },
        ];
        const child = {
            kernelField: "bf16Kernel",
            productsExport: "misalignedWeightProducts",
            alone: 2,
            settings: { exact: { flashAttention: false } },
        } as const;
        expect(readGgufHeader(bf16Aligned).dataOffset % 64).toBe(0);
        expect(readGgufHeader(bf16Off).dataOffset % 64).toBe(32);
        for (const { kernel, env, staged } of kernels.filter((k) => k.runs)) {
            const aligned = scoreInChild(bf16Aligned, kernelCases, env, child);
            const off = scoreInChild(bf16Off, kernelCases, env, child);
            expect(aligned.kernel, kernel).toBe(kernel);
            expect(off.kernel, kernel).toBe(kernel);
            expect(aligned.products, `${kernel}: staged products, aligned file`).toBe(0);
            if (staged) expect(off.products, `${kernel}: staged products, off file`).toBeGreaterThan(0);
            else expect(off.products, `${kernel}: staged products, off file`).toBe(0);
            expect(off.scores.exact.batched, `${kernel}: batched`).toEqual(aligned.scores.exact.batched);
            expect(off.scores.exact.alone, `${kernel}: alone`).toEqual(aligned.scores.exact.alone);
        }
    }, 180_000);
});
