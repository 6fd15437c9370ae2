/**
 * Concurrency: 10 callers each making 100 mixed score / scoreBatch /
 * scoreResponses calls at once get the rewards of the same calls made one
 * at a time (exact settings; batch composition may move a float by a few
 * ulps, so within 1e-4).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { RewardModel, type ChatMessage } from "../../src/index.js";
import { filler, requireFile, tinyF32 } from "../support/fixtures.js";
import { Rng } from "../fuzz/prng.js";

let model: RewardModel;

beforeAll(async () => {
    model = await RewardModel.load(requireFile(tinyF32), {
        flashAttention: false,
        kvCacheType: "f32",
        contextSize: 2048,
        parallel: 8,
        threads: 1,
    });
});

afterAll(async () => {
    await model?.dispose();
});

type Call = () => Promise<number[]>;

function makeCalls(caller: number): Call[] {
    const rng = Rng.forCase(0xc0c0, caller);
    const system: ChatMessage = { role: "system", content: filler(20, 99) }; // shared by many calls: prefix sharing across callers
    return Array.from({ length: 100 }, () => {
        const conversation = (): ChatMessage[] => [
            ...(rng.chance(0.5) ? [system] : []),
            { role: "user", content: filler(rng.range(2, 24), rng.u32()) },
            { role: "assistant", content: filler(rng.range(1, 12), rng.u32()) },
        ];
        const kind = rng.int(3);
        if (kind === 0) {
            const c = conversation();
            return async () => [await model.score(c)];
        }
        if (kind === 1) {
            const batch = Array.from({ length: rng.range(1, 5) }, conversation);
            return () => model.scoreBatch(batch);
        }
        const prompt = conversation().slice(0, -1);
        const responses = Array.from({ length: rng.range(1, 5) }, () => filler(rng.range(1, 12), rng.u32()));
        return () => model.scoreResponses(prompt, responses);
    });
}

describe("concurrency", () => {
    it("10 callers x 100 mixed calls equal the same calls made one at a time", async () => {
        const callers = Array.from({ length: 10 }, (_, i) => makeCalls(i));
        const sequential: number[][][] = [];
        const sequentialBefore = model.stats.steps;
        for (const calls of callers) {
            const results: number[][] = [];
            for (const call of calls) results.push(await call());
            sequential.push(results);
        }
        const sequentialSteps = model.stats.steps - sequentialBefore;
        const stepsBefore = model.stats.steps;
        // every caller issues its calls back to back without waiting, all callers at once
        const concurrent = await Promise.all(callers.map((calls) => Promise.all(calls.map((call) => call()))));
        const steps = model.stats.steps - stepsBefore;
        let compared = 0;
        let maxDiff = 0;
        concurrent.forEach((results, c) =>
            results.forEach((values, k) => {
                const expected = sequential[c]![k]!;
                expect(values.length).toBe(expected.length);
                values.forEach((v, j) => {
                    maxDiff = Math.max(maxDiff, Math.abs(v - expected[j]!));
                    compared++;
                });
            }),
        );
        console.log(
            `concurrency: ${compared} rewards, max |concurrent - sequential| = ${maxDiff.toExponential(2)}, ` +
                `${steps} decode steps (${sequentialSteps} one at a time)`,
        );
        expect(maxDiff).toBeLessThan(1e-4);
        // the calls really were batched together
        expect(steps).toBeLessThan(sequentialSteps / 2);
        expect(model.stats.freeSlots).toBe(8);
        expect(model.stats.reservedCells).toBe(0);
    });
});
