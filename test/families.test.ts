/**
 * The public Llama-3 reward-model families (docs/families.md): for each, a
 * test checkpoint with the family's config.json and tokenizer_config.json
 * fields, chat template included, and random weights under its tensor names
 * (test/support/hf-families.ts) is converted, checked for what sets the
 * family apart (GRM's [PAD] row, FsfairX without BOS, Llama-3.1 and 3.2 RoPE
 * scaling, Llama-3.2's tied embeddings, the dates of the 3.1/3.2 templates)
 * and scored with the family's BOS policy against the float64 transformers
 * reference. ArmoRM, the gated family, is tested in multi-objective.test.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, convert } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { readTensorAsFloat64 } from "../src/gguf/gguf-tensor-reader.js";
import type { GgufHeader } from "../src/gguf/gguf-types.js";
import { conversations } from "./support/fixtures.js";
import { loadVocab, makeWorkDir } from "./support/hf-fixtures.js";
import { rewardFamilies, writeFamilyCheckpoint, type FamilyCheckpoint, type RewardFamily } from "./support/hf-families.js";
import type { Llama3Vocab } from "./support/hf-tokenizer-json.js";
import { hfReferenceScores } from "./reference/hf-llama-reference.js";

const work = makeWorkDir("families");
const pinned = { date_string: "26 Jul 2024" };
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
    expect(m.get("llama.classifier.output_labels")).toEqual(["LABEL_0"]);
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
        const result = await convert(checkpoint.dir, out, { outType: "f32" });
        expect(result.skipped).toEqual([]);
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
        if (/Today Date/.test(String(family.tokenizerConfig.chat_template))) expect(text).toContain("Today Date: 26 Jul 2024\n");
    });

    it("scores within 1e-4 of the float64 transformers reference", async () => {
        const got = await model.scoreBatch(cases);
        const want = cases.map((c) => hfReferenceScores(family.config, checkpoint.weights, model.tokenizeConversation(c))[0]!);
        const err = Math.max(...got.map((g, i) => Math.abs(g - want[i]!)));
        console.log(`[families] ${family.repo}: max |Δ| = ${err.toExponential(3)} over ${cases.length} conversations`);
        expect(err).toBeLessThanOrEqual(1e-4);
        expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(1e-3);
    });
});
