/**
 * BF16 weight products on AVX-512 BF16 dot products
 * (native/src/avx512_bf16_matmul.cpp) on a BF16 copy of the tiny model. The
 * kernel is chosen once per process, so each setting runs in a child
 * process: LLAMA_REWARD_AMX_BF16=0 (AMX CPUs use their own kernel first)
 * and LLAMA_REWARD_BF16_FMA=0 (Intel CPUs take the FMA kernel,
 * test/avx512-widened.test.ts) for this kernel, and every BF16 kernel of
 * llama-reward's off for ggml's (GGML_BF16_ENV). It
 * must run wherever the CPU has AVX-512 BF16 (its product counter moves),
 * stay close to the float64 reference and to ggml's BF16 kernel without
 * being bitwise that kernel, and be row independent. Row independence is
 * checked bitwise with flash attention off: the tiled flash-attention kernel
 * has batch effects of its own (which cells of the unified KV cache share a
 * block) of a few float32 ulps, and rounding the attention output to BF16
 * for the next product now and then turns one of them into a whole BF16 ulp
 * (docs/fidelity.md#batch-invariance), which would hide the kernel's. With
 * the defaults (flash attention on) the alone-vs-batch difference is held to
 * BF16's own rounding error instead: ggml's kernel's error against the
 * float64 reference on the same file. Skipped where the CPU has no AVX-512
 * BF16.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpuInfo, quantize } from "../src/index.js";
import { kernelCases, requireFile, tinyF32 } from "./support/fixtures.js";
import {
    compareWithExactSettings,
    GGML_BF16_ENV,
    NO_AVX2,
    type KernelChildResult,
    maxAbsDiff,
    referenceRewardsOf,
    scoreInChild,
} from "./support/kernel-child.js";
import { writeWideTinyF32 } from "./support/wide-tiny-model.js";

const x86Linux = process.platform === "linux" && process.arch === "x64";
const hasAvx512Bf16 = x86Linux && cpuInfo().cpu.avx512Bf16 === true;
const cases = kernelCases;
const ALONE = 6;
/** This kernel: AMX off, and the FMA kernel, which Intel CPUs prefer for BF16, off too. */
const OURS = { LLAMA_REWARD_AMX_BF16: "0", LLAMA_REWARD_BF16_FMA: "0", ...NO_AVX2 };

const child = {
    kernelField: "bf16Kernel",
    productsExport: "avx512Bf16Products",
    alone: ALONE,
    settings: { flashOff: { flashAttention: false }, defaults: {} },
} as const;

/** Scores `cases` in a fresh process under `env`, with flash attention off and then with the defaults. */
function scoreWith(file: string, env: Record<string, string>): KernelChildResult<"flashOff" | "defaults"> {
    return scoreInChild(file, cases, env, child);
}

describe("AVX-512 BF16 kernel", () => {
    let dir: string;
    let bf16File: string;
    let ours: KernelChildResult<"flashOff" | "defaults">;
    let ggml: KernelChildResult<"flashOff" | "defaults">;
    /** the float64 reference's reward of each case on the same BF16 weights */
    let expected: number[];

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-avx512-"));
        bf16File = path.join(dir, "tiny-reward-bf16.gguf");
        await quantize(requireFile(tinyF32), bf16File, "BF16");
        ours = scoreWith(bf16File, OURS);
        ggml = scoreWith(bf16File, { ...GGML_BF16_ENV });
        if (hasAvx512Bf16) {
            expected = await referenceRewardsOf(bf16File, cases);
        }
    }, 120_000);

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("runs where the CPU has AVX-512 BF16 and AMX is not in use, and not where it is switched off", () => {
        expect(ours.kernel).toBe(hasAvx512Bf16 ? "avx512-bf16" : "ggml");
        // the counter moves only when the kernel's graph nodes run: its products were computed, not just chosen
        if (hasAvx512Bf16) expect(ours.products).toBeGreaterThan(0);
        else expect(ours.products).toBeLessThanOrEqual(0);
        expect(ggml.kernel).toBe("ggml");
        expect(ggml.products).toBeLessThanOrEqual(0);
    });

    it.skipIf(!hasAvx512Bf16)("matches the float64 reference on the same BF16 weights and ggml's own BF16 kernel", () => {
        const spread = Math.max(...expected) - Math.min(...expected);
        for (const mode of ["flashOff", "defaults"] as const) {
            const oursError = maxAbsDiff(ours.scores[mode].batched, expected);
            const ggmlError = maxAbsDiff(ggml.scores[mode].batched, expected);
            const between = maxAbsDiff(ours.scores[mode].batched, ggml.scores[mode].batched);
            console.log(
                `[avx512-bf16] ${mode}: max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}; ours vs ggml ${between.toExponential(3)}; spread ${spread.toFixed(3)}`,
            );
            expect(oursError).toBeLessThanOrEqual(Math.max(2 * ggmlError, 1e-3));
            expect(between).toBeLessThanOrEqual(Math.max(2 * ggmlError, 1e-3));
            expect(ours.scores[mode].batched).not.toEqual(ggml.scores[mode].batched); // the two kernels sum in different orders: ours really ran
        }
    });

    it.skipIf(!hasAvx512Bf16)("a reward does not depend on the other rows of the batch", () => {
        // Rows of other sequences share every weight product with the target; a kernel whose sums depended on
        // the tile or thread a row fell in (remainder tiles, the per-thread split, activation passes) would
        // move it. On the tiny model without flash attention nothing else in the step mixes rows (on bigger
        // models ggml's attention products pick kernels by batch size): the rewards are bitwise equal.
        const diff = maxAbsDiff(ours.scores.flashOff.batched.slice(0, ALONE), ours.scores.flashOff.alone);
        console.log(`[avx512-bf16] flash attention off: alone vs in a batch of ${cases.length}: max |Δ| ${diff.toExponential(3)}`);
        expect(diff).toBe(0);
    });

    it.skipIf(!hasAvx512Bf16)("with the defaults, alone and in a batch differ by less than BF16's own rounding error", () => {
        // Flash attention's output for a row differs by a few float32 ulps between the two runs, for every
        // kernel; rounded to BF16 for the next product, one of those values now and then lands on the other
        // side of a rounding midpoint and moves by a whole BF16 ulp. Which kernel draws such a flip on a
        // reward's row is chance (its inputs differ from ggml's by the order of its sums), so ggml's own
        // alone-vs-batch figure is no bound; BF16's error against the float64 reference is. A kernel that read
        // a wrong or stale row in the graphs flash attention builds (its output is a view of a 64-row padded
        // tensor for short steps) would move rewards by the order of their spread instead.
        const bf16Error = maxAbsDiff(ggml.scores.defaults.batched, expected);
        const diff = maxAbsDiff(ours.scores.defaults.batched.slice(0, ALONE), ours.scores.defaults.alone);
        const ggmlDiff = maxAbsDiff(ggml.scores.defaults.batched.slice(0, ALONE), ggml.scores.defaults.alone);
        console.log(
            `[avx512-bf16] defaults: alone vs in a batch of ${cases.length}: max |Δ| ours ${diff.toExponential(3)}, ggml ${ggmlDiff.toExponential(3)}; ggml vs reference ${bf16Error.toExponential(3)}`,
        );
        expect(diff).toBeLessThanOrEqual(bf16Error);
        for (let i = 0; i < ALONE; i++)
            expect(Math.abs(ours.scores.defaults.alone[i]! - expected[i]!)).toBeLessThanOrEqual(Math.max(2 * bf16Error, 1e-3));
    });

    it.skipIf(!hasAvx512Bf16)(
        "rows longer than one K chunk (4096 values) stay as close to the float64 reference as ggml's kernel",
        async () => {
            // The down projection of this model walks K in several chunks, its accumulators saved and reloaded in
            // between; a chunk that restarted from zero, skipped or repeated values would be far off. Its rows are
            // 8 KiB apart, so that they collide in L1's sets and each chunk is copied before the pass's tiles read
            // it: a copy of the wrong rows or values would be as far off.
            const wide = writeWideTinyF32();
            const wideBf16 = path.join(wide.dir, "wide-bf16.gguf");
            try {
                await quantize(wide.file, wideBf16, "BF16");
                const { ours, ggml, oursError, ggmlError } = await compareWithExactSettings(
                    wideBf16,
                    cases,
                    OURS,
                    { ...GGML_BF16_ENV },
                    { ...child, counters: ["copiedWeightProducts"] },
                );
                console.log(
                    `[avx512-bf16] 4096-wide FFN, exact settings: max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}`,
                );
                expect(ours.products).toBeGreaterThan(0);
                expect(ours.counters.copiedWeightProducts).toBeGreaterThan(0);
                expect(oursError).toBeLessThanOrEqual(Math.max(2 * ggmlError, 1e-3));
                expect(ours.scores.exact.batched).not.toEqual(ggml.scores.exact.batched);
            } finally {
                fs.rmSync(wide.dir, { recursive: true, force: true });
            }
        },
        120_000,
    );
});
