/**
 * The CPU backend's compute buffer on 64-byte boundaries
 * (native/src/cpu_compute_buffer.cpp, native/patches/0013): llama.cpp must
 * allocate its compute buffers through llama-reward's buffer type (its
 * counter moves), LLAMA_REWARD_ALIGNED_COMPUTE=0 must give ggml's own back,
 * and where intermediate tensors sit must not change a single bit of any
 * reward: F32 weights, and Q8_0 weights, which run on ggml's AMX int8
 * kernel on AMX CPUs (the kernel that lost 40% of its speed to outputs 32
 * bytes off a cache line).
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quantize } from "../src/index.js";
import { kernelCases, requireFile, tinyF32 } from "./support/fixtures.js";
import { type KernelChildResult, scoreInChild } from "./support/kernel-child.js";
import { writeWideTinyF32 } from "./support/wide-tiny-model.js";

const cases = kernelCases;
const child = {
    kernelField: "computeAlignment",
    productsExport: "alignedComputeBuffers",
    alone: 4,
    settings: { defaults: {}, exact: { flashAttention: false, kvCacheType: "f32" } },
} as const;
type Settings = keyof typeof child.settings;

describe("CPU compute buffers aligned to 64 bytes", () => {
    let wide: { dir: string; file: string };
    let wideQ8: string;
    const runs: Record<string, { aligned: KernelChildResult<Settings>; ggml: KernelChildResult<Settings> }> = {};

    beforeAll(async () => {
        wide = writeWideTinyF32();
        wideQ8 = path.join(wide.dir, "wide-q8_0.gguf");
        await quantize(wide.file, wideQ8, "Q8_0");
        for (const [name, file] of [
            ["tiny F32", requireFile(tinyF32)],
            ["wide Q8_0", wideQ8],
        ] as const) {
            runs[name] = {
                aligned: scoreInChild(file, cases, {}, child),
                ggml: scoreInChild(file, cases, { LLAMA_REWARD_ALIGNED_COMPUTE: "0" }, child),
            };
        }
    }, 300_000);

    afterAll(() => {
        if (wide) fs.rmSync(wide.dir, { recursive: true, force: true });
    });

    it("llama.cpp allocates its CPU compute buffers through it, and LLAMA_REWARD_ALIGNED_COMPUTE=0 turns it off", () => {
        for (const { aligned, ggml } of Object.values(runs)) {
            expect(aligned.kernel).toBe(64);
            // one compute buffer per context at least: llama.cpp took the buffer type, not just the addon
            expect(aligned.products).toBeGreaterThanOrEqual(2);
            expect(ggml.kernel).toBe(32);
            expect(ggml.products).toBe(0);
        }
    });

    it("leaves every reward bitwise as it is with ggml's 32-byte alignment", () => {
        for (const [name, { aligned, ggml }] of Object.entries(runs)) {
            for (const setting of Object.keys(child.settings) as Settings[]) {
                expect(aligned.scores[setting].batched, `${name}, ${setting}, batched`).toEqual(ggml.scores[setting].batched);
                expect(aligned.scores[setting].alone, `${name}, ${setting}, alone`).toEqual(ggml.scores[setting].alone);
                for (const r of aligned.scores[setting].batched) expect(Number.isFinite(r)).toBe(true);
            }
        }
    });
});
