/**
 * The head read at several tokens of one sequence in one pass (scoreTokensAt)
 * and process rewards (scoreSteps), against the independent float64
 * references (test/reference) and against scoring each prefix on its own:
 * - step-tag steps on the F32 tiny model, across decode chunks and batched
 *   with other work;
 * - a generative PRM in the RLHFlow format: a tiny random LlamaForCausalLM
 *   converted with its "+" and "-" LM-head rows as the head, each step's
 *   P("+") equal to the Hugging Face-layout reference's softmax over those
 *   two logits at position -3 of the conversation up to that step;
 * - the tied-embeddings case of `--head-from-lm-head`, the `convert`
 *   command's flags, and the bad inputs (no step tag, a tag of several
 *   tokens, a token not in the vocabulary), after which the model still
 *   scores; an isolated model (`isolate: true`) gives the same steps.
 * The CLI test runs the compiled CLI (`npm run build:ts` first).
 * Random weights: the values mean nothing.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadedAddon } from "../src/addon/load-addon.js";
import { RewardModel, convert, type ChatMessage, type LoadOptions } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { readTensorAsFloat64 } from "../src/gguf/gguf-tensor-reader.js";
import { stepConversation } from "../src/model/step-scores.js";
import { hfReferenceScores } from "./reference/hf-llama-reference.js";
import { loadReferenceModel, referenceRewardsAt, type ReferenceModel } from "./reference/llama-reference.js";
import { filler, requireFile, root, tinyF32 } from "./support/fixtures.js";
import { writeCausalLmCheckpoint } from "./support/hf-causal-lm.js";
import { loadVocab, makeWorkDir, writeLlama3Checkpoint } from "./support/hf-fixtures.js";

// exact settings (no flash attention, f32 KV); one thread: the tests share a small machine
const exact: LoadOptions = { flashAttention: false, kvCacheType: "f32", batchSize: 256, threads: 1, parallel: 4 };
const TAG = "<|reserved_special_token_0|>";
const TAG_ID = 128002;

function maxAbsDiff(a: readonly number[][], b: readonly number[][]): number {
    expect(a.length).toBe(b.length);
    let m = 0;
    a.forEach((row, i) => {
        expect(row.length).toBe(b[i]!.length);
        row.forEach((v, j) => {
            m = Math.max(m, Math.abs(v - b[i]![j]!));
        });
    });
    return m;
}

const softmax = (v: readonly number[]) => {
    const max = Math.max(...v);
    const e = v.map((x) => Math.exp(x - max));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
};

/** A solution whose steps end with the step tag, long enough to span several 256-token decodes. */
function taggedSolution(steps: number, wordsPerStep: number): ChatMessage[] {
    const body = Array.from({ length: steps }, (_, k) => `Step ${k + 1}: ${filler(wordsPerStep, 20 + k)} ${TAG}`).join("\n");
    return [
        { role: "user", content: "Solve the problem step by step." },
        { role: "assistant", content: body },
    ];
}

describe("the head at marked tokens and step-tag steps (F32 tiny model)", () => {
    let reference: ReferenceModel;
    let model: RewardModel;

    beforeAll(async () => {
        requireFile(tinyF32);
        reference = loadReferenceModel(tinyF32);
        model = await RewardModel.load(tinyF32, exact);
    });

    afterAll(async () => {
        await model?.dispose();
    });

    it("scoreTokensAt equals the reference at each position and scoring each prefix alone (≤ 1e-4)", async () => {
        const tokens = model.tokenizeConversation(taggedSolution(6, 90));
        expect(tokens.length).toBeGreaterThan(512); // three decode steps of 256
        const positions = [0, 5, 255, 256, 300, 511, tokens.length - 1];
        const [onePass] = await Promise.all([
            model.scoreTokensAt(tokens, positions),
            model.scoreBatch([[{ role: "user", content: filler(200, 5) }]]), // batched with other work
        ]);
        const expected = referenceRewardsAt(reference, tokens, positions);
        const prefixes = await model.scoreTokenBatch(positions.map((p) => tokens.slice(0, p + 1)));
        const vsReference = maxAbsDiff(onePass, expected);
        const vsPrefixes = maxAbsDiff(onePass, prefixes);
        console.log(
            `[steps] scoreTokensAt: max |Δ| ${vsReference.toExponential(3)} vs reference, ${vsPrefixes.toExponential(3)} vs prefixes`,
        );
        expect(vsReference).toBeLessThanOrEqual(1e-4);
        expect(vsPrefixes).toBeLessThanOrEqual(1e-4);
        // the head is read at different tokens, not one value repeated
        expect(new Set(onePass.map((v) => v[0]!.toFixed(6))).size).toBe(positions.length);
        // the last position is score()'s value
        expect(Math.abs(onePass.at(-1)![0]! - (await model.scoreTokens(tokens)))).toBeLessThanOrEqual(1e-4);
    });

    it("scoreSteps reads the head at every step tag, in one pass (tag as text or id; activations)", async () => {
        const messages = taggedSolution(20, 12);
        const tokens = model.tokenizeConversation(messages);
        const positions = tokens.flatMap((t, i) => (t === TAG_ID ? [i] : []));
        expect(positions).toHaveLength(20);
        const stepsBefore = model.stats.steps;
        const raw = await model.scoreSteps(messages, { stepTag: TAG, activation: "none" });
        expect(model.stats.steps - stepsBefore).toBe(Math.ceil(tokens.length / 256)); // one pass, in 256-token decodes
        expect(raw.format).toBe("step-tag");
        expect(raw.steps.map((s) => s.position)).toEqual(positions);
        const expected = referenceRewardsAt(reference, tokens, positions);
        const err = maxAbsDiff(
            raw.steps.map((s) => s.values),
            expected,
        );
        console.log(`[steps] step-tag steps: max |Δ| = ${err.toExponential(3)} over ${positions.length} steps`);
        expect(err).toBeLessThanOrEqual(1e-4);

        const sigmoid = await model.scoreSteps(messages, { stepTag: TAG_ID, activation: "sigmoid", aggregate: "mean" });
        const scores = expected.map((v) => 1 / (1 + Math.exp(-v[0]!)));
        sigmoid.steps.forEach((s, k) => expect(Math.abs(s.score - scores[k]!)).toBeLessThanOrEqual(1e-5));
        const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
        expect(Math.abs(sigmoid.aggregates.mean - mean)).toBeLessThanOrEqual(1e-5);
        expect(Math.abs(sigmoid.aggregates.min - Math.min(...scores))).toBeLessThanOrEqual(1e-5);
        expect(Math.abs(sigmoid.aggregates.last - scores.at(-1)!)).toBeLessThanOrEqual(1e-5);
        expect(sigmoid.score).toBe(sigmoid.aggregates.mean);
    });

    it("the addon refuses marked rows llama.cpp would misread, before decoding", async () => {
        const { addon } = loadedAddon();
        const native = await addon.loadModel(tinyF32, { gpuLayers: 0, useMmap: true, devices: [] }, new Int32Array(1));
        try {
            const options = {
                contextSize: 256,
                batchSize: 64,
                parallel: 2,
                threads: 1,
                flashAttention: "off",
                kvCacheType: "f32",
            } as const;
            const step = (rows: number[]) => ({
                remove: new Int32Array(0),
                copies: new Int32Array(0),
                tokens: Int32Array.of(1, 2, 3),
                seqIds: Int32Array.of(0, 0, 0),
                positions: Int32Array.of(0, 1, 2),
                outputs: Int32Array.of(0),
                rows: Int32Array.from(rows),
            });
            const rank = await native.createContext(options);
            expect(rank.info().rowSize).toBe(reference.nEmbd);
            for (const rows of [[3], [-1], [1, 1]]) {
                expect(() => rank.decode(step(rows))).toThrow(expect.objectContaining({ code: "ERR_INVALID_TOKENS" }));
            }
            const values = await rank.decode(step([0, 2])); // still usable: one label, then two hidden states
            expect(values).toHaveLength(1 + 2 * reference.nEmbd);
            // the last token's hidden state times the head is the pooled value of the same step
            let dot = 0;
            for (let i = 0; i < reference.nEmbd; i++) dot += reference.clsWeight[i]! * values[1 + reference.nEmbd + i]!;
            expect(Math.abs(dot - values[0]!)).toBeLessThanOrEqual(1e-4);
            rank.dispose();
            const last = await native.createContext({ ...options, pooling: "last" });
            expect(last.info().rowSize).toBe(0);
            expect(() => last.decode(step([0]))).toThrow(expect.objectContaining({ code: "ERR_INVALID_OPTION" }));
            last.dispose();
        } finally {
            native.dispose();
        }
    });

    it("an isolated model gives the same steps and marked values", async () => {
        const isolated = await RewardModel.load(tinyF32, { ...exact, isolate: true });
        try {
            const messages = taggedSolution(4, 10);
            expect(await isolated.scoreSteps(messages, { stepTag: TAG })).toEqual(await model.scoreSteps(messages, { stepTag: TAG }));
            const tokens = model.tokenizeConversation(messages);
            expect(await isolated.scoreTokensAt(tokens, [3, 9])).toEqual(await model.scoreTokensAt(tokens, [3, 9]));
            await expect(isolated.scoreSteps(messages, { stepTag: "two words" })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        } finally {
            await isolated.dispose();
        }
    }, 120_000);

    it("bad input is a coded error naming what is wrong, and the model still scores", async () => {
        const before = await model.score(taggedSolution(2, 5));
        await expect(model.scoreSteps([{ role: "user", content: "no tags here" }], { stepTag: TAG })).rejects.toMatchObject({
            code: "ERR_INVALID_MESSAGES",
            message: expect.stringContaining(TAG),
        });
        await expect(model.scoreSteps(taggedSolution(2, 5), { stepTag: "two words" })).rejects.toMatchObject({
            code: "ERR_INVALID_OPTION",
            message: expect.stringContaining("not one"),
        });
        await expect(model.scoreSteps(taggedSolution(2, 5), { stepTag: 1 << 30 })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        await expect(model.scoreSteps(taggedSolution(2, 5))).rejects.toMatchObject({
            code: "ERR_INVALID_OPTION",
            message: expect.stringContaining("stepTag"),
        });
        await expect(model.scoreSteps({ question: "q", steps: ["a"] }, { stepTag: TAG })).rejects.toMatchObject({
            code: "ERR_INVALID_MESSAGES",
        });
        await expect(model.scoreSteps(taggedSolution(2, 5), { stepTag: TAG, scoreLabel: 5 })).rejects.toMatchObject({
            code: "ERR_INVALID_OPTION",
        });
        await expect(model.scoreTokensAt([1, 2, 3], [2, 1])).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        await expect(model.scoreTokensAt([1, 2, 3], [3])).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        expect(await model.score(taggedSolution(2, 5))).toBe(before);
    });
});

describe("a generative PRM from LM-head rows (RLHFlow format)", () => {
    let work: string;
    let hf: ReturnType<typeof writeCausalLmCheckpoint>;
    let gguf: string;
    let model: RewardModel;
    const question = "Janet has 3 apples and buys 4 more. How many apples does she have?";
    const steps = Array.from({ length: 6 }, (_, k) => `Step ${k + 1}: ${filler(8 + 3 * k, 40 + k)}`);

    beforeAll(async () => {
        work = makeWorkDir("lm-head");
        const base = writeLlama3Checkpoint(work, loadVocab());
        hf = writeCausalLmCheckpoint(base, path.join(work, "causal"), { tied: false, dtype: "BF16" });
        gguf = path.join(work, "prm.gguf");
        const result = await convert(hf.dir, gguf, {
            outType: "f32",
            headFromLmHead: ["+", "-"],
            steps: { format: "assistant-turns", activation: "softmax", scoreLabel: 0, aggregate: "min" },
        });
        expect(result.labels).toEqual(["+", "-"]);
        expect(result.skipped).toContain("lm_head.weight");
        // RLHFlow's reference code tokenizes with apply_chat_template: one BOS
        model = await RewardModel.load(gguf, { ...exact, bos: "single" });
    }, 300_000);

    afterAll(async () => {
        await model?.dispose();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("the file holds the two LM-head rows as its head and the step settings, and no LM head", () => {
        const header = readGgufHeader(gguf);
        expect(header.tensors.some((t) => t.name === "output.weight")).toBe(false);
        const plus = model.tokenize("+", { special: false });
        const minus = model.tokenize("-", { special: false });
        expect(plus).toHaveLength(1);
        expect(model.info.steps).toEqual({
            lmHeadTokens: [plus[0], minus[0]],
            format: "assistant-turns",
            activation: "softmax",
            scoreLabel: 0,
            aggregate: "min",
        });
        const head = readTensorAsFloat64(gguf, header, "cls.output.weight");
        const lm = hf.weights.get("lm_head.weight")!;
        const hidden = hf.config.hidden_size;
        [plus[0]!, minus[0]!].forEach((id, row) => {
            for (let i = 0; i < hidden; i++) expect(head[row * hidden + i]).toBe(lm[id * hidden + i]);
        });
    });

    it("one pass gives each step's P(+) of the per-step reference way (logits[-3] of each prefix conversation)", async () => {
        const stepsBefore = model.stats.steps;
        const result = await model.scoreSteps({ question, steps });
        const onePassSteps = model.stats.steps - stepsBefore;
        expect(result.steps).toHaveLength(steps.length);
        expect(result.labels).toEqual(["+", "-"]);
        const rows = hf.weights.get("lm_head.weight")!;
        const hidden = hf.config.hidden_size;
        const ids = model.info.steps.lmHeadTokens!;
        const candidates = new Float32Array(2 * hidden);
        ids.forEach((id, r) => candidates.set(rows.subarray(id * hidden, (id + 1) * hidden), r * hidden));
        const lmWeights = new Map([...hf.weights, ["score.weight", candidates]]);
        const perPrefix: number[][] = [];
        const expected: number[] = [];
        for (let k = 1; k <= steps.length; k++) {
            const tokens = model.tokenizeConversation(stepConversation({ question, steps: steps.slice(0, k) }));
            const at = tokens.length - 3; // the token before the assistant's "+", as RLHFlow's code reads it
            expect(result.steps[k - 1]!.position).toBe(at);
            expect(tokens[at + 1]).toBe(ids[0]);
            expected.push(softmax(hfReferenceScores(hf.config, lmWeights, tokens.slice(0, at + 1)))[0]!);
            perPrefix.push(tokens.slice(0, at + 1));
        }
        const separately = (await model.scoreTokenBatch(perPrefix)).map((v) => softmax(v)[0]!);
        const vsReference = Math.max(...result.steps.map((s, k) => Math.abs(s.score - expected[k]!)));
        const vsSeparately = Math.max(...result.steps.map((s, k) => Math.abs(s.score - separately[k]!)));
        console.log(
            `[steps] generative PRM: max |Δ P(+)| ${vsReference.toExponential(3)} vs HF reference, ` +
                `${vsSeparately.toExponential(3)} vs each prefix scored alone; one pass = ${onePassSteps} decode(s)`,
        );
        expect(vsReference).toBeLessThanOrEqual(1e-4);
        expect(vsSeparately).toBeLessThanOrEqual(1e-4);
        expect(onePassSteps).toBe(1);
        for (const s of result.steps) expect(Math.abs(s.values[0]! + s.values[1]! - 1)).toBeLessThanOrEqual(1e-12);
        expect(result.aggregate).toBe("min");
        expect(result.score).toBe(Math.min(...result.steps.map((s) => s.score)));
        // the same conversation given as messages reads the same steps
        const asMessages = await model.scoreSteps(stepConversation({ question, steps }));
        expect(asMessages.steps.map((s) => s.score)).toEqual(result.steps.map((s) => s.score));
    });

    it("a conversation without an assistant answer is ERR_INVALID_MESSAGES; the model still scores", async () => {
        await expect(model.scoreSteps([{ role: "user", content: question }])).rejects.toMatchObject({ code: "ERR_INVALID_MESSAGES" });
        await expect(model.scoreSteps({ question, steps: [] })).rejects.toMatchObject({ code: "ERR_INVALID_MESSAGES" });
        await expect(model.scoreSteps({ question, steps }, { stepTag: "+" })).rejects.toMatchObject({ code: "ERR_INVALID_MESSAGES" });
        // the same conversation read at its "+" tokens instead (a step-tag reading of it)
        const atPlus = await model.scoreSteps(stepConversation({ question, steps }), { stepTag: "+" });
        expect(atPlus.format).toBe("step-tag");
        expect(atPlus.steps.length).toBeGreaterThanOrEqual(steps.length);
        expect((await model.scoreSteps({ question, steps: steps.slice(0, 1) })).steps).toHaveLength(1);
    });

    it("the convert command writes the head from LM-head rows and the --step-* settings", () => {
        const out = path.join(work, "cli.gguf");
        const cli = requireFile(path.join(root, "dist", "src", "cli", "main.js"));
        const run = (...args: string[]) => spawnSync(process.execPath, [cli, "convert", hf.dir, "-o", out, ...args], { encoding: "utf8" });
        const ok = run("--outtype", "f16", "--head-from-lm-head", "+,12", "--step-tag", "128002", "--step-activation", "sigmoid");
        expect(ok.status, ok.stderr).toBe(0);
        expect(ok.stderr).toContain('labels ["+","-"]');
        const header = readGgufHeader(out);
        expect(header.metadata.get("llama_reward.head.lm_head_tokens")).toEqual(model.info.steps.lmHeadTokens);
        expect(header.metadata.get("llama_reward.steps.format")).toBe("step-tag");
        expect(header.metadata.get("llama_reward.steps.tag_id")).toBe(128002);
        expect(header.metadata.get("llama_reward.steps.activation")).toBe("sigmoid");
        const bad = run("--head-from-lm-head", "+,not a token");
        expect(bad.status).toBe(2);
        expect(bad.stderr).toContain("ERR_INVALID_OPTION");
        expect(bad.stderr).toContain('"not a token"');
        const badFormat = run("--head-from-lm-head", "+", "--step-format", "everywhere");
        expect(badFormat.status).toBe(2);
        expect(badFormat.stderr).toContain("steps.format");
    }, 300_000);

    it("tied embeddings give embed_tokens rows; a token outside the vocabulary is ERR_INVALID_OPTION naming it", async () => {
        const base = writeLlama3Checkpoint(path.join(work, "tied-base"), loadVocab());
        const tied = writeCausalLmCheckpoint(base, path.join(work, "tied"), { tied: true, dtype: "BF16" });
        const out = path.join(work, "tied.gguf");
        const result = await convert(tied.dir, out, { outType: "f32", headFromLmHead: [15, "+"] });
        expect(result.labels).toEqual([expect.any(String), "+"]);
        const header = readGgufHeader(out);
        const head = readTensorAsFloat64(out, header, "cls.output.weight");
        const embed = tied.weights.get("model.embed_tokens.weight")!;
        const hidden = tied.config.hidden_size;
        for (let i = 0; i < hidden; i++) expect(head[i]).toBe(embed[15 * hidden + i]);
        for (const bad of [["not one token at all"], [10_000_000], ["+", "+"]]) {
            await expect(convert(tied.dir, path.join(work, "bad.gguf"), { headFromLmHead: bad })).rejects.toMatchObject({
                code: "ERR_INVALID_OPTION",
                message: expect.stringContaining(String(bad[0]).slice(0, 8)),
            });
        }
        expect(fs.existsSync(path.join(work, "bad.gguf"))).toBe(false);
        // a sequence classifier has no LM head to take rows from
        await expect(convert(base.dir, path.join(work, "bad.gguf"), { headFromLmHead: ["+"] })).rejects.toMatchObject({
            code: "ERR_CONVERT_FAILED",
        });
    }, 300_000);
});
