/**
 * Text → tokens as transformers does it: the tokenizer against Hugging Face's
 * own vectors for the Llama-3 vocabulary, the chat template against expected
 * strings, and each BOS policy.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, type BosPolicy } from "../src/index.js";
import { requireFile, tinyF32, vocabFile } from "./support/fixtures.js";

const BOS = 128000;
let model: RewardModel;

beforeAll(async () => {
    model = await RewardModel.load(requireFile(tinyF32), { contextSize: 512, parallel: 2 });
});

afterAll(async () => {
    await model?.dispose();
});

function readVectors(): { text: string; ids: number[] }[] {
    const raw = fs.readFileSync(requireFile(`${vocabFile}.inp`), "utf8");
    const out = fs.readFileSync(`${vocabFile}.out`, "utf8").split("\n");
    const sep = "\n__ggml_vocab_test__\n";
    const inputs: string[] = [];
    let pos = 0;
    while (pos < raw.length) {
        const next = raw.indexOf(sep, pos);
        if (next < 0) {
            inputs.push(raw.slice(pos));
            break;
        }
        inputs.push(raw.slice(pos, next));
        pos = next + sep.length;
    }
    return inputs.map((text, i) => ({
        text,
        ids: out[i]!.trim() === "" ? [] : out[i]!.trim().split(/\s+/).map(Number),
    }));
}

describe("tokenizer", () => {
    it("matches every Hugging Face vector for the Llama-3 vocabulary", () => {
        const vectors = readVectors();
        expect(vectors.length).toBeGreaterThanOrEqual(40);
        for (const { text, ids } of vectors) {
            expect(model.tokenize(text, { special: false }), JSON.stringify(text)).toEqual(ids);
        }
    });

    it("adds BOS and parses special tokens by default", () => {
        expect(model.tokenize("Hello<|eot_id|>")).toEqual([BOS, 9906, 128009]);
        expect(model.tokenize("Hello<|eot_id|>", { special: false })).not.toContain(128009);
    });
});

describe("chat template", () => {
    const messages = [
        { role: "system", content: "Be brief." },
        { role: "user", content: "  Hi there  " },
        { role: "assistant", content: "Hello." },
    ];

    it("renders the Llama-3 template as transformers does (content trimmed, no generation prompt)", () => {
        expect(model.render(messages)).toBe(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
                "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>" +
                "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>",
        );
    });

    it.each([
        ["hf", 2],
        ["single", 1],
        ["none", 0],
    ] as [BosPolicy, number][])("bos: %s leaves %d leading BOS tokens", async (bos, count) => {
        const m = await RewardModel.load(tinyF32, { bos, contextSize: 256, parallel: 1 });
        try {
            const tokens = m.tokenizeConversation(messages);
            let lead = 0;
            while (tokens[lead] === BOS) lead++;
            expect(lead).toBe(count);
            expect(tokens[lead]).toBe(128006); // <|start_header_id|>
            expect(tokens.at(-1)).toBe(128009); // <|eot_id|>
            // the BOS policy changes what is scored
            const reward = await m.score(messages);
            const text = await m.scoreText(m.render(messages));
            expect(Math.abs(reward - text)).toBeLessThan(1e-6);
        } finally {
            await m.dispose();
        }
    });

    it("the BOS policies give different rewards", async () => {
        const rewards: number[] = [];
        for (const bos of ["hf", "single", "none"] as BosPolicy[]) {
            const m = await RewardModel.load(tinyF32, { bos, contextSize: 256, parallel: 1 });
            rewards.push(await m.score(messages));
            await m.dispose();
        }
        expect(new Set(rewards.map((r) => r.toFixed(5))).size).toBe(3);
    });

    it("scoreTokens scores exactly the given ids", async () => {
        const tokens = model.tokenizeConversation(messages);
        expect(Math.abs((await model.scoreTokens(tokens)) - (await model.score(messages)))).toBeLessThan(1e-6);
    });
});
