/**
 * F32, F16 and BF16 weight products on the AVX2 FMA kernel
 * (native/src/avx2_matmul.cpp: the tiled product of tiled_gemm.h with
 * 256-bit vectors and tiles of 3 x 4) on the tiny model's F32 and F16 files
 * and a BF16 copy. The kernel runs by default on CPUs with AVX2 but no
 * AVX-512; LLAMA_REWARD_AVX2=1 sends these types to it on an AVX-512 CPU
 * too, which is how it is tested here. Each setting runs in a child process
 * (test/support/kernel-child.ts): the kernel, and llama.cpp's own kernel
 * for the type (every kernel of llama-reward's for it off). It must run (its
 * product counter moves), stay as close to the float64 reference as ggml's
 * kernel, move a reward between alone and in a batch no more than ggml's
 * kernel does, and score the F16 and BF16 files bitwise as it scores an F32
 * copy of the same weights (widening is exact). Skipped where the CPU has
 * no AVX2.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpuInfo, quantize } from "../src/index.js";
import { GgmlType } from "../src/gguf/gguf-types.js";
import { f32CopyOf } from "./support/f32-copy.js";
import { kernelCases, requireFile, tinyF16, tinyF32 } from "./support/fixtures.js";
import {
    compareWithExactSettings,
    GGML_BF16_ENV,
    type KernelChildResult,
    maxAbsDiff,
    referenceRewardsOf,
    scoreInChild,
} from "./support/kernel-child.js";
import { writeWideTinyF16, writeWideTinyF32 } from "./support/wide-tiny-model.js";

const x86Linux = process.platform === "linux" && process.arch === "x64";
const hasAvx2 = x86Linux && cpuInfo().cpu.avx2 === true;
const cases = kernelCases;
const ALONE = 6;
/** flashOff: the weight products are the main difference from the reference; flashOn: the default. */
const settings = { flashOff: { flashAttention: false }, flashOn: {} };
/** The AVX2 kernel for every type it takes (AMX, where present, would take BF16 first). */
const OURS = { LLAMA_REWARD_AVX2: "1", LLAMA_REWARD_AMX_BF16: "0" };
/** llama.cpp's own kernels for every type. */
const GGML = { ...GGML_BF16_ENV, LLAMA_REWARD_AVX512_F32: "0", LLAMA_REWARD_AVX512_F16: "0", LLAMA_REWARD_AVX2: "0" };

interface Avx2Type {
    name: "F32" | "F16" | "BF16";
    kernelField: "f32Kernel" | "f16Kernel" | "bf16Kernel";
    /** The kernel's name in addonInfo(). */
    kernel: string;
    /** Writes the tiny model of this type into `dir`; returns its path. */
    file(dir: string): Promise<string>;
    /** The same with a 4096-wide feed-forward block, in a folder of its own; remove `dir` when done. */
    wide(): Promise<{ dir: string; file: string }>;
    /** The stored type of the weight matrices, for an F32 copy (undefined: already F32). */
    widened?: GgmlType;
}

const TYPES: Avx2Type[] = [
    {
        name: "F32",
        kernelField: "f32Kernel",
        kernel: "avx2-f32",
        file: async () => requireFile(tinyF32),
        wide: async () => writeWideTinyF32(),
    },
    {
        name: "F16",
        kernelField: "f16Kernel",
        kernel: "avx2-f16",
        file: async () => requireFile(tinyF16),
        wide: async () => writeWideTinyF16(),
        widened: GgmlType.F16,
    },
    {
        name: "BF16",
        kernelField: "bf16Kernel",
        kernel: "avx2-fma",
        file: async (dir) => {
            const out = path.join(dir, "tiny-reward-bf16.gguf");
            await quantize(requireFile(tinyF32), out, "BF16");
            return out;
        },
        wide: async () => {
            const wide = writeWideTinyF32();
            const file = path.join(wide.dir, "wide-bf16.gguf");
            await quantize(wide.file, file, "BF16");
            return { dir: wide.dir, file };
        },
        widened: GgmlType.BF16,
    },
];

describe.skipIf(!hasAvx2).each(TYPES)("AVX2 kernel on $name weights", (t) => {
    const child = { kernelField: t.kernelField, productsExport: "avx2Products", alone: ALONE, settings } as const;
    let dir: string;
    let file: string;
    let ours: KernelChildResult<"flashOff" | "flashOn">;
    let ggml: KernelChildResult<"flashOff" | "flashOn">;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-avx2-"));
        file = await t.file(dir);
        ours = scoreInChild(file, cases, OURS, child);
        ggml = scoreInChild(file, cases, GGML, child);
    }, 180_000);

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("runs where asked for on a CPU with AVX2, and not where it is switched off", () => {
        expect(ours.kernel).toBe(t.kernel);
        // the counter moves only when the kernel's graph nodes run: its products were computed, not just chosen
        expect(ours.products).toBeGreaterThan(0);
        expect(ggml.kernel).toBe("ggml");
        expect(ggml.products).toBe(0);
    });

    it("matches the float64 reference at least as closely as ggml's kernel for the type", async () => {
        const expected = await referenceRewardsOf(file, cases);
        const oursError = maxAbsDiff(ours.scores.flashOff.batched, expected);
        const ggmlError = maxAbsDiff(ggml.scores.flashOff.batched, expected);
        console.log(`[avx2 ${t.name}] max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}`);
        // F32 sums in another order than ggml's: never worse than 2x; F16 and BF16 keep F32 activations, which
        // ggml rounds to the weights' type
        expect(oursError).toBeLessThanOrEqual(t.widened === undefined ? Math.max(2 * ggmlError, 1e-6) : Math.max(ggmlError, 1e-6));
        expect(ours.scores.flashOff.batched).not.toEqual(ggml.scores.flashOff.batched); // ours really ran
    });

    it("a reward moves with the rest of the batch no more than ggml's own kernel lets it", () => {
        // The kernel's sums depend only on the row; the attention products, which ggml picks kernels for by batch
        // size, move a reward by a few 1e-7 between alone and in a batch with either weight kernel. (Without
        // flash attention they move the tiny F16 model's rewards by about 3e-5 on the AVX-512 kernel too, and
        // its F32 copy's on the F32 kernels alike, while ggml's F16 kernel, which rounds the activations to F16,
        // hides it: so this compares with flash attention, the default.) A tile that mixed rows, or a second
        // 4-row half tile that wrote the first one's results, would move rewards far more.
        const diff = maxAbsDiff(ours.scores.flashOn.batched.slice(0, ALONE), ours.scores.flashOn.alone);
        const ggmlDiff = maxAbsDiff(ggml.scores.flashOn.batched.slice(0, ALONE), ggml.scores.flashOn.alone);
        console.log(
            `[avx2 ${t.name}] alone vs in a batch of ${cases.length}: max |Δ| ours ${diff.toExponential(3)}, ggml ${ggmlDiff.toExponential(3)}`,
        );
        expect(diff).toBeLessThanOrEqual(Math.max(4 * ggmlDiff, 2e-6));
    });

    it.skipIf(t.widened === undefined)("gives bitwise its F32 rewards on an F32 copy of the same weights, alone and in a batch", () => {
        // Widening is exact and the tiles are the F32 ones: a staging chunk copied from the wrong place or a
        // widening that rounded would move some reward.
        const copy = path.join(dir, "as-f32.gguf");
        f32CopyOf(file, t.widened!, copy);
        const f32 = scoreInChild(copy, cases, OURS, { ...child, kernelField: "f32Kernel" });
        expect(f32.kernel).toBe("avx2-f32");
        for (const setting of ["flashOff", "flashOn"] as const) {
            expect(ours.scores[setting].batched).toEqual(f32.scores[setting].batched);
            expect(ours.scores[setting].alone).toEqual(f32.scores[setting].alone);
        }
    });

    it("rows longer than one K chunk (4096 values) stay as close to the float64 reference as ggml's kernel", async () => {
        // The down projection walks K in several staged chunks, both half tiles' accumulators saved and reloaded
        // in between; a chunk that restarted from zero, or a half tile that reloaded the other's sums, would be
        // far off.
        const wide = await t.wide();
        try {
            const { ours, ggml, oursError, ggmlError } = await compareWithExactSettings(wide.file, cases, OURS, GGML, child);
            console.log(
                `[avx2 ${t.name}] 4096-wide FFN, exact settings: max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}`,
            );
            expect(ours.products).toBeGreaterThan(0);
            expect(oursError).toBeLessThanOrEqual(Math.max(2 * ggmlError, 2e-6));
            expect(ours.scores.exact.batched).not.toEqual(ggml.scores.exact.batched);
        } finally {
            fs.rmSync(wide.dir, { recursive: true, force: true });
        }
    }, 120_000);
});
