/**
 * The public Llama-3 reward-model families (docs/families.md): for each, a
 * test checkpoint with the family's config.json and tokenizer_config.json
 * fields, chat template included, and random weights under its tensor names
 * (test/support/hf-families.ts) is converted, checked for what sets the
 * family apart (GRM's [PAD] row, FsfairX without BOS, Llama-3.1 and 3.2 RoPE
 * scaling, Llama-3.2's tied embeddings, the dates of the 3.1/3.2 templates)
 * and scored with the family's BOS policy against the float64 transformers
 * reference. The LlamaForCausalLM families are converted with their documented
 * `llama-reward convert --head-from-lm-head` command (the compiled CLI: `npm
 * run build:ts` first): Nemotron's reward is the reference's logit of token 0
 * at the last token; RLHFlow's PRM gives, in one pass, each step's P("+") of
 * the reference softmax at each prefix conversation's logits[-3], at the
 * positions of the template rendered by hand with the pinned date. ArmoRM,
 * the gated family, is tested in multi-objective.test.ts.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, convert } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { readTensorAsFloat64 } from "../src/gguf/gguf-tensor-reader.js";
import type { GgufHeader } from "../src/gguf/gguf-types.js";
import { stepConversation } from "../src/model/step-scores.js";
import { conversations, filler, requireFile, root } from "./support/fixtures.js";
import { loadVocab, makeWorkDir } from "./support/hf-fixtures.js";
import {
    referenceHeadWeights,
    rewardFamilies,
    writeFamilyCheckpoint,
    type FamilyCheckpoint,
    type RewardFamily,
} from "./support/hf-families.js";
import type { Llama3Vocab } from "./support/hf-tokenizer-json.js";
import { hfReferenceScores } from "./reference/hf-llama-reference.js";

const work = makeWorkDir("families");
// not the Llama-3.1 template's own default (26 Jul 2024), so a date that did not reach the template shows
const pinned = { date_string: "14 Mar 2025" };
const cases = conversations.slice(0, 3);
let vocab: Llama3Vocab;

beforeAll(() => {
    vocab = loadVocab();
});

afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
});

const families = rewardFamilies().filter((f) => f.id !== "armorm-llama3-8b-v0.1");

/** What each family's converted file must show, beyond the common contract. */
function checkFamilyFile(family: RewardFamily, header: GgufHeader, file: string): void {
    const m = header.metadata;
    const names = header.tensors.map((t) => t.name);
    expect(m.get("general.name")).toBe(path.basename(family.repo)); // convert names a file after _name_or_path
    expect(m.get("llama.classifier.output_labels")).toEqual(family.labels);
    expect(m.get("llama_reward.head.lm_head_tokens")).toEqual(family.lmHeadTokens);
    expect(names).not.toContain("output.weight");
    expect(m.get("tokenizer.chat_template")).toBe(family.tokenizerConfig.chat_template);
    const rope = family.config.rope_scaling as { factor: number } | null;
    if (rope === null) {
        expect(names).not.toContain("rope_freqs.weight");
    } else {
        const factors = readTensorAsFloat64(file, header, "rope_freqs.weight");
        expect(Math.max(...factors)).toBe(rope.factor);
        expect(factors[0]).toBe(1);
    }
    if (family.config.head_dim !== undefined) expect(m.get("llama.attention.key_length")).toBe(family.config.head_dim);
    expect(m.get("llama.vocab_size")).toBe(family.config.vocab_size);
    if (family.extraTokens.length > 0) {
        expect((m.get("tokenizer.ggml.tokens") as string[])[128256]).toBe("[PAD]");
        expect(m.get("tokenizer.ggml.padding_token_id")).toBe(128256);
    }
}

describe.each(families.map((f) => [f.repo, f] as const))("%s", (_repo, family) => {
    let checkpoint: FamilyCheckpoint;
    let model: RewardModel;
    const out = path.join(work, `${family.id}.gguf`);

    beforeAll(async () => {
        checkpoint = writeFamilyCheckpoint(family, work, vocab, 0xfa + family.id.length);
        if (family.convertFlags.length === 0) {
            const result = await convert(checkpoint.dir, out, { outType: "f32" });
            expect(result.skipped).toEqual([]);
        } else {
            // the documented command, F32 for the comparison
            const cli = requireFile(path.join(root, "dist", "src", "cli", "main.js"));
            const args = [cli, "convert", checkpoint.dir, "-o", out, "--outtype", "f32", ...family.convertFlags];
            const run = spawnSync(process.execPath, args, { encoding: "utf8" });
            expect(run.status, run.stderr).toBe(0);
            expect(run.stderr).toContain(`labels ${JSON.stringify(family.labels)}`);
        }
        fs.rmSync(checkpoint.dir, { recursive: true, force: true, maxRetries: 0 }); // the weights stay in memory for the reference
        model = await RewardModel.load(out, {
            bos: family.bos,
            templateVariables: pinned,
            flashAttention: false,
            kvCacheType: "f32",
            contextSize: 1024,
            parallel: 2,
        });
    });

    afterAll(async () => {
        await model?.dispose();
        fs.rmSync(out, { force: true });
    });

    it("converts with the family's vocabulary, RoPE scaling, head size, template and no LM head", () => {
        checkFamilyFile(family, readGgufHeader(out), out);
    });

    it("tokenizes with the family's BOS policy", () => {
        const tokens = model.tokenizeConversation(cases[0]!);
        const leadingBos = tokens.findIndex((t) => t !== 128000);
        expect(leadingBos).toBe({ hf: 2, single: 1, none: 0 }[family.bos]);
        const text = model.render(cases[0]!);
        if (/Today Date/.test(String(family.tokenizerConfig.chat_template))) expect(text).toContain("Today Date: 14 Mar 2025\n");
    });

    if (family.convertFlags.includes("--step-format")) {
        it("scores each step in one pass as the reference does per prefix, at the steps of the template rendered by hand", async () => {
            await checkGenerativePrm(model, checkpoint);
        });
        return;
    }

    it("scores within 1e-4 of the float64 transformers reference", async () => {
        const got = await model.scoreBatch(cases);
        const weights = referenceHeadWeights(checkpoint);
        const want = cases.map((c) => hfReferenceScores(family.config, weights, model.tokenizeConversation(c))[0]!);
        const err = Math.max(...got.map((g, i) => Math.abs(g - want[i]!)));
        console.log(`[families] ${family.repo}: max |Δ| = ${err.toExponential(3)} over ${cases.length} conversations`);
        expect(err).toBeLessThanOrEqual(1e-4);
        expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(1e-3);
    });
});

const softmax = (v: readonly number[]): number[] => {
    const top = Math.max(...v);
    const e = v.map((x) => Math.exp(x - top));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / sum);
};

/** Meta's Llama-3.1 template rendering RLHFlow's step conversation (steps as user turns, "+" answers), written out. */
function llama31StepsByHand(question: string, steps: readonly string[], date: string): string {
    const turn = (role: string, content: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n${content}<|eot_id|>`;
    const system = turn("system", `Cutting Knowledge Date: December 2023\nToday Date: ${date}\n\n`);
    return `<|begin_of_text|>${system}${steps.map((step, k) => turn("user", k === 0 ? `${question} ${step}` : step) + turn("assistant", "+")).join("")}`;
}

/**
 * RLHFlow's reference code renders each prefix conversation (steps 1..k) and reads the softmax over the
 * "+" and "-" logits at logits[-3] (the token before the answer "+"); scoreSteps reads every step in one
 * pass of the whole conversation. Both must agree with the float64 reference, at the positions of the
 * template rendered by hand with the pinned date (the date reaches the generation-prompt rendering too).
 */
async function checkGenerativePrm(model: RewardModel, checkpoint: FamilyCheckpoint): Promise<void> {
    const [plus, minus] = checkpoint.family.lmHeadTokens!;
    expect(model.info.steps).toMatchObject({ lmHeadTokens: [plus, minus], format: "assistant-turns", aggregate: "min" });
    const question = "Janet has 3 apples and buys 4 more. How many apples does she have?";
    const steps = Array.from({ length: 5 }, (_, k) => `Step ${k + 1}: ${filler(6 + 2 * k, 60 + k)}`);
    const result = await model.scoreSteps({ question, steps });

    const hand = model.tokenize(llama31StepsByHand(question, steps, pinned.date_string), { special: true, addSpecial: false });
    const assistantHeader = [128006, 78191, 128007, 271];
    const handPositions = hand.flatMap((_, i) => (assistantHeader.every((t, j) => hand[i - 3 + j] === t) ? [i] : []));
    expect(handPositions).toHaveLength(steps.length);
    for (const at of handPositions) expect(hand[at + 1]).toBe(plus);
    expect(model.tokenizeConversation(stepConversation({ question, steps }))).toEqual(hand);
    expect(result.steps.map((s) => s.position)).toEqual(handPositions);
    const byHand = (await model.scoreTokensAt(hand, handPositions)).map((v) => softmax(v)[0]!);

    const weights = referenceHeadWeights(checkpoint);
    const expected = steps.map((_, k) => {
        const prefix = model.tokenizeConversation(stepConversation({ question, steps: steps.slice(0, k + 1) }));
        const at = prefix.length - 3; // logits[-3]
        expect(prefix).toEqual(hand.slice(0, handPositions[k]! + 3));
        return softmax(hfReferenceScores(checkpoint.family.config, weights, prefix.slice(0, at + 1)))[0]!;
    });
    const got = result.steps.map((s) => s.score);
    const vsReference = Math.max(...got.map((g, k) => Math.abs(g - expected[k]!)));
    const vsHand = Math.max(...got.map((g, k) => Math.abs(g - byHand[k]!)));
    console.log(
        `[families] ${checkpoint.family.repo}: max |Δ P(+)| = ${vsReference.toExponential(3)} vs the per-prefix reference ` +
            `over ${steps.length} steps, ${vsHand.toExponential(3)} vs the hand-rendered tokens`,
    );
    expect(vsReference).toBeLessThanOrEqual(1e-4);
    expect(vsHand).toBeLessThanOrEqual(1e-6);
    expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-3);
    for (const s of result.steps) expect(s.values[0]! + s.values[1]!).toBeCloseTo(1, 12);
    expect(result.score).toBe(Math.min(...got));
}
