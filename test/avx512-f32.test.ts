/**
 * F32 weight products on AVX-512 FMA (native/src/avx512_f32_matmul.cpp) on
 * the tiny F32 model. Each setting runs in a child process
 * (test/support/kernel-child.ts): the kernel as chosen for this CPU, and
 * LLAMA_REWARD_AVX512_F32=0 for ggml's. It must run wherever the CPU has
 * AVX-512 (its product counter moves), stay as close to the float64
 * reference as ggml's kernel without being bitwise ggml's kernel, and move a
 * reward between alone and in a batch no more than ggml's kernel does.
 * Skipped where the CPU has no AVX-512.
 */
import fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { cpuInfo } from "../src/index.js";
import { kernelCases, requireFile, tinyF32 } from "./support/fixtures.js";
import {
    compareWithExactSettings,
    type KernelChildResult,
    maxAbsDiff,
    NO_AVX2,
    referenceRewardsOf,
    scoreInChild,
} from "./support/kernel-child.js";
import { writeWideTinyF32 } from "./support/wide-tiny-model.js";

const x86Linux = process.platform === "linux" && process.arch === "x64";
const hasAvx512 = x86Linux && cpuInfo().cpu.avx512 === true;
const cases = kernelCases;
const ALONE = 6;
const child = {
    kernelField: "f32Kernel",
    productsExport: "avx512F32Products",
    alone: ALONE,
    settings: { flashOff: { flashAttention: false } },
} as const;

describe("AVX-512 F32 kernel", () => {
    let ours: KernelChildResult<"flashOff">;
    let ggml: KernelChildResult<"flashOff">;

    beforeAll(() => {
        ours = scoreInChild(requireFile(tinyF32), cases, NO_AVX2, child);
        ggml = scoreInChild(requireFile(tinyF32), cases, { LLAMA_REWARD_AVX512_F32: "0", ...NO_AVX2 }, child);
    }, 120_000);

    it("runs where the CPU has AVX-512, and not where it is switched off", () => {
        expect(ours.kernel).toBe(hasAvx512 ? "avx512-f32" : "ggml");
        // the counter moves only when the kernel's graph nodes run: its products were computed, not just chosen
        if (hasAvx512) expect(ours.products).toBeGreaterThan(0);
        else expect(ours.products).toBeLessThanOrEqual(0);
        expect(ggml.kernel).toBe("ggml");
        expect(ggml.products).toBeLessThanOrEqual(0);
    });

    it.skipIf(!hasAvx512)("matches the float64 reference as closely as ggml's F32 kernel", async () => {
        const expected = await referenceRewardsOf(requireFile(tinyF32), cases);
        const oursError = maxAbsDiff(ours.scores.flashOff.batched, expected);
        const ggmlError = maxAbsDiff(ggml.scores.flashOff.batched, expected);
        console.log(
            `[avx512-f32] max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}; ours vs ggml ${maxAbsDiff(ours.scores.flashOff.batched, ggml.scores.flashOff.batched).toExponential(3)}`,
        );
        // F32 products summed in another order: as close to the reference as ggml's kernel, never worse than 2x
        expect(oursError).toBeLessThanOrEqual(Math.max(2 * ggmlError, 1e-6));
        expect(ours.scores.flashOff.batched).not.toEqual(ggml.scores.flashOff.batched); // the two kernels sum in different orders: ours really ran
    });

    it.skipIf(!hasAvx512)("a reward moves with the rest of the batch no more than ggml's own kernel lets it", () => {
        // The kernel's sums depend only on the row (remainder tiles, the per-thread split and activation passes
        // must not change them), but an F32 model's attention products, which ggml picks kernels for by batch
        // size, move a reward by a few 1e-7 between scoring it alone and in a batch, with ggml's weight kernel
        // as with ours (a BF16 model hides this: rounding to BF16 absorbs such differences). A kernel that
        // mixed rows or mis-sized a remainder tile would move rewards far more.
        const diff = maxAbsDiff(ours.scores.flashOff.batched.slice(0, ALONE), ours.scores.flashOff.alone);
        const ggmlDiff = maxAbsDiff(ggml.scores.flashOff.batched.slice(0, ALONE), ggml.scores.flashOff.alone);
        console.log(
            `[avx512-f32] alone vs in a batch of ${cases.length}: max |Δ| ours ${diff.toExponential(3)}, ggml ${ggmlDiff.toExponential(3)}`,
        );
        expect(diff).toBeLessThanOrEqual(Math.max(4 * ggmlDiff, 2e-6));
    });

    it.skipIf(!hasAvx512)(
        "rows longer than one K chunk (4096 values) stay as close to the float64 reference as ggml's kernel",
        async () => {
            // The down projection of this model walks K in several chunks, its accumulators saved and reloaded in
            // between; a chunk that restarted from zero, skipped or repeated values would be far off. Its rows are
            // 16 KiB apart, so that they collide in L1's sets, and where a pass holds at least 12 tiles (here, a
            // 1 MiB L2 and an L3 the OS reports) each chunk is copied before the pass's tiles read it; the BF16
            // kernel's test asserts that the copy ran.
            const wide = writeWideTinyF32();
            try {
                const { ours, ggml, oursError, ggmlError } = await compareWithExactSettings(
                    wide.file,
                    cases,
                    NO_AVX2,
                    { LLAMA_REWARD_AVX512_F32: "0", ...NO_AVX2 },
                    child,
                );
                console.log(
                    `[avx512-f32] 4096-wide FFN, exact settings: max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}`,
                );
                expect(ours.products).toBeGreaterThan(0);
                expect(oursError).toBeLessThanOrEqual(Math.max(2 * ggmlError, 2e-6));
                expect(ours.scores.exact.batched).not.toEqual(ggml.scores.exact.batched);
            } finally {
                fs.rmSync(wide.dir, { recursive: true, force: true });
            }
        },
        120_000,
    );
});
