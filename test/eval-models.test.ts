/**
 * Evaluation end to end on the tiny model (random weights: the rewards mean
 * nothing, only the pipeline is tested): F32 against its Q8_0 and Q4_K_M
 * quantizations on a synthetic RewardBench-shaped file, per-pair rewards
 * equal to score(), the quantization sweep, compare() and rank(), and the
 * `eval` and `compare` CLI commands.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RewardModel, evaluate, quantizationSweep, quantize, readPairs, type EvalReport, type PreferencePair } from "../src/index.js";
import { isRewardModelError } from "../src/errors.js";
import { ChatTemplate } from "../src/model/chat-template.js";
import { filler, requireFile, root, tinyF32 } from "./support/fixtures.js";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-eval-models-"));
const q8 = path.join(work, "tiny.Q8_0.gguf");
const q4 = path.join(work, "tiny.Q4_K_M.gguf");
const dataFile = path.join(work, "prefs.jsonl");
const cli = path.join(root, "dist", "src", "cli", "main.js");
const subsets = ["alpacaeval-easy", "llmbar-natural", "donotanswer", "hep-go", "my-subset"];

/** 30 pairs whose chosen and rejected answers share a prompt long enough to be decoded once. */
const rows = Array.from({ length: 30 }, (_, i) => ({
    id: `p${i}`,
    subset: subsets[i % subsets.length],
    prompt: `Question ${i}: ${filler(20 + (i % 4) * 10, 300 + i)}?`,
    chosen: filler(6 + (i % 5) * 4, 400 + i),
    rejected: filler(5 + (i % 3) * 7, 500 + i),
}));

let pairs: PreferencePair[];
let report: EvalReport;

beforeAll(async () => {
    requireFile(tinyF32);
    fs.writeFileSync(dataFile, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    await quantize(tinyF32, q8, "Q8_0", { threads: 2 });
    await quantize(tinyF32, q4, "Q4_K_M", { threads: 2 });
    pairs = (await readPairs(dataFile)).pairs;
    report = await evaluate([tinyF32, q8, q4], pairs, { data: { source: dataFile, format: "rewardbench" } });
});

afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
});

describe("evaluate", () => {
    it("reports each model with accuracy, subsets, RewardBench sections and speed", () => {
        expect(report.models.map((m) => [m.name, m.fileType, m.pairs])).toEqual([
            ["tiny-reward-f32", "F32", 30],
            ["tiny.Q8_0", "Q8_0", 30],
            ["tiny.Q4_K_M", "Q4_K_M", 30],
        ]);
        for (const m of report.models) {
            const correct = report.items.filter(
                (it) => it.chosen[report.models.indexOf(m)]! > it.rejected[report.models.indexOf(m)]!,
            ).length;
            expect(m.accuracy).toBeCloseTo(correct / 30, 12);
            expect(Object.keys(m.subsets).sort()).toEqual([...subsets].sort());
            expect(m.subsets["hep-go"]!.pairs).toBe(6);
            expect(Object.keys(m.sections!)).toEqual(["Chat", "Chat Hard", "Safety", "Reasoning"]);
            expect(m.sections!.Chat).toBeCloseTo(m.subsets["alpacaeval-easy"]!.accuracy, 12);
            expect(m.tokensPerSecond).toBeGreaterThan(0);
            expect(m.decodedTokens).toBeGreaterThan(0);
            // the shared prompts are decoded once per pair
            expect(m.decodedTokens).toBeLessThan(m.tokens);
        }
        expect(report.models[1]!.sizeBytes).toBeLessThan(report.models[0]!.sizeBytes);
        expect(report.models[2]!.sizeBytes).toBeLessThan(report.models[1]!.sizeBytes);
    });

    it("per-pair rewards equal score() of each conversation", async () => {
        for (const [k, file] of [tinyF32, q8, q4].entries()) {
            const model = await RewardModel.load(file);
            try {
                // score() calls on their own, no shared prompt: concurrent callers only batch the steps
                const chosen = await Promise.all(pairs.map((p) => model.score(p.chosen)));
                const rejected = await Promise.all(pairs.map((p) => model.score(p.rejected)));
                report.items.forEach((item, i) => {
                    expect(Math.abs(item.chosen[k]! - chosen[i]!)).toBeLessThan(1e-3);
                    expect(Math.abs(item.rejected[k]! - rejected[i]!)).toBeLessThan(1e-3);
                });
            } finally {
                await model.dispose();
            }
        }
        // the rewards differ between pairs, so an order mix-up would show
        expect(new Set(report.items.map((it) => it.chosen[0]!.toFixed(4))).size).toBeGreaterThan(25);
    }, 300_000);

    it("renders and tokenizes each conversation once, and scores exactly those tokens", async () => {
        const model = await RewardModel.load(tinyF32);
        const render = vi.spyOn(ChatTemplate.prototype, "render");
        const tokenize = vi.spyOn(model, "tokenizeConversation");
        try {
            const some = pairs.slice(0, 5);
            const one = await evaluate(model, some);
            expect(render).toHaveBeenCalledTimes(2 * some.length);
            expect(tokenize).toHaveBeenCalledTimes(2 * some.length);
            const counted = tokenize.mock.results.reduce((n, r) => n + (r.value as number[]).length, 0);
            expect(one.models[0]!.tokens).toBe(counted);
            expect(one.items.map((it) => it.chosen[0])).toEqual(report.items.slice(0, 5).map((it) => expect.closeTo(it.chosen[0]!, 3)));
        } finally {
            render.mockRestore();
            tokenize.mockRestore();
            await model.dispose();
        }
    });

    it("compares the quantized models with F32: Q8_0 moves the rewards less than Q4_K_M", () => {
        const [c8, c4] = report.comparisons;
        expect(c8!.model).toBe(1);
        expect(c4!.model).toBe(2);
        for (const c of [c8!, c4!]) {
            expect(c.pairAgreement).toBeCloseTo(1 - c.flips.length / 30, 12);
            expect(c.meanAbsDelta!).toBeGreaterThan(0);
            expect(c.pearson!).toBeGreaterThan(0.5);
            expect(c.accuracyDelta).toBeCloseTo(report.models[c.model]!.accuracy - report.models[0]!.accuracy, 12);
        }
        expect(c8!.meanAbsDelta!).toBeLessThan(c4!.meanAbsDelta!);
        expect(c8!.relativeL2!).toBeLessThan(0.05);
    });

    it("takes loaded models, names the pair of a conversation that does not fit", async () => {
        const model = await RewardModel.load(tinyF32, { contextSize: 256 });
        try {
            const one = await evaluate({ model, name: "loaded" }, pairs.slice(0, 4));
            expect(one.models[0]!.path).toBeNull();
            expect(one.items.map((it) => it.chosen[0])).toEqual(report.items.slice(0, 4).map((it) => expect.closeTo(it.chosen[0]!, 3)));
            expect(model.disposed).toBe(false);
            const long: PreferencePair = {
                ...pairs[0]!,
                rejected: [
                    { role: "user", content: filler(400, 9) },
                    { role: "assistant", content: "x" },
                ],
                line: 77,
            };
            const error = await evaluate(model, [pairs[1]!, long]).catch((e: unknown) => e);
            expect(isRewardModelError(error, "ERR_CONTEXT_OVERFLOW")).toBe(true);
            expect((error as Error).message).toMatch(/^pair 1 \(line 77\), rejected: /);
        } finally {
            await model.dispose();
        }
        const empty = await evaluate(tinyF32, []).catch((e: unknown) => e);
        expect(isRewardModelError(empty, "ERR_INVALID_DATA")).toBe(true);
    });

    it("quantizationSweep quantizes into a temporary directory, evaluates and removes it", async () => {
        const temp = path.join(work, "sweep-tmp");
        fs.mkdirSync(temp);
        const seen = new Set<string>();
        const sweep = await quantizationSweep(tinyF32, ["q8_0"], pairs.slice(0, 6), {
            tempDir: temp,
            onQuantize: (type) => seen.add(type),
        });
        expect([...seen]).toEqual(["Q8_0"]);
        expect(sweep.models.map((m) => [m.name, m.fileType, m.quantizedFrom])).toEqual([
            ["tiny-reward-f32", "F32", undefined],
            ["tiny-reward-f32.Q8_0", "Q8_0", tinyF32],
        ]);
        expect(sweep.models[1]!.path).toBeNull();
        sweep.items.forEach((it, i) => expect(it.chosen[1]).toBeCloseTo(report.items[i]!.chosen[1]!, 3));
        expect(fs.readdirSync(temp)).toEqual([]);
        const bad = await quantizationSweep(tinyF32, ["Q9_X"], pairs).catch((e: unknown) => e);
        expect(isRewardModelError(bad, "ERR_INVALID_OPTION")).toBe(true);
    });
});

describe("compare and rank", () => {
    let model: RewardModel;
    beforeAll(async () => {
        model = await RewardModel.load(tinyF32);
    });
    afterAll(async () => {
        await model?.dispose();
    });

    it("compare gives both rewards and sigmoid(rA - rB)", async () => {
        const { chosen, rejected } = pairs[3]!;
        const result = await model.compare(chosen, rejected);
        expect(result.rewardA).toBeCloseTo(await model.score(chosen), 3);
        expect(result.rewardB).toBeCloseTo(await model.score(rejected), 3);
        expect(result.probability).toBeCloseTo(1 / (1 + Math.exp(result.rewardB - result.rewardA)), 12);
        const swapped = await model.compare(rejected, chosen);
        expect(swapped.probability).toBeCloseTo(1 - result.probability, 4);
        const error = await model.compare(chosen, [] as never).catch((e: unknown) => e);
        expect(isRewardModelError(error, "ERR_INVALID_MESSAGES")).toBe(true);
        expect((error as Error).message).toContain("b is empty");
    });

    it("rank sorts responses by reward, best first, with their input index", async () => {
        const prompt = [{ role: "user", content: `Pick one: ${filler(30, 7)}` }];
        const responses = Array.from({ length: 6 }, (_, i) => filler(5 + i * 3, 700 + i));
        const ranked = await model.rank(prompt, responses);
        const rewards = await model.scoreResponses(prompt, responses);
        expect(ranked.map((r) => r.index).sort()).toEqual([0, 1, 2, 3, 4, 5]);
        for (const r of ranked) {
            expect(r.response).toBe(responses[r.index]);
            expect(r.reward).toBeCloseTo(rewards[r.index]!, 4);
        }
        for (let i = 1; i < ranked.length; i++) expect(ranked[i - 1]!.reward).toBeGreaterThanOrEqual(ranked[i]!.reward);
        expect(ranked[0]!.index).toBe(rewards.indexOf(Math.max(...rewards)));
    });
});

function runCli(args: string[]) {
    return spawnSync(process.execPath, [requireFile(cli), ...args], { encoding: "utf8", cwd: root });
}

describe("cli", () => {
    it("eval --quantize writes report.json, report.html, report.md and SVG plots; progress goes to stderr", () => {
        const out = path.join(work, "cli-report");
        const result = runCli(["eval", "--model", tinyF32, "--data", dataFile, "--quantize", "Q8_0,Q4_K_M", "--limit", "12", "--out", out]);
        expect(result.status, result.stderr).toBe(0);
        expect(result.stdout).toBe("");
        expect(result.stderr).toContain("tiny-reward-f32.Q4_K_M");
        const files = fs.readdirSync(out).sort();
        expect(files).toEqual([
            "accuracy.svg",
            "deltas-1.svg",
            "deltas-2.svg",
            "report.html",
            "report.json",
            "report.md",
            "scatter-1.svg",
            "scatter-2.svg",
        ]);
        const json = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8")) as EvalReport;
        expect(json.data).toEqual({ source: dataFile, format: "rewardbench", pairs: 12 });
        expect(json.models.map((m) => m.fileType)).toEqual(["F32", "Q8_0", "Q4_K_M"]);
        expect(json.items[0]!.chosen[0]).toBeCloseTo(report.items[0]!.chosen[0]!, 3);
        for (const f of files.filter((f) => f.endsWith(".svg"))) {
            expect(XMLValidator.validate(fs.readFileSync(path.join(out, f), "utf8")), f).toBe(true);
        }
        expect(fs.readFileSync(path.join(out, "scatter-2.svg"), "utf8").match(/<circle class="mark"/g)).toHaveLength(24);
        expect(fs.readFileSync(path.join(out, "report.md"), "utf8")).toContain("## Against tiny-reward-f32");
    });

    it("eval with two models writes --output JSON; bad data exits 1 naming the line", () => {
        const output = path.join(work, "two.json");
        const ok = runCli([
            "eval",
            "--model",
            tinyF32,
            "--model",
            q8,
            "--data",
            dataFile,
            "--limit",
            "4",
            "--output",
            output,
            "--parallel",
            "2",
        ]);
        expect(ok.status, ok.stderr).toBe(0);
        const json = JSON.parse(fs.readFileSync(output, "utf8")) as EvalReport;
        expect(json.comparisons).toHaveLength(1);
        expect(json.items).toHaveLength(4);
        const bad = path.join(work, "bad.jsonl");
        fs.writeFileSync(bad, `${JSON.stringify(rows[0])}\n${JSON.stringify({ ...rows[1], rejected: null })}\n`);
        const failed = runCli(["eval", "--model", tinyF32, "--data", bad]);
        expect(failed.status).toBe(1);
        expect(failed.stderr).toContain("line 2");
        expect(failed.stderr).toContain('"rejected" must be a string');
        expect(failed.stderr).toContain("[ERR_INVALID_DATA]");
        const noData = runCli(["eval", "--model", tinyF32]);
        expect(noData.status).toBe(2);
        expect(noData.stderr).toContain("--data");
        const twoReferences = runCli(["eval", "--model", tinyF32, "--model", q8, "--data", dataFile, "--quantize", "Q4_K_M"]);
        expect(twoReferences.status).toBe(2);
        expect(twoReferences.stderr).toContain("--quantize takes exactly one --model");
        const badFormat = runCli(["eval", "--model", tinyF32, "--data", dataFile, "--format", "csv"]);
        expect(badFormat.status).toBe(2);
        expect(badFormat.stderr).toContain("unknown data format");
    });

    it("compare prints both rewards and the preference probability", async () => {
        const a = path.join(work, "a.json");
        const b = path.join(work, "b.json");
        fs.writeFileSync(a, JSON.stringify(pairs[0]!.chosen));
        fs.writeFileSync(b, JSON.stringify({ messages: pairs[0]!.rejected }));
        const result = runCli(["compare", "--model", tinyF32, "--a", a, "--b", b]);
        expect(result.status, result.stderr).toBe(0);
        const out = JSON.parse(result.stdout) as { rewardA: number; rewardB: number; probability: number };
        expect(out.rewardA).toBeCloseTo(report.items[0]!.chosen[0]!, 3);
        expect(out.rewardB).toBeCloseTo(report.items[0]!.rejected[0]!, 3);
        expect(out.probability).toBeCloseTo(1 / (1 + Math.exp(out.rewardB - out.rewardA)), 6);
        const missing = runCli(["compare", "--model", tinyF32, "--a", a]);
        expect(missing.status).toBe(2);
        expect(missing.stderr).toContain("--b");
    });
});
