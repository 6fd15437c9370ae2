/**
 * Evaluation without a model: the data parsers on real-shaped and malformed
 * rows (.jsonl and .jsonl.gz), the comparison statistics and the RewardBench
 * section formula against hand-computed values, the report built from known
 * rewards, report.md, and the SVG plots (well-formed XML, one mark per datum).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { XMLValidator } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import { detectFormat, parsePairLines, parseRow, parseTranscript, readPairs, type PreferencePair } from "../../src/eval/formats.js";
import { renderMarkdown } from "../../src/eval/markdown.js";
import { buildReport, type ModelRun } from "../../src/eval/report.js";
import { rewardBenchScores, rewardBenchSubsets } from "../../src/eval/rewardbench.js";
import { averageRanks, flippedPairs, pearson, relativeL2, spearman, absDeltas } from "../../src/eval/statistics.js";
import { preferenceProbability } from "../../src/model/preference.js";
import { groupedBarPlot, histogramPlot, reportPlots, scatterPlot } from "../../src/eval/svg-plots.js";
import { reportJson, writeReportDir } from "../../src/eval/write-report.js";
import { isRewardModelError } from "../../src/errors.js";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-eval-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Rows shaped like the public data sets' (RewardBench filtered split, hh-rlhf, TRL / UltraFeedback message pairs). */
const rewardBenchRow = {
    prompt: "How do I detail a car?",
    chosen: "Detailing a car involves a thorough cleaning inside and out...",
    chosen_model: "gpt-4",
    rejected: "Cars are vehicles.",
    rejected_model: "Llama-2-70b-chat-hf",
    subset: "alpacaeval-easy",
    id: 30,
};
const hhRow = {
    chosen: "\n\nHuman: What is a good name for a cat?\n\nAssistant: Whiskers is a classic.\n\nHuman: Another one?\n\nAssistant: How about Miso?",
    rejected: "\n\nHuman: What is a good name for a cat?\n\nAssistant: Whiskers is a classic.\n\nHuman: Another one?\n\nAssistant:",
};
const trlRow = {
    prompt: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "2+2?" },
    ],
    chosen: [{ role: "assistant", content: "4" }],
    rejected: "5",
};
const ultraFeedbackRow = {
    prompt: "Name a colour.",
    chosen: [
        { role: "user", content: "Name a colour." },
        { role: "assistant", content: "Blue." },
    ],
    rejected: [
        { role: "user", content: "Name a colour." },
        { role: "assistant", content: "Seven." },
    ],
    score_chosen: 8.5,
    score_rejected: 2,
};

function invalidData(fn: () => unknown, ...fragments: string[]): void {
    try {
        fn();
    } catch (error) {
        expect(isRewardModelError(error, "ERR_INVALID_DATA"), String(error)).toBe(true);
        for (const f of fragments) expect((error as Error).message).toContain(f);
        return;
    }
    throw new Error("expected ERR_INVALID_DATA");
}

async function invalidDataAsync(promise: Promise<unknown>, ...fragments: string[]): Promise<void> {
    const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(isRewardModelError(error, "ERR_INVALID_DATA"), String(error)).toBe(true);
    for (const f of fragments) expect((error as Error).message).toContain(f);
}

describe("data formats", () => {
    it("detects each format from a row", () => {
        expect(detectFormat(rewardBenchRow)).toBe("rewardbench");
        expect(detectFormat(hhRow)).toBe("hh-rlhf");
        expect(detectFormat(trlRow)).toBe("messages");
        expect(detectFormat(ultraFeedbackRow)).toBe("messages");
        expect(detectFormat({ chosen: "no transcript", rejected: "x" })).toBeUndefined();
        expect(detectFormat([1, 2])).toBeUndefined();
        expect(detectFormat(null)).toBeUndefined();
    });

    it("parses a RewardBench row into user prompt + assistant answer, with subset and id", () => {
        const pair = parseRow(rewardBenchRow, "rewardbench");
        expect(pair.chosen).toEqual([
            { role: "user", content: rewardBenchRow.prompt },
            { role: "assistant", content: rewardBenchRow.chosen },
        ]);
        expect(pair.rejected).toEqual([
            { role: "user", content: rewardBenchRow.prompt },
            { role: "assistant", content: rewardBenchRow.rejected },
        ]);
        expect(pair.subset).toBe("alpacaeval-easy");
        expect(pair.id).toBe(30);
    });

    it("parses hh-rlhf transcripts into trimmed user/assistant turns, keeping an empty last answer", () => {
        const pair = parseRow(hhRow, "hh-rlhf");
        expect(pair.chosen).toEqual([
            { role: "user", content: "What is a good name for a cat?" },
            { role: "assistant", content: "Whiskers is a classic." },
            { role: "user", content: "Another one?" },
            { role: "assistant", content: "How about Miso?" },
        ]);
        expect(pair.rejected.at(-1)).toEqual({ role: "assistant", content: "" });
        expect(pair.rejected.slice(0, 3)).toEqual(pair.chosen.slice(0, 3));
        expect(parseTranscript("Human: hi\n\nAssistant:  hello  ")).toEqual([
            { role: "user", content: "hi" },
            { role: "assistant", content: "hello" },
        ]);
    });

    it("parses message pairs: prompt + answer (string or messages), full conversations, UltraFeedback's redundant prompt", () => {
        const trl = parseRow(trlRow, "messages");
        expect(trl.chosen).toEqual([...trlRow.prompt, { role: "assistant", content: "4" }]);
        expect(trl.rejected).toEqual([...trlRow.prompt, { role: "assistant", content: "5" }]);
        const uf = parseRow(ultraFeedbackRow, "messages");
        expect(uf.chosen).toEqual(ultraFeedbackRow.chosen);
        expect(uf.rejected).toEqual(ultraFeedbackRow.rejected);
        expect(uf.subset).toBeUndefined();
    });

    it("rejects malformed rows naming the field", () => {
        invalidData(() => parseRow({ ...rewardBenchRow, rejected: undefined }, "rewardbench", "line 3"), "line 3", 'missing "rejected"');
        invalidData(
            () => parseRow({ ...rewardBenchRow, chosen: 42 }, "rewardbench", "line 4"),
            "line 4",
            '"chosen" must be a string, got number',
        );
        invalidData(() => parseRow({ ...rewardBenchRow, subset: 7 }, "rewardbench"), '"subset" must be a string');
        invalidData(() => parseRow({ ...rewardBenchRow, id: { a: 1 } }, "rewardbench"), '"id" must be a string or a number');
        invalidData(() => parseRow([rewardBenchRow], "rewardbench"), "expected a JSON object, got an array");
        invalidData(() => parseRow({ chosen: [{ role: "user" }], rejected: [] }, "messages"), '"chosen[0].content" must be a string');
        invalidData(() => parseRow({ chosen: [{ role: "user", content: "a" }], rejected: [] }, "messages"), '"rejected" is an empty array');
        invalidData(() => parseRow({ ...trlRow, prompt: [{ role: 1, content: "x" }] }, "messages"), '"prompt[0].role"');
        invalidData(() => parseRow({ ...trlRow, rejected: undefined }, "messages"), 'missing "rejected"');
        invalidData(() => parseRow({ chosen: "just text", rejected: hhRow.rejected }, "hh-rlhf"), '"chosen" is not an hh-rlhf transcript');
        invalidData(
            () => parseRow({ chosen: "\n\nHuman: hi\n\nAssistant: yo\n\nHuman: bye", rejected: hhRow.rejected }, "hh-rlhf"),
            '"chosen" does not end with an "Assistant:" turn',
        );
        invalidData(
            () => parseRow({ chosen: "Preamble\n\nHuman: hi\n\nAssistant: yo", rejected: hhRow.rejected }, "hh-rlhf"),
            "text before its first",
        );
    });

    it("reads a file: format from the first row, blank lines skipped, line numbers kept, limit", async () => {
        const file = path.join(work, "rb.jsonl");
        fs.writeFileSync(
            file,
            `${[JSON.stringify(rewardBenchRow), "", JSON.stringify({ ...rewardBenchRow, id: 31, subset: "hep-go" })].join("\n")}\n`,
        );
        const { format, pairs } = await readPairs(file);
        expect(format).toBe("rewardbench");
        expect(pairs.map((p) => [p.line, p.id, p.subset])).toEqual([
            [1, 30, "alpacaeval-easy"],
            [3, 31, "hep-go"],
        ]);
        expect((await readPairs(file, { limit: 1 })).pairs).toHaveLength(1);
    });

    it("streams .jsonl.gz", async () => {
        const file = path.join(work, "hh.jsonl.gz");
        const rows = Array.from({ length: 50 }, () => JSON.stringify(hhRow)).join("\n");
        fs.writeFileSync(file, zlib.gzipSync(rows));
        const { format, pairs } = await readPairs(file);
        expect(format).toBe("hh-rlhf");
        expect(pairs).toHaveLength(50);
        expect(pairs[49]!.line).toBe(50);
    });

    it("rejects bad files naming the line: invalid JSON, a row of another format, no known format, empty, forced format", async () => {
        await invalidDataAsync(
            parsePairLines([JSON.stringify(rewardBenchRow), "{not json"], {}, "f.jsonl"),
            "f.jsonl line 2",
            "not valid JSON",
        );
        await invalidDataAsync(
            parsePairLines([JSON.stringify(rewardBenchRow), JSON.stringify(hhRow)], {}, "f.jsonl"),
            "f.jsonl line 2",
            'missing "prompt"',
        );
        await invalidDataAsync(
            parsePairLines(["", JSON.stringify({ question: "q", answer: "a" })], {}, "f.jsonl"),
            "f.jsonl line 2",
            "fits no known format",
        );
        await invalidDataAsync(parsePairLines(["", "  "], {}, "f.jsonl"), "holds no preference pairs");
        await invalidDataAsync(
            parsePairLines([JSON.stringify(rewardBenchRow)], { format: "hh-rlhf" }, "f.jsonl"),
            '"chosen" is not an hh-rlhf transcript',
        );
        await invalidDataAsync(readPairs(path.join(work, "missing.jsonl")), "cannot read");
        const corrupt = path.join(work, "corrupt.jsonl.gz");
        fs.writeFileSync(corrupt, Buffer.concat([zlib.gzipSync(JSON.stringify(hhRow)).subarray(0, 12), Buffer.alloc(20, 7)]));
        await invalidDataAsync(readPairs(corrupt), "cannot read");
        const error = await parsePairLines(["{}"], { format: "csv" as never }).catch((e: unknown) => e);
        expect(isRewardModelError(error, "ERR_INVALID_OPTION")).toBe(true);
    });
});

describe("statistics", () => {
    it("Bradley-Terry probability is sigmoid(a - b), stable at extremes", () => {
        expect(preferenceProbability(2, 0)).toBeCloseTo(0.8807970779778823, 12);
        expect(preferenceProbability(0, 2)).toBeCloseTo(0.11920292202211755, 12);
        expect(preferenceProbability(1.5, 1.5)).toBe(0.5);
        expect(preferenceProbability(1000, 0)).toBe(1);
        expect(preferenceProbability(-1000, 0)).toBe(0);
    });

    it("pearson against a hand-computed value: 11 / sqrt(130)", () => {
        expect(pearson([1, 2, 3, 4], [2, 4, 5, 9])).toBeCloseTo(11 / Math.sqrt(130), 12);
        expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
        expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
        expect(() => pearson([1], [1, 2])).toThrow(RangeError);
    });

    it("average ranks for ties; spearman = pearson of ranks (3 / sqrt(10))", () => {
        expect(averageRanks([10, 20, 20, 30, 20])).toEqual([1, 3, 3, 5, 3]);
        expect(averageRanks([3, 1, 2])).toEqual([3, 1, 2]);
        expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(3 / Math.sqrt(10), 12);
        // monotone but not linear: spearman 1, pearson below 1
        expect(spearman([1, 2, 3, 4], [1, 10, 100, 1000])).toBeCloseTo(1, 12);
        expect(pearson([1, 2, 3, 4], [1, 10, 100, 1000])).toBeLessThan(0.9);
    });

    it("relative L2, absolute deltas, flipped pairs", () => {
        expect(relativeL2([3, 4], [3, 5])).toBeCloseTo(0.2, 12);
        expect(relativeL2([0, 0], [1, 1])).toBeNaN();
        expect(absDeltas([1, 2, 3], [1.5, 2, 1])).toEqual({ mean: 2.5 / 3, max: 2 });
        // pair 1 flips (wrong -> right), pair 2 is a tie under the reference (wrong) and right under the other
        expect(flippedPairs([1, 0, 2], [0, 1, 2], [1, 2, 3], [0, 1, 2])).toEqual([1, 2]);
    });
});

describe("RewardBench sections", () => {
    it("weights subset accuracies by RewardBench's example counts (hand-computed)", () => {
        const { sections, score } = rewardBenchScores({
            "alpacaeval-easy": 0.9, // Chat, 100 examples
            "mt-bench-easy": 0.5, // Chat, 28
            "math-prm": 0.6, // Reasoning, 984
            "hep-python": 0.8, // Reasoning, 164
            "my-own-subset": 0, // not RewardBench: ignored
        });
        expect(sections.Chat).toBeCloseTo((0.9 * 100 + 0.5 * 28) / 128, 12); // 0.8125
        expect(sections.Reasoning).toBeCloseTo((0.6 * 984 + 0.8 * 164) / 1148, 12); // 0.628571...
        expect(sections.Safety).toBeUndefined();
        expect(sections["Chat Hard"]).toBeUndefined();
        expect(score).toBeCloseTo((0.8125 + 721.6 / 1148) / 2, 12);
    });

    it("math-prm weighs as much as the six code subsets together; 23 subsets in four sections", () => {
        const hep = ["hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"];
        const { sections } = rewardBenchScores(Object.fromEntries([["math-prm", 1], ...hep.map((h) => [h, 0])]));
        expect(sections.Reasoning).toBeCloseTo(0.5, 12);
        const counts: Record<string, number> = {};
        for (const [section, n] of Object.values(rewardBenchSubsets)) counts[section] = (counts[section] ?? 0) + n;
        expect(Object.keys(rewardBenchSubsets)).toHaveLength(23);
        expect(counts).toEqual({ Chat: 358, "Chat Hard": 456, Safety: 740, Reasoning: 1968 });
        expect(rewardBenchScores({ "my-own-subset": 1 }).score).toBeUndefined();
    });
});

function pair(subset: string | undefined, prompt: string): PreferencePair {
    return {
        chosen: [
            { role: "user", content: prompt },
            { role: "assistant", content: "good" },
        ],
        rejected: [
            { role: "user", content: prompt },
            { role: "assistant", content: "bad" },
        ],
        ...(subset === undefined ? {} : { subset }),
    };
}

function run(name: string, chosen: number[], rejected: number[]): ModelRun {
    return {
        path: `${name}.gguf`,
        name,
        fileType: "F32",
        sizeBytes: 1 << 20,
        chosen,
        rejected,
        seconds: 2,
        tokens: 100,
        decodedTokens: 60,
    };
}

const pairs = [pair("alpacaeval-easy", "What | is a pipe?"), pair("alpacaeval-easy", "second"), pair("hep-go", "third")];
const reference = run("ref", [1, 0, 2], [0, 1, 2]);
const other = run("q4", [1, 2, 3], [0, 1, 2]);

describe("report", () => {
    const report = buildReport([reference, other], pairs, { source: "data.jsonl", format: "rewardbench" });

    it("per model: accuracy (ties wrong), ties, subsets, sections, score, speed", () => {
        const [m0, m1] = report.models;
        expect(m0).toMatchObject({ name: "ref", pairs: 3, ties: 1, tokensPerSecond: 50 });
        expect(m0!.accuracy).toBeCloseTo(1 / 3, 12);
        expect(m0!.subsets).toEqual({ "alpacaeval-easy": { pairs: 2, accuracy: 0.5 }, "hep-go": { pairs: 1, accuracy: 0 } });
        expect(m0!.sections).toEqual({ Chat: 0.5, Reasoning: 0 });
        expect(m0!.score).toBeCloseTo(0.25, 12);
        expect(m1!.accuracy).toBe(1);
        expect(m1!.ties).toBe(0);
        expect(m1!.score).toBe(1);
    });

    it("compares with the reference: agreement, flips, deltas, accuracy change", () => {
        expect(report.comparisons).toHaveLength(1);
        const c = report.comparisons[0]!;
        expect(c.model).toBe(1);
        expect(c.flips).toEqual([1, 2]);
        expect(c.pairAgreement).toBeCloseTo(1 / 3, 12);
        expect(c.meanAbsDelta).toBeCloseTo(0.5, 12); // |Δ| = 0,2,1 (chosen) and 0,0,0 (rejected)
        expect(c.maxAbsDelta).toBe(2);
        expect(c.accuracyDelta).toBeCloseTo(2 / 3, 12);
        expect(c.pearson).toBeCloseTo(pearson([1, 0, 2, 0, 1, 2], [1, 2, 3, 0, 1, 2]), 12);
        expect(report.items[1]).toEqual({ index: 1, subset: "alpacaeval-easy", chosen: [0, 2], rejected: [1, 1] });
    });

    it("writes undefined statistics as null and parses back", () => {
        const flat = buildReport([run("a", [1, 1], [1, 1]), run("b", [1, 1], [1, 1])], pairs.slice(0, 2));
        const parsed = JSON.parse(reportJson(flat)) as typeof flat;
        expect(parsed.comparisons[0]!.pearson).toBeNull();
        expect(parsed.comparisons[0]!.spearman).toBeNull();
        expect(parsed.items).toHaveLength(2);
        expect(JSON.parse(reportJson(report))).toEqual(JSON.parse(JSON.stringify(report)));
        expect(() => buildReport([run("short", [1], [0])], pairs)).toThrow(RangeError);
    });

    it("report.md has the tables, escapes pipes in excerpts, and lists flipped pairs first by movement", () => {
        const md = renderMarkdown(report, { pairs, plots: [{ file: "accuracy.svg", title: "Accuracy" }] });
        expect(md).toContain("## Models");
        expect(md).toContain("## RewardBench sections");
        expect(md).toContain("| Chat | 50.0% | 100.0% |");
        expect(md).toContain("## Against ref");
        expect(md).toContain("| q4 | 33.3% | 2 |");
        expect(md).toContain("What \\| is a pipe?");
        expect(md).toContain("![Accuracy](accuracy.svg)");
        const moved = md
            .split("### q4")[1]!
            .split("\n")
            .filter((l) => /^\| \d/.test(l));
        expect(moved[0]).toMatch(/^\| 1 \|.*\| yes \|$/); // margin -1 -> 1 moved most
    });
});

function marks(svg: string, tag: string): string[] {
    return [...svg.matchAll(new RegExp(`<${tag} class="mark"[^>]*>`, "g"))].map((m) => m[0]);
}

function expectValidSvg(svg: string): void {
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toMatch(/<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).not.toMatch(/NaN|undefined/);
}

describe("SVG plots", () => {
    it("scatter: one circle per point and the y = x line", () => {
        const svg = scatterPlot("t <&>", "x", "y", [
            {
                name: "chosen",
                points: [
                    [0, 0],
                    [1, 2],
                    [2, 1],
                ],
            },
            { name: "rejected", points: [[-1, -1.5]] },
        ]);
        expectValidSvg(svg);
        expect(marks(svg, "circle")).toHaveLength(4);
        expect(svg).toContain("t &lt;&amp;&gt;");
        expect(svg).toMatch(/<path class="identity" d="M[-\d.]+,[-\d.]+L[-\d.]+,[-\d.]+"/);
    });

    it("histogram: bins cover every value once", () => {
        const values = Array.from({ length: 200 }, (_, i) => Math.sin(i) * 3);
        const svg = histogramPlot("deltas", "delta", values, 20);
        expectValidSvg(svg);
        const bars = marks(svg, "rect");
        expect(bars.length).toBeGreaterThanOrEqual(10);
        const counts = bars.map((b) => Number(/data-count="(\d+)"/.exec(b)![1]));
        expect(counts.reduce((a, b) => a + b, 0)).toBe(200);
        // all-equal values still plot
        const flat = histogramPlot("flat", "delta", [0, 0, 0]);
        expectValidSvg(flat);
        expect(
            marks(flat, "rect")
                .map((b) => Number(/data-count="(\d+)"/.exec(b)![1]))
                .reduce((a, b) => a + b, 0),
        ).toBe(3);
    });

    it("grouped bars: one rect per defined value, heights proportional", () => {
        const svg = groupedBarPlot(
            "acc",
            "accuracy",
            ["Chat", "Safety"],
            [
                { name: "a", values: [1, 0.5] },
                { name: "b", values: [0.25, undefined] },
            ],
        );
        expectValidSvg(svg);
        const bars = marks(svg, "rect");
        expect(bars).toHaveLength(3);
        const height = (b: string) => Number(/ height="([\d.]+)"/.exec(b)![1]);
        expect(height(bars[0]!) / height(bars[1]!)).toBeCloseTo(2, 1);
        expect(height(bars[0]!) / height(bars[2]!)).toBeCloseTo(4, 1);
    });

    it("report plots and directory: accuracy by section, scatter and deltas per compared model", async () => {
        const report = buildReport([reference, other, run("q8", [1, 0.1, 2], [0, 1, 2])], pairs);
        const plots = reportPlots(report);
        expect(plots.map((p) => p.file)).toEqual(["accuracy.svg", "scatter-1.svg", "deltas-1.svg", "scatter-2.svg", "deltas-2.svg"]);
        for (const p of plots) expectValidSvg(p.svg);
        expect(marks(plots[0]!.svg, "rect")).toHaveLength(3 * 2); // 3 models x (Chat, Reasoning)
        expect(marks(plots[1]!.svg, "circle")).toHaveLength(2 * pairs.length);
        const dir = path.join(work, "report");
        const files = (await writeReportDir(report, dir, pairs)).map((f) => path.basename(f));
        expect(files).toEqual(["report.json", "report.html", "report.md", ...plots.map((p) => p.file)]);
        const html = fs.readFileSync(path.join(dir, "report.html"), "utf8");
        expect(html).toContain('data-key="[&quot;models&quot;,0,&quot;accuracy&quot;]"');
        expect(html).toContain("<svg");
        expect(fs.readFileSync(path.join(dir, "report.md"), "utf8")).toContain("![q4 against ref](scatter-1.svg)");
        // no RewardBench subsets: accuracy per subset; no subsets at all: one group
        const plain = buildReport(
            [reference],
            pairs.map((p) => ({ ...p, subset: "mine" })),
        );
        expect(reportPlots(plain)[0]!.title).toBe("Accuracy by subset");
        expect(
            reportPlots(
                buildReport(
                    [reference],
                    pairs.map(({ subset: _, ...p }) => p),
                ),
            )[0]!.title,
        ).toBe("Accuracy by model");
    });
});
