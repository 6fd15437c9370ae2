/**
 * Best-of-N evaluation on the tiny models: every completion's reward equals
 * what scoreResponses gives for its prompt, prompts are decoded once, the
 * subset scores follow from the rewards by RewardBench 2's rules, max-length
 * truncation keeps the first tokens and is counted, and two models give
 * drift figures.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseBestOfNLines } from "../src/eval/best-of-n-formats.js";
import { evaluateBestOfN } from "../src/eval/evaluate-best-of-n.js";
import { promptResult } from "../src/eval/rewardbench2.js";
import { RewardModel } from "../src/index.js";
import { rewardBench2Rows } from "./support/best-of-n-fixture.js";
import { requireFile, root, tinyF16, tinyF32 } from "./support/fixtures.js";

const cli = path.join(root, "dist", "src", "cli", "main.js");

function runCli(args: string[]) {
    return spawnSync(process.execPath, [requireFile(cli), ...args], { encoding: "utf8", cwd: root });
}

async function items() {
    return (await parseBestOfNLines(rewardBench2Rows().map((r) => JSON.stringify(r)))).items;
}

describe("evaluateBestOfN", () => {
    it("scores every completion as scoreResponses does, decodes each prompt once and scores subsets by RewardBench 2's rules", async () => {
        const list = await items();
        const model = await RewardModel.load(requireFile(tinyF32));
        try {
            const report = await evaluateBestOfN([{ model, name: "f32" }], list);
            for (const [i, item] of list.entries()) {
                const expected = await model.scoreResponses(item.prompt, item.responses);
                const got = report.items[i]!.rewards[0]!;
                for (let k = 0; k < expected.length; k++) expect(Math.abs(got[k]! - expected[k]!)).toBeLessThanOrEqual(1e-4);
            }
            const m = report.models[0]!;
            expect(m.decodedTokens).toBeLessThan(m.tokens);
            const math = list.flatMap((it, i) => (it.subset === "Math" ? [promptResult(report.items[i]!.rewards[0]!)] : []));
            expect(m.subsets.Math!.score).toBeCloseTo(math.reduce((a, b) => a + b, 0) / math.length, 12);
            expect(Object.keys(m.subsets).sort()).toEqual(["Factuality", "Focus", "Math", "Precise IF", "Safety", "Ties"]);
            expect(m.subsets.Ties!.ties?.refPrompts).toBe(3);
            expect(m.score).toBeCloseTo(Object.values(m.subsets).reduce((a, s) => a + s.score, 0) / 6, 12);
            expect(m.truncated).toBe(0);
        } finally {
            await model.dispose();
        }
    });

    it("keeps the first maxLength tokens of a longer conversation and counts the completions cut", async () => {
        const list = await items();
        const maxLength = 48;
        const model = await RewardModel.load(requireFile(tinyF32));
        try {
            let cut = 0;
            const expected: number[][] = [];
            for (const item of list) {
                const row: number[] = [];
                for (const content of item.responses) {
                    const full = model.tokenizeConversation([...item.prompt, { role: "assistant", content }]);
                    if (full.length > maxLength) cut++;
                    row.push(await model.scoreTokens(full.slice(0, maxLength)));
                }
                expected.push(row);
            }
            expect(cut).toBeGreaterThan(0);
            const report = await evaluateBestOfN([{ model, name: "f32" }], list, { maxLength });
            expect(report.models[0]!.truncated).toBe(cut);
            expect(report.data.maxLength).toBe(maxLength);
            report.items.forEach((it, i) => {
                it.rewards[0]!.forEach((r, k) => expect(Math.abs(r - expected[i]![k]!)).toBeLessThanOrEqual(1e-4));
            });
        } finally {
            await model.dispose();
        }
    });

    it("compares two models: top completion changes, Kendall's tau and subset deltas", async () => {
        const list = await items();
        const report = await evaluateBestOfN([requireFile(tinyF32), requireFile(tinyF16)], list);
        const c = report.comparisons[0]!;
        expect(c.kendallTau).not.toBeNull();
        expect(c.kendallTau!).toBeGreaterThan(0.5); // F16 of the same weights ranks nearly alike
        expect(c.topChanged).toBeGreaterThanOrEqual(0);
        expect(c.topChanged).toBeLessThanOrEqual(0.5);
        for (const [name, delta] of Object.entries(c.subsetDelta)) {
            expect(delta).toBeCloseTo(report.models[1]!.subsets[name]!.score - report.models[0]!.subsets[name]!.score, 12);
        }
    });

    it("rejects a max length the context cannot hold", async () => {
        const list = await items();
        const model = await RewardModel.load(requireFile(tinyF32), { contextSize: 64 });
        try {
            const maxLength = model.info.contextSize;
            await expect(evaluateBestOfN([{ model }], list, { maxLength })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        } finally {
            await model.dispose();
        }
    });

    it("llama-reward eval detects RewardBench 2 rows, truncates with --max-length and writes report.json and report.html", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-rb2-"));
        try {
            const data = path.join(dir, "rb2.jsonl");
            fs.writeFileSync(
                data,
                rewardBench2Rows()
                    .map((r) => JSON.stringify(r))
                    .join("\n"),
            );
            const out = path.join(dir, "out");
            const run = runCli(["eval", "-m", requireFile(tinyF32), "--data", data, "--max-length", "48", "--out", out]);
            expect(run.status, run.stderr).toBe(0);
            expect(run.stderr).toMatch(/prompts from .*\(rewardbench2\)/);
            const report = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8"));
            expect(report.kind).toBe("best-of-n");
            expect(report.data).toMatchObject({ format: "rewardbench2", prompts: rewardBench2Rows().length, maxLength: 48 });
            expect(report.models[0].truncated).toBeGreaterThan(0);
            const html = fs.readFileSync(path.join(out, "report.html"), "utf8");
            expect(html).toContain('id="report-data"');
            expect(fs.readdirSync(out).filter((f) => f.endsWith(".svg")).length).toBeGreaterThan(0);

            const pairs = path.join(dir, "pairs.jsonl");
            fs.writeFileSync(pairs, JSON.stringify({ prompt: "p", chosen: "a", rejected: "b" }));
            const bad = runCli(["eval", "-m", requireFile(tinyF32), "--data", pairs, "--max-length", "48"]);
            expect(bad.status).toBe(2);
            expect(bad.stderr).toMatch(/--max-length applies to best-of-N data/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
