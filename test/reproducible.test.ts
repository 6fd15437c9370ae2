/**
 * Fidelity of the defaults and the reproducible mode on the tiny model:
 * defaults on the CPU compute what flashAttention: true computes, and with
 * reproducible: true a conversation's reward is bitwise the same alone, in a
 * batch of 32 others, chunked across decodes, and as a continuation of a
 * shared prompt. The default mode's own differences are printed for the
 * fidelity table in docs/fidelity.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, type ChatMessage } from "../src/index.js";
import { conversations, filler, requireFile, tinyF32 } from "./support/fixtures.js";

const prompt: ChatMessage[] = [{ role: "user", content: `Read this and say what it is about: ${filler(700, 21)}` }];
const target: ChatMessage[] = [...prompt, { role: "assistant", content: "It is about a fox, a dog and reward models." }];
const siblings = ["A fox.", "Dogs.", filler(30, 22)];
const others: ChatMessage[][] = Array.from({ length: 32 }, (_, i) => [
    { role: "user", content: filler(10 + ((i * 37) % 300), 100 + i) },
    { role: "assistant", content: filler(5 + (i % 9) * 4, 200 + i) },
]);

/** The target's reward alone, in a batch of 32 others, as a shared-prompt continuation, and concurrently with other calls. */
async function fourWays(model: RewardModel): Promise<number[]> {
    const alone = await model.score(target);
    const inBatch = (await model.scoreBatch([...others.slice(0, 16), target, ...others.slice(16)]))[16]!;
    const continued = (await model.scoreResponses(prompt, [...siblings, target[1]!.content]))[3]!;
    const [, concurrent] = await Promise.all([model.scoreBatch(others), model.score(target), model.scoreBatch(conversations)]);
    return [alone, inBatch, continued, concurrent];
}

describe("defaults", () => {
    it("on the CPU, defaults run flash attention's tiled kernel (head size 16), and not with an F32 cache", async () => {
        const long = [
            { role: "user", content: filler(1400, 7) },
            { role: "assistant", content: filler(300, 8) },
        ];
        const rewards: number[] = [];
        const settings = [
            {},
            { flashAttention: true },
            { flashAttention: false },
            { kvCacheType: "f32" },
            { flashAttention: false, kvCacheType: "f32" },
        ] as const;
        for (const options of settings) {
            const m = await RewardModel.load(requireFile(tinyF32), options);
            try {
                expect(m.tokenizeConversation(long).length).toBeGreaterThan(1500);
                rewards.push(await m.score(long));
            } finally {
                await m.dispose();
            }
        }
        expect(rewards[0]).toBe(rewards[1]);
        expect(rewards[2]).not.toBe(rewards[1]); // the comparison can tell the two paths apart
        expect(rewards[3]).toBe(rewards[4]); // an F32 cache is kept F32: flash attention would round it to F16
        expect(rewards[3]).not.toBe(rewards[1]);
    });
});

describe("reproducible: true", () => {
    let model: RewardModel;
    let plain: RewardModel;

    beforeAll(async () => {
        model = await RewardModel.load(requireFile(tinyF32), { reproducible: true });
        plain = await RewardModel.load(tinyF32);
    });

    afterAll(async () => {
        await model?.dispose();
        await plain?.dispose();
    });

    it("the target spans several decodes and its prompt is long enough to be shared", () => {
        const n = model.tokenizeConversation(target).length;
        expect(n).toBeGreaterThan(model.options.batchSize);
        expect(n).toBeLessThan(model.info.contextSize);
    });

    it("gives bitwise the same reward alone, in a batch of 32, as a shared-prompt continuation and concurrently", async () => {
        const [alone = Number.NaN, ...rest] = await fourWays(model);
        for (const r of rest) expect(r).toBe(alone);
        // same as the default mode within the usual tolerance
        expect(Math.abs(alone - (await plain.score(target)))).toBeLessThan(1e-3);
    });

    it("shares whole chunks of a long prompt", async () => {
        const responses = [...siblings, target[1]!.content];
        const full = responses.reduce(
            (n, content) => n + model.tokenizeConversation([...prompt, { role: "assistant", content }]).length,
            0,
        );
        const before = model.stats.tokens;
        await model.scoreResponses(prompt, responses);
        const chunk = model.options.batchSize;
        expect(model.stats.tokens - before).toBe(full - (responses.length - 1) * chunk);
    });

    it("reports how far the default mode moves the same reward (printed for docs/fidelity.md)", async () => {
        const [alone = Number.NaN, ...rest] = await fourWays(plain);
        const spread = Math.max(...rest.map((r) => Math.abs(r - alone)));
        console.log(`[fidelity] default mode, tiny F32: max |Δ| alone vs batch/continuation/concurrent = ${spread.toExponential(2)}`);
        expect(spread).toBeLessThan(1e-3);
        // The default mode is not bitwise invariant here, so the reproducible test above can fail.
        expect(spread).toBeGreaterThan(0);
    });
});
