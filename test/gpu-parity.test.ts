/**
 * Vulkan for real, on Mesa's lavapipe (a CPU Vulkan driver): every layer of
 * the tiny F32 and F16 models offloaded, rewards against the float64
 * reference within 1e-2 (F32) and 2e-2 (F16). ggml ignores CPU-type Vulkan
 * devices unless GGML_VK_VISIBLE_DEVICES is set, so this file sets it before
 * the addon loads (vitest runs each file in its own process). Without
 * libvulkan1 + mesa-vulkan-drivers, or with a source build that has no
 * Vulkan backend, it skips with the reason printed; with
 * LLAMA_REWARD_REQUIRE_GPU=1 (CI) a skip is a failure.
 * LLAMA_REWARD_TEST_GPU=cuda|metal runs the same cases on that backend
 * (`npm run test:gpu`).
 */
import type { GpuBackend } from "../src/model/gpu.js";

const backend = (process.env.LLAMA_REWARD_TEST_GPU ?? "vulkan") as GpuBackend;
if (backend === "vulkan") process.env.GGML_VK_VISIBLE_DEVICES ??= "0";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, addonInfo, backendDevices } from "../src/index.js";
import { gpuRegistryNames } from "../src/model/gpu.js";
import { loadReferenceModel, referenceRewards } from "./reference/llama-reference.js";
import { conversations, filler, requireFile, tinyF16, tinyF32 } from "./support/fixtures.js";

const registry = gpuRegistryNames[backend];

function backendMissing(): string | undefined {
    const info = addonInfo();
    if (!info.dynamicBackends && !info.registries.includes(registry)) {
        return `the addon (${info.source}: ${info.path}) is a source build without the ${registry} backend`;
    }
    const failures = info.unavailable.filter((u) => u.backend === backend);
    if (failures.length > 0) return failures.map((f) => `${f.library} did not load: ${f.error}`).join("; ");
    if (!backendDevices().some((d) => d.backend === registry)) {
        return `no ${registry} device${backend === "vulkan" ? " (install libvulkan1 and mesa-vulkan-drivers for lavapipe)" : ""}`;
    }
    return undefined;
}

const missing = backendMissing();
if (missing !== undefined) {
    console.log(`[${backend}] skipped: ${missing}`);
}
const required = process.env.LLAMA_REWARD_REQUIRE_GPU === "1";

describe(`${registry} is available where CI requires it`, () => {
    it.runIf(required)(`LLAMA_REWARD_REQUIRE_GPU=1: the ${registry} backend and a device are present`, () => {
        expect(missing).toBeUndefined();
    });
});

// lavapipe runs shaders on the CPU, slowly: the parity cases, with the longest at ~250 tokens
const cases = [
    ...conversations,
    [
        { role: "user", content: filler(150, 7) },
        { role: "assistant", content: filler(40, 8) },
    ],
];

function maxAbsError(a: number[], b: number[]): number {
    return Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
}

describe.skipIf(missing !== undefined).each([
    ["F32", tinyF32, 1e-2],
    ["F16", tinyF16, 2e-2],
])(`${registry} parity on the %s tiny model`, (label, file, tolerance) => {
    let exact: RewardModel;
    let defaults: RewardModel;
    let expected: number[];
    let exactRewards: number[] = [];

    beforeAll(async () => {
        requireFile(file);
        exact = await RewardModel.load(file, { gpu: backend, flashAttention: false, kvCacheType: "f32" });
        defaults = await RewardModel.load(file, { gpu: backend });
        const reference = loadReferenceModel(file);
        expected = cases.map((c) => referenceRewards(reference, exact.tokenizeConversation(c))[0]!);
    }, 600_000);

    afterAll(async () => {
        await exact?.dispose();
        await defaults?.dispose();
    });

    it(`every layer is on the ${registry} device`, () => {
        for (const model of [exact, defaults]) {
            expect(model.info.gpu).toBe(backend);
            expect(model.info.offloadedLayers).toBe(model.info.layerCount + 1);
        }
    });

    it(`exact settings match the reference within ${tolerance}`, async () => {
        const got = await exact.scoreBatch(cases);
        exactRewards = got;
        const err = maxAbsError(got, expected);
        console.log(`[${backend}] ${label} exact: max |Δ| = ${err.toExponential(3)} over ${cases.length} conversations`);
        expect(err).toBeLessThanOrEqual(tolerance);
    }, 600_000);

    it(`default settings match the reference within ${tolerance}`, async () => {
        const got = await defaults.scoreBatch(cases);
        const err = maxAbsError(got, expected);
        console.log(`[${backend}] ${label} defaults: max |Δ| = ${err.toExponential(3)}`);
        expect(err).toBeLessThanOrEqual(tolerance);
    }, 600_000);

    it("the rewards really came from the GPU path: they differ from the CPU's in the last bits", async () => {
        const cpu = await RewardModel.load(file, { gpu: false, flashAttention: false, kvCacheType: "f32" });
        try {
            expect(cpu.info.gpu).toBeNull();
            expect(cpu.info.offloadedLayers).toBe(0);
            expect(exactRewards).toHaveLength(cases.length);
            const a = await cpu.scoreBatch(cases);
            expect(maxAbsError(a, exactRewards)).toBeGreaterThan(0);
        } finally {
            await cpu.dispose();
        }
    }, 600_000);
});
