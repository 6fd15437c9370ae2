/**
 * report.md: the evaluation report for people. Tables of the models, the
 * RewardBench sections and subsets, each model against the reference, and
 * the pairs whose reward margin moved most, with a short excerpt of their
 * prompt; links to the SVG plots.
 */
import type { PreferencePair } from "./formats.js";
import type { EvalReport } from "./report.js";
import { rewardBenchSectionNames } from "./rewardbench.js";

export interface MarkdownOptions {
    /** The pairs, for excerpts of the most-moved ones. */
    pairs?: readonly PreferencePair[];
    /** Plot files (relative to report.md) and their titles. */
    plots?: readonly { file: string; title: string }[];
    /** Most-moved pairs listed per comparison. Default: 5. */
    topMoved?: number;
}

function cell(text: string): string {
    return text
        .replace(/\\/g, "\\\\")
        .replace(/\|/g, "\\|")
        .replace(/[\r\n]+/g, " ");
}

function table(header: string[], rows: string[][], align?: ("l" | "r")[]): string {
    const sep = header.map((_, i) => ((align?.[i] ?? "r") === "l" ? "---" : "---:"));
    return [header, sep, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

const pct = (x: number | undefined | null, digits = 1): string => (x === undefined || x === null ? "–" : `${(x * 100).toFixed(digits)}%`);
const num = (x: number | undefined | null, digits = 4): string => (x === undefined || x === null ? "–" : x.toFixed(digits));
const signed = (x: number, digits = 1): string => `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(digits)} pt`;

function size(bytes: number): string {
    if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
    if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}

/** The last user message of a conversation, shortened to `n` characters. */
export function excerpt(pair: PreferencePair | undefined, n = 60): string {
    if (!pair) return "";
    const prompt = [...pair.chosen].reverse().find((m) => m.role === "user") ?? pair.chosen[0];
    const text = (prompt?.content ?? "").replace(/\s+/g, " ").trim();
    return text.length <= n ? text : `${text.slice(0, n - 1)}…`;
}

export function renderMarkdown(report: EvalReport, options: MarkdownOptions = {}): string {
    const out: string[] = [];
    const models = report.models;
    const reference = models[0]!;
    out.push("# Reward model evaluation", "");
    const source = report.data.source === null ? "" : ` from \`${report.data.source}\``;
    const format = report.data.format === null ? "" : ` (${report.data.format})`;
    out.push(
        `${report.data.pairs} preference pairs${source}${format}. A pair is correct when the chosen answer's reward is strictly ` +
            "higher than the rejected one's (a tie is wrong). " +
            (models.length > 1 ? `The reference for comparisons is **${cell(reference.name)}**.` : ""),
        "",
    );

    out.push("## Models", "");
    out.push(
        table(
            ["#", "model", "type", "size", "pairs", "accuracy", "ties", "RewardBench score", "tokens/s", "seconds"],
            models.map((m, i) => [
                String(i),
                cell(m.name),
                m.fileType,
                size(m.sizeBytes),
                String(m.pairs),
                pct(m.accuracy),
                String(m.ties),
                pct(m.score),
                m.tokensPerSecond.toFixed(0),
                m.seconds.toFixed(1),
            ]),
            ["r", "l", "l", "r", "r", "r", "r", "r", "r", "r"],
        ),
        "",
    );

    if (models.some((m) => m.sections !== undefined)) {
        const sections = rewardBenchSectionNames.filter((s) => models.some((m) => m.sections?.[s] !== undefined));
        out.push("## RewardBench sections", "");
        out.push("Subset accuracies weighted by RewardBench's example counts; the score is the mean of the sections present.", "");
        out.push(
            table(
                ["section", ...models.map((m) => cell(m.name))],
                [
                    ...sections.map((s) => [s, ...models.map((m) => pct(m.sections?.[s]))]),
                    ["**score**", ...models.map((m) => pct(m.score))],
                ],
                ["l", ...models.map(() => "r" as const)],
            ),
            "",
        );
    }

    const subsets = [...new Set(models.flatMap((m) => Object.keys(m.subsets)))].sort();
    if (subsets.length > 0) {
        out.push("## Subsets", "");
        out.push(
            table(
                ["subset", "pairs", ...models.map((m) => cell(m.name))],
                subsets.map((s) => [cell(s), String(reference.subsets[s]?.pairs ?? 0), ...models.map((m) => pct(m.subsets[s]?.accuracy))]),
                ["l", "r", ...models.map(() => "r" as const)],
            ),
            "",
        );
    }

    if (report.comparisons.length > 0) {
        out.push(`## Against ${cell(reference.name)}`, "");
        out.push(
            "Pair agreement: pairs ordered the same way (chosen above rejected, or not). Deltas and correlations over all rewards.",
            "",
        );
        out.push(
            table(
                ["model", "pair agreement", "flips", "mean abs Δ", "max abs Δ", "relative L2", "Pearson", "Spearman", "accuracy change"],
                report.comparisons.map((c) => [
                    cell(c.name),
                    pct(c.pairAgreement),
                    String(c.flips.length),
                    num(c.meanAbsDelta),
                    num(c.maxAbsDelta),
                    num(c.relativeL2),
                    num(c.pearson),
                    num(c.spearman),
                    signed(c.accuracyDelta),
                ]),
                ["l", "r", "r", "r", "r", "r", "r", "r", "r"],
            ),
            "",
        );

        const top = options.topMoved ?? 5;
        out.push("## Most-moved pairs", "");
        out.push("Pairs whose margin (chosen − rejected) changed most against the reference.", "");
        for (const c of report.comparisons) {
            const flips = new Set(c.flips);
            const moved = report.items
                .map((it) => ({ it, ref: it.chosen[0]! - it.rejected[0]!, margin: it.chosen[c.model]! - it.rejected[c.model]! }))
                .sort((a, b) => Math.abs(b.margin - b.ref) - Math.abs(a.margin - a.ref) || a.it.index - b.it.index)
                .slice(0, top);
            out.push(`### ${cell(c.name)}`, "");
            out.push(
                table(
                    ["pair", "subset", "prompt", "margin, reference", "margin", "flipped"],
                    moved.map(({ it, ref, margin }) => [
                        String(it.index),
                        cell(it.subset ?? ""),
                        cell(excerpt(options.pairs?.[it.index])),
                        num(ref),
                        num(margin),
                        flips.has(it.index) ? "yes" : "",
                    ]),
                    ["r", "l", "l", "r", "r", "l"],
                ),
                "",
            );
        }
    }

    if (options.plots && options.plots.length > 0) {
        out.push("## Plots", "");
        for (const p of options.plots) out.push(`![${cell(p.title)}](${p.file})`, "");
    }
    return `${out.join("\n").trimEnd()}\n`;
}
