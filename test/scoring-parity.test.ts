/**
 * Rewards against the independent float64 reference forward pass
 * (test/reference) on the tiny model: exact settings, defaults, F32 and F16.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel } from "../src/index.js";
import { loadReferenceModel, referenceRewards, type ReferenceModel } from "./reference/llama-reference.js";
import { conversations, filler, requireFile, tinyF16, tinyF32 } from "./support/fixtures.js";

const longConversation = [
    { role: "user", content: filler(1400, 7) },
    { role: "assistant", content: filler(300, 8) },
];

function maxAbsError(a: number[], b: number[]): number {
    return Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
}

describe.each([
    ["F32", tinyF32, 1e-4],
    ["F16", tinyF16, 5e-3], // ggml rounds activations to f16 for F16 weights
])("parity on the %s tiny model", (label, file, exactTolerance) => {
    let reference: ReferenceModel;
    let exact: RewardModel;
    let defaults: RewardModel;
    const cases = [...conversations, longConversation];
    let expected: number[];

    beforeAll(async () => {
        requireFile(file);
        reference = loadReferenceModel(file);
        exact = await RewardModel.load(file, { flashAttention: false, kvCacheType: "f32", batchSize: 256 });
        defaults = await RewardModel.load(file);
        expected = cases.map((c) => referenceRewards(reference, exact.tokenizeConversation(c))[0]!);
    });

    afterAll(async () => {
        await exact?.dispose();
        await defaults?.dispose();
    });

    it("the long case really is long (spans several 256-token decodes)", () => {
        const n = exact.tokenizeConversation(longConversation).length;
        expect(n).toBeGreaterThan(1500);
        expect(n).toBeLessThanOrEqual(2048);
    });

    it(`exact settings (no flash attention, f32 KV) match within ${exactTolerance}`, async () => {
        const got = await exact.scoreBatch(cases);
        const err = maxAbsError(got, expected);
        console.log(`[parity] ${label} exact: max |Δ| = ${err.toExponential(3)} over ${cases.length} conversations`);
        expect(err).toBeLessThanOrEqual(exactTolerance);
    });

    it("default settings match within 5e-3", async () => {
        const got = await defaults.scoreBatch(cases);
        const err = maxAbsError(got, expected);
        console.log(`[parity] ${label} defaults: max |Δ| = ${err.toExponential(3)}`);
        expect(err).toBeLessThanOrEqual(5e-3);
    });

    it("rewards differ between conversations (the head is not constant)", () => {
        const spread = Math.max(...expected) - Math.min(...expected);
        expect(spread).toBeGreaterThan(1e-2);
    });
});
