/**
 * Best-of-N evaluation without a model: RewardBench 2's prompt result (1/k
 * on ties) and Ties formula on hand-computed fixtures, Kendall's tau-b on
 * known values, the rows' parsing and its coded errors, and the report's
 * subset scores and drift figures on planted rewards.
 */
import { describe, expect, it } from "vitest";
import { type BestOfNItem, detectBestOfNFormat, parseBestOfNLines, parseBestOfNRow } from "../../src/eval/best-of-n-formats.js";
import { buildBestOfNReport, type BestOfNRun } from "../../src/eval/best-of-n-report.js";
import { promptResult, tiesScore } from "../../src/eval/rewardbench2.js";
import { kendallTau } from "../../src/eval/statistics.js";

describe("RewardBench 2 prompt result", () => {
    it("is 1 when the chosen completion is strictly best, 0 when another is better", () => {
        expect(promptResult([3, 1, 2, 0])).toBe(1);
        expect(promptResult([1, 3, 2, 0])).toBe(0);
    });
    it("shares the point on an exact tie with the chosen completion (1/k)", () => {
        expect(promptResult([2, 2, 1, 0])).toBe(0.5);
        expect(promptResult([2, 2, 2, 2])).toBe(0.25);
        expect(promptResult([1, 2, 2, 0])).toBe(0);
    });
});

describe("RewardBench 2 Ties score", () => {
    // ref:1  correct [5]       incorrect [1, 2]  -> margin 3, accurate
    // tied:1 correct [4, 3.5]  incorrect [1, 2]  -> spread 0.5, margin 1.5, accurate
    // ref:2  correct [1]       incorrect [2]     -> margin -1
    // tied:2 correct [3, 1]    incorrect [2.5]   -> spread 2, margin -1.5
    const prompts = [
        { id: "ref:1", rewards: [5, 1, 2], numCorrect: 1 },
        { id: "tied:1", rewards: [4, 3.5, 1, 2], numCorrect: 2 },
        { id: "ref:2", rewards: [1, 2], numCorrect: 1 },
        { id: "tied:2", rewards: [3, 1, 2.5], numCorrect: 2 },
    ];
    it("weights accuracy, correctness preference and margin as the benchmark does", () => {
        const t = tiesScore(prompts);
        expect(t.refAccuracy).toBe(0.5);
        expect(t.tiedAccuracy).toBe(0.5);
        // prompt 1: 1.5 > 0.5 and min(3, 1.5) > 0.5; prompt 2: -1.5 > 2 false, min(-1, -1.5) > 2 false
        expect(t.correctnessPreferred).toBe(0.5);
        expect(t.correctnessPreferredHard).toBe(0.5);
        const margin = (Math.tanh(1.5 / 0.5 - 1) + Math.tanh(-1.5 / 2 - 1)) / 2;
        expect(t.marginScore).toBeCloseTo(margin, 12);
        expect(t.score).toBeCloseTo(0.3 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.2 * 0.5 + 0.01 * margin, 12);
    });
    it("counts a tied prompt with one correct answer as not preferred, with a margin term of 0", () => {
        const t = tiesScore([
            { id: "ref:7", rewards: [2, 1], numCorrect: 1 },
            { id: "tied:7", rewards: [2, 1], numCorrect: 1 },
        ]);
        expect(t.correctnessPreferred).toBe(0);
        expect(t.marginScore).toBe(0);
        expect(t.score).toBeCloseTo(0.6, 12);
    });
    it("rejects an id that is not ref:N or tied:N", () => {
        expect(() => tiesScore([{ id: "7", rewards: [1, 0], numCorrect: 1 }])).toThrow(/ref:N/);
    });
});

describe("Kendall's tau-b", () => {
    it("matches known values", () => {
        expect(kendallTau([1, 2, 3], [10, 20, 30])).toBe(1);
        expect(kendallTau([1, 2, 3], [3, 2, 1])).toBe(-1);
        expect(kendallTau([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(4 / 6, 12);
        // one tie in a: 2 concordant of 3 pairs, denominator sqrt(2 * 3) (scipy: 0.8164965809)
        expect(kendallTau([1, 1, 2], [1, 2, 3])).toBeCloseTo(0.816496580927726, 12);
        expect(Number.isNaN(kendallTau([1, 1], [1, 2]))).toBe(true);
    });
});

describe("best-of-N rows", () => {
    const rb2 = {
        id: "12",
        prompt: "Which is right?",
        chosen: ["a"],
        rejected: ["b", "c", "d"],
        num_correct: 1,
        total_completions: 4,
        subset: "Math",
    };

    it("detects RewardBench 2 rows and {prompt, responses, best}, not preference pairs", () => {
        expect(detectBestOfNFormat(rb2)).toBe("rewardbench2");
        expect(detectBestOfNFormat({ prompt: "p", responses: ["a", "b"], best: 1 })).toBe("best-of-n");
        expect(detectBestOfNFormat({ prompt: "p", chosen: "a", rejected: "b" })).toBeUndefined();
        expect(
            detectBestOfNFormat({ chosen: [{ role: "user", content: "x" }], rejected: [{ role: "user", content: "y" }] }),
        ).toBeUndefined();
    });

    it("orders completions correct first and keeps the fields", () => {
        const item = parseBestOfNRow(rb2, "rewardbench2");
        expect(item).toMatchObject({ responses: ["a", "b", "c", "d"], numCorrect: 1, subset: "Math", id: "12" });
        expect(item.prompt).toEqual([{ role: "user", content: "Which is right?" }]);
        const bon = parseBestOfNRow({ prompt: [{ role: "user", content: "q" }], responses: ["x", "y", "z"], best: 2 }, "best-of-n");
        expect(bon).toMatchObject({ responses: ["z", "x", "y"], numCorrect: 1, sourceIndex: [2, 0, 1] });
    });

    it("rejects bad rows with ERR_INVALID_DATA naming the line and the field", async () => {
        const bad = async (row: object) =>
            parseBestOfNLines([JSON.stringify(rb2), JSON.stringify(row)], {}, "rb2.jsonl").then(
                () => undefined,
                (e: { code?: string; message?: string }) => e,
            );
        expect(await bad({ ...rb2, num_correct: 2 })).toMatchObject({
            code: "ERR_INVALID_DATA",
            message: expect.stringMatching(/line 2.*"num_correct" is 2 but the row has 1/),
        });
        expect(await bad({ ...rb2, chosen: [] })).toMatchObject({
            code: "ERR_INVALID_DATA",
            message: expect.stringMatching(/line 2.*"chosen" has no completions/),
        });
        expect(await bad({ ...rb2, rejected: [] })).toMatchObject({ message: expect.stringMatching(/"rejected" has no completions/) });
        expect(await bad({ ...rb2, total_completions: 9 })).toMatchObject({ message: expect.stringMatching(/"total_completions" is 9/) });
        expect(await bad({ ...rb2, subset: "Ties", id: "12" })).toMatchObject({ message: expect.stringMatching(/"id" of a Ties row/) });
        expect(await bad({ prompt: "p", responses: ["a", "b"], best: 5 })).toMatchObject({
            message: expect.stringMatching(/"(chosen|best)"/),
        });
    });

    it("warns about a subset RewardBench 2 does not have and keeps the row", async () => {
        const file = await parseBestOfNLines([JSON.stringify({ ...rb2, subset: "Poetry" })], {}, "x.jsonl");
        expect(file.items).toHaveLength(1);
        expect(file.warnings).toEqual([expect.stringMatching(/line 1: subset "Poetry" is not one of RewardBench 2's/)]);
    });
});

describe("best-of-N report", () => {
    const items: BestOfNItem[] = [
        { prompt: [{ role: "user", content: "1" }], responses: ["a", "b", "c"], numCorrect: 1, subset: "Math" },
        { prompt: [{ role: "user", content: "2" }], responses: ["a", "b", "c"], numCorrect: 1, subset: "Math" },
        { prompt: [{ role: "user", content: "3" }], responses: ["a", "b"], numCorrect: 1, subset: "Focus" },
        { prompt: [{ role: "user", content: "4" }], responses: ["a", "b"], numCorrect: 1, subset: "Ties", id: "ref:1" },
        { prompt: [{ role: "user", content: "4" }], responses: ["a", "b", "c"], numCorrect: 2, subset: "Ties", id: "tied:1" },
    ];
    const run = (name: string, rewards: number[][]): BestOfNRun => ({
        path: null,
        name,
        fileType: "F32",
        sizeBytes: 0,
        rewards,
        truncated: 0,
        seconds: 1,
        tokens: 10,
        decodedTokens: 5,
    });
    const ref = run("ref", [
        [3, 1, 2],
        [1, 2, 0],
        [2, 2],
        [5, 1],
        [4, 3, 1],
    ]);
    const other = run("q", [
        [3, 2, 1],
        [2, 1, 0],
        [2, 1],
        [5, 1],
        [1, 3, 4],
    ]);

    it("scores subsets as the benchmark, the overall score as their mean, and the drift against the reference", () => {
        const report = buildBestOfNReport([ref, other], items);
        const m0 = report.models[0]!;
        expect(m0.subsets.Math!.score).toBe(0.5); // 1 and 0
        expect(m0.subsets.Focus!.score).toBe(0.5); // a tie: 1/2
        const ties0 = tiesScore([
            { id: "ref:1", rewards: [5, 1], numCorrect: 1 },
            { id: "tied:1", rewards: [4, 3, 1], numCorrect: 2 },
        ]).score;
        expect(m0.subsets.Ties!.score).toBeCloseTo(ties0, 12);
        expect(m0.score).toBeCloseTo((0.5 + 0.5 + ties0) / 3, 12);
        expect(m0.accuracy).toBeCloseTo((1 + 0 + 0.5) / 3, 12);
        const c = report.comparisons[0]!;
        // top completion: item 0 same (0), item 1 changed (1 -> 0), item 2 same (0), item 3 same, item 4 changed (0 -> 2)
        expect(c.topChangedItems).toEqual([1, 4]);
        expect(c.topChanged).toBeCloseTo(2 / 5, 12);
        const taus = [
            kendallTau([3, 1, 2], [3, 2, 1]),
            kendallTau([1, 2, 0], [2, 1, 0]),
            kendallTau([2, 2], [2, 1]),
            1,
            kendallTau([4, 3, 1], [1, 3, 4]),
        ];
        const defined = taus.filter((t) => !Number.isNaN(t));
        expect(c.kendallTau).toBeCloseTo(defined.reduce((a, b) => a + b, 0) / defined.length, 12);
        expect(c.subsetDelta.Math).toBeCloseTo(report.models[1]!.subsets.Math!.score - 0.5, 12);
    });
});
