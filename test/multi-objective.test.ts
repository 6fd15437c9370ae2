/**
 * ArmoRM-style multi-objective heads with gating, end to end: a test
 * checkpoint with ArmoRM-Llama3-8B-v0.1's config.json fields and tensor names
 * (random weights, test/support/hf-families.ts) converted to GGUF, then
 * scoreObjectives() and score() against an independent float64
 * reimplementation of its Python forward (test/reference/armorm-reference.ts),
 * in one call and in batches; the generic calls see one label, "score";
 * the server's /v1/score returns the richer result; bad input is coded and
 * leaves the model usable.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, convert, createServer, quantize, type RewardServer } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { ARMORM_OBJECTIVES } from "../src/convert/hf-config.js";
import { rewriteGguf } from "../src/gguf/gguf-rewrite.js";
import { GgufValueType } from "../src/gguf/gguf-types.js";
import { conversations, tinyF32 } from "./support/fixtures.js";
import { loadVocab, makeWorkDir } from "./support/hf-fixtures.js";
import { rewardFamilies, writeFamilyCheckpoint, type FamilyCheckpoint } from "./support/hf-families.js";
import { type ArmoRmReferenceConfig, armoRmReference } from "./reference/armorm-reference.js";

const work = makeWorkDir("armorm");
const out = path.join(work, "armorm-f32.gguf");
const exact = { flashAttention: false, kvCacheType: "f32", contextSize: 2048, parallel: 4 } as const;
let checkpoint: FamilyCheckpoint;
let model: RewardModel;

const cases = conversations; // every one has a user turn followed by an assistant turn
function reference(tokens: number[]) {
    return armoRmReference(checkpoint.family.config as unknown as ArmoRmReferenceConfig, checkpoint.weights, tokens);
}

beforeAll(async () => {
    const family = rewardFamilies().find((f) => f.id === "armorm-llama3-8b-v0.1")!;
    checkpoint = writeFamilyCheckpoint(family, work, loadVocab(), 0xa12);
    await convert(checkpoint.dir, out, { outType: "f32" });
    model = await RewardModel.load(out, { ...exact, bos: family.bos });
});

afterAll(async () => {
    await model?.dispose();
    fs.rmSync(work, { recursive: true, force: true });
});

describe("ArmoRM: conversion", () => {
    it("keeps the regression layer as the head, with the objective names, and the gating network as metadata", () => {
        const h = readGgufHeader(out);
        const m = h.metadata;
        expect(m.get("llama.classifier.output_labels")).toEqual(ARMORM_OBJECTIVES);
        expect(h.tensors.find((t) => t.name === "cls.output.weight")!.shape).toEqual([256, 19]);
        expect(h.tensors.some((t) => t.name.startsWith("gating") || t.name.startsWith("reward"))).toBe(false);
        expect(m.get("llama_reward.gating.layer_count")).toBe(4);
        expect(m.get("llama_reward.gating.token_pattern")).toEqual([128009, 128006, 78191, 128007, 271]);
        expect(m.get("llama_reward.gating.temperature")).toBe(10);
        expect((m.get("llama_reward.gating.layers.0.weight") as number[]).length).toBe(64 * 256);
        expect((m.get("llama_reward.gating.layers.3.bias") as number[]).length).toBe(19);
        expect(Array.from(m.get("llama_reward.gating.transform_matrix") as number[])).toEqual(
            Array.from(checkpoint.weights.get("reward_transform_matrix")!),
        );
    });

    it("shows one label, the gated score, and the objectives in info", () => {
        expect(model.tokenizeConversation(cases[0]!).slice(0, 2)).toEqual([128000, 128006]); // one BOS, as apply_chat_template(tokenize=True)
        expect(model.info.labels).toEqual(["score"]);
        expect(model.info.objectives).toEqual(ARMORM_OBJECTIVES);
    });
});

describe("ArmoRM: scores against the float64 reference of its forward", () => {
    it("scoreObjectives: score, every objective and every gating weight within 1e-4", async () => {
        let worst = 0;
        for (const c of cases) {
            const tokens = model.tokenizeConversation(c);
            const want = reference(tokens);
            const got = await model.scoreObjectives(c);
            expect(Object.keys(got.objectives)).toEqual(ARMORM_OBJECTIVES);
            const diffs = [
                Math.abs(got.score - want.score),
                ...ARMORM_OBJECTIVES.map((name, i) => Math.abs(got.objectives[name]! - want.rewards[i]!)),
                ...ARMORM_OBJECTIVES.map((name, i) => Math.abs(got.gating[name]! - want.gating[i]!)),
            ];
            worst = Math.max(worst, ...diffs);
        }
        console.log(
            `[armorm parity] max |Δ| over score, 19 objectives and 19 gating weights of ${cases.length} conversations: ${worst.toExponential(3)}`,
        );
        expect(worst).toBeLessThanOrEqual(1e-4);
    });

    it("the gating position matters: the weights are far from uniform and differ between conversations", () => {
        const a = reference(model.tokenizeConversation(cases[0]!)).gating;
        const b = reference(model.tokenizeConversation(cases[2]!)).gating;
        expect(Math.max(...a) - Math.min(...a)).toBeGreaterThan(0.02);
        expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))).toBeGreaterThan(1e-3);
        // the gated score is neither the first objective nor a plain mean of them
        const r = reference(model.tokenizeConversation(cases[0]!));
        const mean = r.rewards.reduce((s, x) => s + x, 0) / r.rewards.length;
        expect(Math.abs(r.score - r.rewards[0]!)).toBeGreaterThan(1e-3);
        expect(Math.abs(r.score - mean)).toBeGreaterThan(1e-3);
    });

    it("the gating position is the start of the last assistant header", () => {
        const c = cases[3]!; // two user turns, two assistant turns
        const tokens = model.tokenizeConversation(c);
        const at = reference(tokens).gatingPosition;
        expect(tokens.slice(at, at + 5)).toEqual([128009, 128006, 78191, 128007, 271]);
        const first = tokens.findIndex((t, i) => t === 128009 && tokens[i + 2] === 78191);
        expect(at).toBeGreaterThan(first);
    });

    it("score(), scoreBatch(), scoreTokenBatch() and scoreObjectivesOfTokens() give the gated score, batched or not", async () => {
        const want = cases.map((c) => reference(model.tokenizeConversation(c)).score);
        const batch = await model.scoreBatch(cases);
        const single = await Promise.all(cases.map((c) => model.score(c)));
        const tokens = await model.scoreTokenBatch(cases.map((c) => model.tokenizeConversation(c)));
        const rich = await model.scoreObjectivesOfTokens(cases.map((c) => model.tokenizeConversation(c)));
        for (let i = 0; i < cases.length; i++) {
            expect(Math.abs(batch[i]! - want[i]!)).toBeLessThanOrEqual(1e-4);
            expect(Math.abs(single[i]! - want[i]!)).toBeLessThanOrEqual(1e-4);
            expect(tokens[i]).toHaveLength(1);
            expect(Math.abs(tokens[i]![0]! - want[i]!)).toBeLessThanOrEqual(1e-4);
            expect(Math.abs(rich[i]!.score - want[i]!)).toBeLessThanOrEqual(1e-4);
        }
        // best-of-N: every response shares the prompt and the same gating position
        const prompt = cases[2]!.slice(0, 1);
        const responses = ["Paris.", "Lyon, surely.", "It is Paris, on the Seine."];
        const bestOfN = await model.scoreResponses(prompt, responses);
        responses.forEach((response, i) => {
            const expected = reference(model.tokenizeConversation([...prompt, { role: "assistant", content: response }])).score;
            expect(Math.abs(bestOfN[i]! - expected)).toBeLessThanOrEqual(1e-4);
        });
    });
});

describe("ArmoRM: cost and isolation", () => {
    it("decodes the prefix up to the gating position once: a call costs the conversation's tokens plus one", async () => {
        const c = cases[2]!; // the longest
        const tokens = model.tokenizeConversation(c);
        const before = model.stats.tokens;
        await model.scoreObjectives(c);
        expect(model.stats.tokens - before).toBeLessThanOrEqual(tokens.length + 1);
    });

    it("quantize keeps the gating network exactly and the head F32", async () => {
        const q8 = path.join(work, "armorm-q8_0.gguf");
        await quantize(out, q8, "Q8_0");
        try {
            const [a, b] = [readGgufHeader(out).metadata, readGgufHeader(q8).metadata];
            for (const key of [...a.keys()].filter((k) => k.startsWith("llama_reward.gating.")))
                expect(b.get(key), key).toEqual(a.get(key));
            const quantized = await RewardModel.load(q8, { ...exact, bos: "single" });
            try {
                const got = await quantized.scoreObjectives(cases[0]!);
                const want = reference(model.tokenizeConversation(cases[0]!));
                console.log(
                    `[armorm Q8_0] |Δscore| = ${Math.abs(got.score - want.score).toExponential(3)} (score ${want.score.toFixed(4)})`,
                );
                expect(Math.abs(got.score - want.score)).toBeLessThan(0.05 * Math.max(1, Math.abs(want.score)));
            } finally {
                await quantized.dispose();
            }
        } finally {
            fs.rmSync(q8, { force: true });
        }
    });

    it("an isolated model (isolate: true) gives the same objectives through its engine process", async () => {
        const isolated = await RewardModel.load(out, { ...exact, bos: "single", isolate: true });
        try {
            expect(isolated.info.objectives).toEqual(ARMORM_OBJECTIVES);
            const [a, b] = [await isolated.scoreObjectives(cases[1]!), await model.scoreObjectives(cases[1]!)];
            expect(Math.abs(a.score - b.score)).toBeLessThanOrEqual(1e-6);
            expect(Object.keys(a.gating)).toEqual(ARMORM_OBJECTIVES);
            await expect(isolated.scoreObjectives([{ role: "user", content: "no answer" }])).rejects.toMatchObject({
                code: "ERR_INVALID_MESSAGES",
            });
        } finally {
            await isolated.dispose();
        }
    });
});

describe("ArmoRM: through the server", () => {
    let server: RewardServer;
    let port: number;
    beforeAll(async () => {
        server = createServer(model);
        port = (await server.listen(0)).port;
    });
    afterAll(async () => {
        await server?.close();
    });

    it("/v1/score returns rewards with every objective and gating weight", async () => {
        const response = await fetch(`http://127.0.0.1:${port}/v1/score`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ conversations: cases.slice(0, 2) }),
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as {
            rewards: number[];
            objectives: Record<string, number>[];
            gating: Record<string, number>[];
        };
        const want = cases.slice(0, 2).map((c) => reference(model.tokenizeConversation(c)));
        body.rewards.forEach((r, i) => expect(Math.abs(r - want[i]!.score)).toBeLessThanOrEqual(1e-4));
        expect(body.objectives).toHaveLength(2);
        expect(Math.abs(body.objectives[1]!["code-readability"]! - want[1]!.rewards[18]!)).toBeLessThanOrEqual(1e-4);
        expect(Math.abs(body.gating[0]!["helpsteer-helpfulness"]! - want[0]!.gating[0]!)).toBeLessThanOrEqual(1e-4);
    });
});

describe("ArmoRM: bad input", () => {
    it("a conversation without the assistant header after a user turn is ERR_INVALID_MESSAGES, and the model stays usable", async () => {
        await expect(model.scoreObjectives([{ role: "user", content: "Only a question." }])).rejects.toMatchObject({
            code: "ERR_INVALID_MESSAGES",
            message: expect.stringMatching(/\[128009, 128006, 78191, 128007, 271\].*user turn followed by an assistant turn/),
        });
        await expect(model.score([{ role: "assistant", content: "Only an answer." }])).rejects.toMatchObject({
            code: "ERR_INVALID_MESSAGES",
        });
        await expect(model.scoreObjectivesOfTokens([[128000, 1, 2, 3]])).rejects.toMatchObject({ code: "ERR_INVALID_TOKENS" });
        const again = await model.scoreObjectives(cases[0]!);
        expect(Math.abs(again.score - reference(model.tokenizeConversation(cases[0]!)).score)).toBeLessThanOrEqual(1e-4);
    });

    it("objectives asked of a single-label head are ERR_NOT_MULTI_OBJECTIVE, and that model stays usable", async () => {
        const plain = await RewardModel.load(tinyF32, { contextSize: 512, parallel: 1 });
        try {
            expect(plain.info.objectives).toEqual([]);
            await expect(plain.scoreObjectives(cases[0]!)).rejects.toMatchObject({ code: "ERR_NOT_MULTI_OBJECTIVE" });
            await expect(plain.scoreObjectivesOfTokens([[1, 2]])).rejects.toMatchObject({ code: "ERR_NOT_MULTI_OBJECTIVE" });
            expect(Number.isFinite(await plain.score(cases[0]!))).toBe(true);
        } finally {
            await plain.dispose();
        }
    });

    it("a malformed gating network in the file is ERR_CORRUPT_MODEL at load", async () => {
        const header = readGgufHeader(out);
        const broken = path.join(work, "broken-gating.gguf");
        const cases: [string, { type: GgufValueType; value: unknown; elementType?: GgufValueType }][] = [
            ["llama_reward.gating.layers.3.bias", { type: GgufValueType.ARRAY, value: [1, 2, 3], elementType: GgufValueType.FLOAT32 }],
            ["llama_reward.gating.transform_matrix", { type: GgufValueType.ARRAY, value: [1], elementType: GgufValueType.FLOAT32 }],
            ["llama_reward.gating.temperature", { type: GgufValueType.FLOAT32, value: 0 }],
            ["llama_reward.gating.token_pattern", { type: GgufValueType.ARRAY, value: [], elementType: GgufValueType.INT32 }],
        ];
        for (const [key, entry] of cases) {
            rewriteGguf(out, broken, { setKeys: new Map([[key, entry as never]]) }, header);
            await expect(RewardModel.load(broken, exact), key).rejects.toMatchObject({
                code: "ERR_CORRUPT_MODEL",
                message: expect.stringContaining("llama_reward.gating"),
            });
        }
        fs.rmSync(broken, { force: true });
    });
});
