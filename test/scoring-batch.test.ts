/**
 * The scheduler seen from the API: scoreBatch equals score, concurrent calls
 * agree and keep their order, long sequences are chunked, shared prefixes
 * and scoreResponses equal scoring full conversations.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, type ChatMessage } from "../src/index.js";
import { conversations, filler, requireFile, tinyF32 } from "./support/fixtures.js";

let model: RewardModel;

beforeAll(async () => {
    model = await RewardModel.load(requireFile(tinyF32), { flashAttention: false, kvCacheType: "f32", batchSize: 64, parallel: 4 });
});

afterAll(async () => {
    await model?.dispose();
});

const prompt: ChatMessage[] = [
    { role: "system", content: "You are a careful assistant." },
    { role: "user", content: `Read this and answer: ${filler(80, 11)}. What is the main idea?` },
];
const responses = [
    "The main idea is that reward models read every token.",
    "A fox.",
    filler(60, 12),
    "I don't know.",
    "It is about dogs and foxes, mostly, and the way they jump over one another in a story.",
];

describe("batching", () => {
    it("scoreBatch equals score for each conversation, in input order", async () => {
        const batch = await model.scoreBatch(conversations);
        const single: number[] = [];
        for (const c of conversations) single.push(await model.score(c));
        expect(batch).toHaveLength(conversations.length);
        batch.forEach((r, i) => expect(Math.abs(r - single[i]!)).toBeLessThan(1e-5));
        // order really matters: the conversations have different rewards
        expect(new Set(single.map((r) => r.toFixed(4))).size).toBe(conversations.length);
    });

    it("concurrent independent calls agree with sequential ones", async () => {
        const sequential: number[] = [];
        for (const c of conversations) sequential.push(await model.score(c));
        const stepsBefore = model.stats.steps;
        const concurrent = await Promise.all([...conversations, ...conversations].map((c) => model.score(c)));
        const steps = model.stats.steps - stepsBefore;
        concurrent.forEach((r, i) => expect(Math.abs(r - sequential[i % conversations.length]!)).toBeLessThan(1e-5));
        // independent callers shared decode steps (8 sequences, far fewer steps than one-by-one would need)
        const oneByOne = [...conversations, ...conversations].reduce((n, c) => n + Math.ceil(model.tokenizeConversation(c).length / 64), 0);
        expect(steps).toBeLessThan(oneByOne);
    });

    it("a sequence longer than batchSize spans several decodes and still matches", async () => {
        const long: ChatMessage[] = [
            { role: "user", content: filler(400, 5) },
            { role: "assistant", content: "ok" },
        ];
        const n = model.tokenizeConversation(long).length;
        expect(n).toBeGreaterThan(64 * 4);
        const before = model.stats.steps;
        const chunked = await model.score(long);
        expect(model.stats.steps - before).toBeGreaterThanOrEqual(Math.ceil(n / 64));
        const whole = await RewardModel.load(tinyF32, { flashAttention: false, kvCacheType: "f32", batchSize: 1024, parallel: 1 });
        try {
            const before2 = whole.stats.steps;
            const once = await whole.score(long);
            expect(whole.stats.steps - before2).toBe(1);
            expect(Math.abs(once - chunked)).toBeLessThan(1e-4);
        } finally {
            await whole.dispose();
        }
    });

    it("scoreBatch reports progress once per conversation", async () => {
        const seen: number[] = [];
        await model.scoreBatch(conversations, {
            onProgress: ({ completed, total }) => {
                seen.push(completed);
                expect(total).toBe(4);
            },
        });
        expect(seen).toEqual([1, 2, 3, 4]);
    });

    it("more conversations than slots and KV room all finish, in order", async () => {
        const many = Array.from({ length: 24 }, (_, i) => [
            { role: "user", content: filler(20 + 7 * i, i) },
            { role: "assistant", content: `answer ${i}` },
        ]);
        const batch = await model.scoreBatch(many);
        const spot = [0, 11, 23];
        for (const i of spot) expect(Math.abs(batch[i]! - (await model.score(many[i]!)))).toBeLessThan(1e-5);
    });
});

describe("shared prompts", () => {
    it("scoreResponses equals scoring each full conversation (≤ 1e-4, exact settings)", async () => {
        const stepsBefore = model.stats.tokens;
        const shared = await model.scoreResponses(prompt, responses);
        const sharedTokens = model.stats.tokens - stepsBefore;
        const separate: number[] = [];
        let fullTokens = 0;
        for (const content of responses) {
            const conversation = [...prompt, { role: "assistant", content }];
            fullTokens += model.tokenizeConversation(conversation).length;
            separate.push(await model.score(conversation));
        }
        shared.forEach((r, i) => expect(Math.abs(r - separate[i]!)).toBeLessThanOrEqual(1e-4));
        // the prompt was decoded once, not once per response
        expect(sharedTokens).toBeLessThan(fullTokens * 0.6);
    });

    it("scoreBatch detects shared prefixes among unrelated-looking inputs and keeps input order", async () => {
        const mixed: ChatMessage[][] = [
            conversations[0]!,
            [...prompt, { role: "assistant", content: responses[0]! }],
            conversations[2]!,
            [...prompt, { role: "assistant", content: responses[2]! }],
            [...prompt, { role: "assistant", content: responses[1]! }],
        ];
        const before = model.stats.tokens;
        const batch = await model.scoreBatch(mixed);
        const decoded = model.stats.tokens - before;
        const total = mixed.reduce((n, c) => n + model.tokenizeConversation(c).length, 0);
        expect(decoded).toBeLessThan(total);
        for (let i = 0; i < mixed.length; i++) {
            expect(Math.abs(batch[i]! - (await model.score(mixed[i]!)))).toBeLessThanOrEqual(1e-4);
        }
    });

    it("works with parallel: 1 (falls back to full sequences)", async () => {
        const one = await RewardModel.load(tinyF32, { flashAttention: false, kvCacheType: "f32", parallel: 1 });
        try {
            const shared = await one.scoreResponses(prompt, responses.slice(0, 3));
            const full = await model.scoreResponses(prompt, responses.slice(0, 3));
            shared.forEach((r, i) => expect(Math.abs(r - full[i]!)).toBeLessThanOrEqual(1e-4));
        } finally {
            await one.dispose();
        }
    });
});
