/**
 * F16 and BF16 weight products on the AVX-512 FMA kernel
 * (native/src/avx512_f32_matmul.cpp: each weight widened to F32 exactly, the
 * activations kept in F32) on the tiny model's F16 file and a BF16 copy.
 * Each setting runs in a child process (test/support/kernel-child.ts): the
 * kernel, and llama.cpp's own kernel for the type (LLAMA_REWARD_AVX512_F16=0;
 * GGML_BF16_ENV). The kernel must run wherever the CPU has AVX-512 (its
 * product counter moves; on CPUs with AMX int8 the F16 weights it takes stay
 * mapped from the file instead of going to ggml's AMX buffer), and compute exactly what the F32
 * kernel computes on an F32 copy of the same weights: bitwise the same
 * rewards. BF16 weights are sent to it with LLAMA_REWARD_AMX_BF16=0 and
 * LLAMA_REWARD_BF16_FMA=1 (by default it takes them on Intel CPUs without
 * AMX in use and on AVX-512 CPUs without AVX-512 BF16). Skipped where the
 * CPU has no AVX-512.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpuInfo, quantize } from "../src/index.js";
import { GgmlType } from "../src/gguf/gguf-types.js";
import { f32CopyOf } from "./support/f32-copy.js";
import { modelBuffersInChild } from "./support/model-buffers.js";
import { kernelCases, requireFile, tinyF16, tinyF32 } from "./support/fixtures.js";
import {
    compareWithExactSettings,
    GGML_BF16_ENV,
    type KernelChildResult,
    maxAbsDiff,
    NO_AVX2,
    referenceRewardsOf,
    scoreInChild,
} from "./support/kernel-child.js";
import { writeWideTinyF16, writeWideTinyF32 } from "./support/wide-tiny-model.js";

const x86Linux = process.platform === "linux" && process.arch === "x64";
const hasAvx512 = x86Linux && cpuInfo().cpu.avx512 === true;
/** ggml's CPU backend has its AMX int8 kernel (and so its AMX buffer) here. */
const ggmlAmx = x86Linux && cpuInfo().build.includes("AMX_INT8");
const cases = kernelCases;
const ALONE = 6;
const settings = { flashOff: { flashAttention: false } };
const f32Child = { kernelField: "f32Kernel", productsExport: "avx512F32Products", alone: ALONE, settings } as const;

interface WidenedType {
    name: "F16" | "BF16";
    type: GgmlType;
    /** Writes the tiny model of this type into `dir`; returns its path. */
    file(dir: string): Promise<string>;
    /** The same with a 4096-wide feed-forward block; remove `dir` when done. */
    wide(): Promise<{ dir: string; file: string }>;
    child: {
        kernelField: "f16Kernel" | "bf16Kernel";
        productsExport: "avx512F16Products" | "avx512Bf16FmaProducts";
        alone: number;
        settings: typeof settings;
    };
    /** The kernel's name in addonInfo() where it runs. */
    kernel: string;
    ours: Record<string, string>;
    ggml: Record<string, string>;
}

const TYPES: WidenedType[] = [
    {
        name: "F16",
        type: GgmlType.F16,
        file: async () => requireFile(tinyF16),
        wide: async () => writeWideTinyF16(),
        child: { kernelField: "f16Kernel", productsExport: "avx512F16Products", alone: ALONE, settings },
        kernel: "avx512-f16",
        ours: { ...NO_AVX2 },
        ggml: { LLAMA_REWARD_AVX512_F16: "0", ...NO_AVX2 },
    },
    {
        name: "BF16",
        type: GgmlType.BF16,
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
        child: { kernelField: "bf16Kernel", productsExport: "avx512Bf16FmaProducts", alone: ALONE, settings },
        kernel: "avx512-fma",
        ours: { LLAMA_REWARD_AMX_BF16: "0", LLAMA_REWARD_BF16_FMA: "1", ...NO_AVX2 },
        ggml: { ...GGML_BF16_ENV },
    },
];

describe.each(TYPES)("AVX-512 FMA kernel on $name weights", (t) => {
    let dir: string;
    let file: string;
    let ours: KernelChildResult<"flashOff">;
    let ggml: KernelChildResult<"flashOff">;
    let f32Copy: KernelChildResult<"flashOff">;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-avx512-widened-"));
        file = await t.file(dir);
        const copy = path.join(dir, "as-f32.gguf");
        f32CopyOf(file, t.type, copy);
        ours = scoreInChild(file, cases, t.ours, t.child);
        ggml = scoreInChild(file, cases, t.ggml, t.child);
        f32Copy = scoreInChild(copy, cases, NO_AVX2, f32Child);
    }, 180_000);

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("runs where the CPU has AVX-512, and not where it is switched off", () => {
        expect(ours.kernel).toBe(hasAvx512 ? t.kernel : "ggml");
        // the counter moves only when the kernel's graph nodes run: its products were computed, not just chosen
        if (hasAvx512) expect(ours.products).toBeGreaterThan(0);
        else expect(ours.products).toBeLessThanOrEqual(0);
        expect(ggml.kernel).toBe("ggml");
        expect(ggml.products).toBeLessThanOrEqual(0);
    });

    it.skipIf(!hasAvx512)("gives bitwise the F32 kernel's rewards on an F32 copy of the same weights, alone and in a batch", () => {
        // Widening is exact and the tiles, passes and sums are the F32 kernel's: a staging chunk copied from the
        // wrong place, a widening that rounded, or activations rounded to F16/BF16 (as ggml's kernels do) would
        // all move some reward.
        expect(f32Copy.kernel).toBe("avx512-f32");
        expect(f32Copy.products).toBeGreaterThan(0);
        expect(ours.scores.flashOff.batched).toEqual(f32Copy.scores.flashOff.batched);
        expect(ours.scores.flashOff.alone).toEqual(f32Copy.scores.flashOff.alone);
        expect(ours.scores.flashOff.batched).not.toEqual(ggml.scores.flashOff.batched); // ggml's kernel sums otherwise
    });

    it.skipIf(!hasAvx512)("matches the float64 reference at least as closely as ggml's kernel for the type", async () => {
        const expected = await referenceRewardsOf(file, cases);
        const oursError = maxAbsDiff(ours.scores.flashOff.batched, expected);
        const ggmlError = maxAbsDiff(ggml.scores.flashOff.batched, expected);
        console.log(
            `[avx512-widened ${t.name}] max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}`,
        );
        // ggml rounds each activation to the weights' type before multiplying; this kernel keeps F32 activations
        expect(oursError).toBeLessThanOrEqual(Math.max(ggmlError, 1e-6));
    });

    it.skipIf(!hasAvx512)(
        "rows longer than one K chunk (4096 values) stay as close to the float64 reference as ggml's kernel",
        async () => {
            // The down projection walks K in several staged chunks, its accumulators saved and reloaded in between
            const wide = await t.wide();
            try {
                const { ours, ggml, oursError, ggmlError } = await compareWithExactSettings(wide.file, cases, t.ours, t.ggml, t.child);
                console.log(
                    `[avx512-widened ${t.name}] 4096-wide FFN, exact settings: max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}`,
                );
                expect(ours.products).toBeGreaterThan(0);
                expect(oursError).toBeLessThanOrEqual(Math.max(ggmlError, 2e-6));
                expect(ours.scores.exact.batched).not.toEqual(ggml.scores.exact.batched);
            } finally {
                fs.rmSync(wide.dir, { recursive: true, force: true });
            }
        },
        120_000,
    );
});

describe.skipIf(!hasAvx512 || !ggmlAmx)("F16 weights where ggml's CPU backend has its AMX int8 kernel", () => {
    it("stay mapped from the file, not copied into ggml's AMX buffer, and the kernel multiplies them there", () => {
        // ggml's CPU backend offers its AMX buffer first for F16 weights (for an F16 kernel of its own) and copies
        // them there; the weight-buffer filter (native/src/weight_product_hook.cpp) passes over it for the
        // weights the kernel multiplies, so they stay in the mapped file and no copy is made
        const file = requireFile(tinyF16);
        const ggml = modelBuffersInChild(file, { LLAMA_REWARD_AVX512_F16: "0", ...NO_AVX2 });
        expect(ggml.f16Kernel).toBe("ggml");
        expect(ggml.buffers).toContain("AMX");
        const ours = modelBuffersInChild(file, NO_AVX2);
        expect(ours.f16Kernel).toBe("avx512-f16");
        expect(ours.buffers).not.toContain("AMX");
        expect(ours.f16Products).toBeGreaterThan(0);
    });
});
