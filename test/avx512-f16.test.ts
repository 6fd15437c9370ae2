/**
 * F16 weight products on AVX-512 FMA (native/src/avx512_f32_matmul.cpp: each
 * F16 weight widened to F32 exactly, the activations kept in F32) on the tiny
 * F16 model. Each setting runs in a child process
 * (test/support/kernel-child.ts): the kernel as chosen for this CPU, and
 * LLAMA_REWARD_AVX512_F16=0 for ggml's. The kernel must run wherever the CPU
 * has AVX-512 (its product counter moves; on CPUs with AMX int8 ggml keeps
 * F16 weights in its AMX buffer, which the kernel reads too), and compute
 * exactly what the F32 kernel computes on an F32 copy of the same weights:
 * bitwise the same rewards. Skipped where the CPU has no AVX-512.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpuInfo } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { rewriteGguf } from "../src/gguf/gguf-rewrite.js";
import { readTensorAsFloat64 } from "../src/gguf/gguf-tensor-reader.js";
import { GgmlType } from "../src/gguf/gguf-types.js";
import { kernelCases, requireFile, tinyF16 } from "./support/fixtures.js";
import { compareWithExactSettings, type KernelChildResult, maxAbsDiff, referenceRewardsOf, scoreInChild } from "./support/kernel-child.js";
import { writeWideTinyF16 } from "./support/wide-tiny-model.js";

const x86Linux = process.platform === "linux" && process.arch === "x64";
const hasAvx512 = x86Linux && cpuInfo().cpu.avx512 === true;
const cases = kernelCases;
const ALONE = 6;
const settings = { flashOff: { flashAttention: false } };
const f16Child = { kernelField: "f16Kernel", productsExport: "avx512F16Products", alone: ALONE, settings } as const;
const f32Child = { kernelField: "f32Kernel", productsExport: "avx512F32Products", alone: ALONE, settings } as const;

/** The weight products the kernels take: every block's attention and feed-forward projections. */
const PROJECTION = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;

/** A copy of the F16 model `file` whose projection weights are F32 holding the same values (F16 widens exactly). */
function f32CopyOf(file: string, out: string): void {
    const header = readGgufHeader(file);
    const widened = header.tensors
        .filter((t) => PROJECTION.test(t.name))
        .map((t) => {
            expect(t.type).toBe(GgmlType.F16);
            const values = Float32Array.from(readTensorAsFloat64(file, header, t.name));
            return { name: t.name, shape: [...t.shape], type: GgmlType.F32, data: new Uint8Array(values.buffer) };
        });
    expect(widened.length).toBeGreaterThan(0);
    rewriteGguf(file, out, { dropTensors: (name) => PROJECTION.test(name), addTensors: widened }, header);
}

describe("AVX-512 F16 kernel", () => {
    let dir: string;
    let ours: KernelChildResult<"flashOff">;
    let ggml: KernelChildResult<"flashOff">;
    let f32Copy: KernelChildResult<"flashOff">;

    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-avx512-f16-"));
        const copy = path.join(dir, "tiny-f16-as-f32.gguf");
        f32CopyOf(requireFile(tinyF16), copy);
        ours = scoreInChild(requireFile(tinyF16), cases, {}, f16Child);
        ggml = scoreInChild(requireFile(tinyF16), cases, { LLAMA_REWARD_AVX512_F16: "0" }, f16Child);
        f32Copy = scoreInChild(copy, cases, {}, f32Child);
    }, 180_000);

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("runs where the CPU has AVX-512, and not where it is switched off", () => {
        expect(ours.kernel).toBe(hasAvx512 ? "avx512-f16" : "ggml");
        // the counter moves only when the kernel's graph nodes run: its products were computed, not just chosen
        if (hasAvx512) expect(ours.products).toBeGreaterThan(0);
        else expect(ours.products).toBeLessThanOrEqual(0);
        expect(ggml.kernel).toBe("ggml");
        expect(ggml.products).toBeLessThanOrEqual(0);
    });

    it.skipIf(!hasAvx512)("gives bitwise the F32 kernel's rewards on an F32 copy of the same weights, alone and in a batch", () => {
        // Widening is exact and the tiles, passes and sums are the F32 kernel's: a staging chunk copied from the
        // wrong place, a widening that rounded, or activations rounded to F16 (as ggml's kernel does) would all
        // move some reward.
        expect(f32Copy.kernel).toBe("avx512-f32");
        expect(f32Copy.products).toBeGreaterThan(0);
        expect(ours.scores.flashOff.batched).toEqual(f32Copy.scores.flashOff.batched);
        expect(ours.scores.flashOff.alone).toEqual(f32Copy.scores.flashOff.alone);
        expect(ours.scores.flashOff.batched).not.toEqual(ggml.scores.flashOff.batched); // ggml's kernel sums otherwise
    });

    it.skipIf(!hasAvx512)("matches the float64 reference at least as closely as ggml's F16 kernel", async () => {
        const expected = await referenceRewardsOf(requireFile(tinyF16), cases);
        const oursError = maxAbsDiff(ours.scores.flashOff.batched, expected);
        const ggmlError = maxAbsDiff(ggml.scores.flashOff.batched, expected);
        console.log(`[avx512-f16] max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}`);
        // ggml rounds each activation to F16 before multiplying; this kernel keeps F32 activations
        expect(oursError).toBeLessThanOrEqual(Math.max(ggmlError, 1e-6));
    });

    it.skipIf(!hasAvx512)(
        "rows longer than one K chunk (4096 values) stay as close to the float64 reference as ggml's kernel",
        async () => {
            // The down projection walks K in several staged chunks, its accumulators saved and reloaded in between
            const wide = writeWideTinyF16();
            try {
                const { ours, ggml, oursError, ggmlError } = await compareWithExactSettings(
                    wide.file,
                    cases,
                    {},
                    { LLAMA_REWARD_AVX512_F16: "0" },
                    f16Child,
                );
                console.log(
                    `[avx512-f16] 4096-wide FFN, exact settings: max |Δ| vs reference: ours ${oursError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}`,
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
