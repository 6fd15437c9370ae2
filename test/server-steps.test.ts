/**
 * Process rewards through the reward server, in the shapes clients parse:
 * vLLM's /pooling (`data[i].data`, one vector per step, as its STEP pooling
 * answers), /classify with `"steps": true` (one entry per step with every
 * label's probs) and /v1/score with `"steps"` (the scoreSteps result), each
 * equal to the in-process scoreSteps() on the same input. The model is a copy
 * of the F32 tiny model whose file names a step tag (random weights: only
 * equality of numbers is checked).
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, createServer, type ChatMessage, type RewardServer } from "../src/index.js";
import { rewriteGguf } from "../src/gguf/gguf-rewrite.js";
import { GgufValueType } from "../src/gguf/gguf-types.js";
import { stepMetadataKeys } from "../src/gguf/step-metadata.js";
import { filler, requireFile, tinyF32 } from "./support/fixtures.js";
import { makeWorkDir } from "./support/hf-fixtures.js";
import { post } from "./support/server-client.js";

const TAG = "<|reserved_special_token_0|>";
const TAG_ID = 128002;

function solution(steps: number, seed: number): ChatMessage[] {
    const body = Array.from({ length: steps }, (_, k) => `${filler(10, seed + k)} ${TAG}`).join("\n");
    return [
        { role: "user", content: `Problem ${seed}` },
        { role: "assistant", content: body },
    ];
}

function expectClose(actual: number[][], expected: number[][]): void {
    expect(actual).toHaveLength(expected.length);
    actual.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - expected[i]![j]!)).toBeLessThan(1e-6)));
}

let work: string;
let model: RewardModel;
let server: RewardServer;
let base: string;

beforeAll(async () => {
    work = makeWorkDir("server-steps");
    const file = path.join(work, "tiny-steps.gguf");
    rewriteGguf(requireFile(tinyF32), file, {
        setKeys: new Map([
            [stepMetadataKeys.format, { type: GgufValueType.STRING, value: "step-tag" }],
            [stepMetadataKeys.tagId, { type: GgufValueType.UINT32, value: TAG_ID }],
            [stepMetadataKeys.activation, { type: GgufValueType.STRING, value: "sigmoid" }],
            [stepMetadataKeys.aggregate, { type: GgufValueType.STRING, value: "last" }],
        ]),
    });
    model = await RewardModel.load(file, { contextSize: 1024, parallel: 4, threads: 1 });
    server = createServer(model, { modelName: "tiny-steps" });
    base = (await server.listen(0)).url;
});

afterAll(async () => {
    await server?.close();
    await model?.dispose();
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("per-step results over HTTP", () => {
    it("the file's step settings are the model's", () => {
        expect(model.info.steps).toEqual({ format: "step-tag", tagId: TAG_ID, activation: "sigmoid", aggregate: "last" });
    });

    it("POST /pooling: data[i].data holds one vector per step, for texts and for messages", async () => {
        const texts = [model.render(solution(3, 1)), model.render(solution(5, 2))];
        const reply = await post(base, "/pooling", { model: "tiny-steps", input: texts, add_special_tokens: false });
        expect(reply.status).toBe(200);
        expect(reply.json).toMatchObject({ object: "list", model: "tiny-steps" });
        expect(reply.json.id).toMatch(/^pool-/);
        for (const [i, text] of texts.entries()) {
            const tokens = model.tokenize(text, { special: true, addSpecial: false });
            const expected = await model.scoreSteps({ tokens });
            expect(reply.json.data[i]).toMatchObject({ index: i, object: "pooling" });
            expectClose(
                reply.json.data[i].data,
                expected.steps.map((s) => s.values),
            );
        }
        expect(reply.json.data[1].data).toHaveLength(5);
        expect(reply.json.usage.prompt_tokens).toBeGreaterThan(0);

        const viaMessages = await post(base, "/pooling", { messages: solution(4, 3) });
        expect(viaMessages.status).toBe(200);
        expectClose(
            viaMessages.json.data[0].data,
            (await model.scoreSteps(solution(4, 3))).steps.map((s) => s.values),
        );
    });

    it('POST /classify with "steps": true gives every label\'s probs at each step', async () => {
        const reply = await post(base, "/classify", { messages: solution(3, 4), steps: true });
        expect(reply.status).toBe(200);
        const expected = await model.scoreSteps(solution(3, 4));
        expect(reply.json.data.map((d: { index: number; step: number }) => [d.index, d.step])).toEqual([
            [0, 0],
            [0, 1],
            [0, 2],
        ]);
        expectClose(
            reply.json.data.map((d: { probs: number[] }) => d.probs),
            expected.steps.map((s) => s.values),
        );
        expect(reply.json.data[0].num_classes).toBe(1);
        const raw = await post(base, "/classify", { messages: solution(3, 4), steps: true, use_activation: false });
        const rawExpected = await model.scoreSteps(solution(3, 4), { activation: "none" });
        expectClose(
            raw.json.data.map((d: { probs: number[] }) => d.probs),
            rawExpected.steps.map((s) => s.values),
        );
    });

    it('POST /v1/score with "steps" returns scoreSteps\' result per conversation, with settings', async () => {
        const conversations = [solution(2, 5), solution(6, 6)];
        const reply = await post(base, "/v1/score", { conversations, steps: { aggregate: "min" } });
        expect(reply.status).toBe(200);
        for (const [i, c] of conversations.entries()) {
            const expected = await model.scoreSteps(c, { aggregate: "min" });
            expect(reply.json.steps[i].aggregate).toBe("min");
            expect(Math.abs(reply.json.rewards[i] - expected.score)).toBeLessThan(1e-6);
            expectClose(
                reply.json.steps[i].steps.map((s: { values: number[] }) => s.values),
                expected.steps.map((s) => s.values),
            );
        }
    });

    it("bad step input is a 422 naming the item; the server keeps scoring", async () => {
        const noTag = await post(base, "/pooling", { input: ["no tag at all", model.render(solution(2, 7))] });
        expect(noTag.status).toBe(422);
        expect(noTag.json.error.code).toBe("ERR_INVALID_MESSAGES");
        expect(noTag.json.error.message).toContain("input[0]");
        const badTag = await post(base, "/v1/score", { messages: solution(2, 8), steps: { stepTag: "two words" } });
        expect(badTag.status).toBe(422);
        expect(badTag.json.error.code).toBe("ERR_INVALID_OPTION");
        const badShape = await post(base, "/v1/score", { messages: solution(2, 8), steps: { tag: 1 } });
        expect(badShape.status).toBe(422);
        expect(badShape.json.error.message).toContain('"tag"');
        const ok = await post(base, "/pooling", { messages: solution(2, 9) });
        expect(ok.status).toBe(200);
        expect(ok.json.data[0].data).toHaveLength(2);
    });
});
