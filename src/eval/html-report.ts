/**
 * report.html: one self-contained page for an evaluation report, pairs or
 * best-of-N. Everything is inline (styles, plots as SVG, the report's JSON,
 * a small script for filtering the drill-down), so the file opens offline
 * and can be mailed. Every number shown that comes from report.json carries
 * `data-key` (its path in the report as a JSON array, e.g. `["models",0,"accuracy"]`), so a reader
 * or a test can check the page against the JSON.
 */
import type { BestOfNItem } from "./best-of-n-formats.js";
import type { BestOfNReport } from "./best-of-n-report.js";
import type { PreferencePair } from "./formats.js";
import type { EvalReport } from "./report.js";

export interface HtmlReportOptions {
    /** Plots to show, as SVG text. */
    plots?: readonly { title: string; svg: string }[];
    /** A pairs report's pairs, for the conversations of the worst flips. */
    pairs?: readonly PreferencePair[];
    /** A best-of-N report's items, for the prompts and completions of the changed rankings. */
    items?: readonly BestOfNItem[];
    /** How many flips (or changed rankings) to show per compared model. Default: 10. */
    worst?: number;
}

function escapeHtml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A number from the report, shown as a percentage or with fixed digits, tagged with its path (JSON). */
function num(path: readonly (string | number)[], value: number | null | undefined, kind: NumberKind = "fixed", digits = 4): string {
    const key = escapeHtml(JSON.stringify(path));
    if (value === null || value === undefined || !Number.isFinite(value)) return `<td data-key="${key}" data-null="1">–</td>`;
    const text =
        kind === "percent"
            ? `${(Math.abs(value) < 0.0005 ? 0 : value * 100).toFixed(1)}%`
            : kind === "int"
              ? String(value)
              : value.toFixed(digits);
    return `<td class="num" data-key="${key}" data-kind="${kind}">${text}</td>`;
}

function cell(text: string | number | undefined | null): string {
    return `<td>${escapeHtml(text === undefined || text === null ? "–" : String(text))}</td>`;
}

function table(head: readonly string[], rows: readonly string[], attrs = ""): string {
    return `<table${attrs}><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows
        .map((r) => `<tr>${r}</tr>`)
        .join("")}</tbody></table>`;
}

type NumberKind = "percent" | "fixed" | "int";

/** A numeric column of a report table: its header, the field it shows and how. */
type Column = readonly [header: string, field: string, kind: NumberKind, digits?: number];

/**
 * A table with one row per entry of `report[list]`: the entry's `name` (and, for models, file type),
 * then one cell per column, each tagged with its path in the report.
 */
function entriesTable(
    list: "models" | "comparisons",
    entries: readonly { name: string; fileType?: string }[],
    columns: readonly Column[],
): string {
    const lead = list === "models" ? ["model", "file type"] : ["model"];
    return table(
        [...lead, ...columns.map((c) => c[0])],
        entries.map(
            (e, i) =>
                cell(e.name) +
                (list === "models" ? cell(e.fileType) : "") +
                columns
                    .map(([, field, kind, digits]) =>
                        num([list, i, field], (e as unknown as Record<string, number | null>)[field], kind, digits),
                    )
                    .join(""),
        ),
    );
}

/** Per subset (rows) and model (columns): `field` of the model's subset result, with a count column when given. */
function subsetsTable<S extends object>(
    models: readonly { name: string; subsets: Record<string, S> }[],
    subsets: readonly string[],
    field: keyof S & string,
    count?: keyof S & string,
): string {
    const value = (r: S | undefined, key: string) => (r as Record<string, number> | undefined)?.[key];
    return table(
        ["subset", ...(count ? [count] : []), ...models.map((m) => m.name)],
        subsets.map(
            (s) =>
                cell(s) +
                (count ? cell(value(models.find((m) => m.subsets[s])?.subsets[s], count)) : "") +
                models
                    .map((m, i) =>
                        m.subsets[s] ? num(["models", i, "subsets", s, field], value(m.subsets[s], field), "percent") : cell("–"),
                    )
                    .join(""),
        ),
    );
}

function excerpt(text: string, n = 600): string {
    return escapeHtml(text.length > n ? `${text.slice(0, n)}…` : text);
}

function conversationHtml(messages: readonly { role: string; content: string }[]): string {
    return messages.map((m) => `<div class="msg ${escapeHtml(m.role)}"><b>${escapeHtml(m.role)}</b> ${excerpt(m.content)}</div>`).join("");
}

function pairsSections(report: EvalReport, options: HtmlReportOptions): { summary: string[]; details: string[] } {
    const out: string[] = [];
    const details: string[] = [];
    const subsets = [...new Set(report.models.flatMap((m) => Object.keys(m.subsets)))].sort();
    out.push(
        "<h2>Models</h2>",
        entriesTable("models", report.models, [
            ["pairs", "pairs", "int"],
            ["accuracy", "accuracy", "percent"],
            ["RewardBench score", "score", "percent"],
            ["ties", "ties", "int"],
            ["seconds", "seconds", "fixed", 1],
            ["tokens/s", "tokensPerSecond", "fixed", 0],
        ]),
    );
    if (subsets.length > 0) out.push("<h2>Subsets</h2>", subsetsTable(report.models, subsets, "accuracy", "pairs"));
    if (report.comparisons.length > 0) {
        out.push(
            "<h2>Against the reference</h2>",
            entriesTable("comparisons", report.comparisons, [
                ["pair agreement", "pairAgreement", "percent"],
                ["accuracy Δ", "accuracyDelta", "percent"],
                ["mean |Δ|", "meanAbsDelta", "fixed"],
                ["max |Δ|", "maxAbsDelta", "fixed"],
                ["relative L2", "relativeL2", "fixed"],
                ["Pearson", "pearson", "fixed"],
                ["Spearman", "spearman", "fixed"],
            ]),
        );
        const worst = options.worst ?? 10;
        for (const c of report.comparisons) {
            const moved = [...c.flips]
                .map((i) => {
                    const it = report.items[i]!;
                    const before = it.chosen[0]! - it.rejected[0]!;
                    const after = it.chosen[c.model]! - it.rejected[c.model]!;
                    return { i, before, after };
                })
                .sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before))
                .slice(0, worst);
            if (moved.length === 0) continue;
            details.push(`<h3>Worst flips: ${escapeHtml(c.name)}</h3>`);
            for (const f of moved) {
                const pair = options.pairs?.[f.i];
                details.push(
                    `<details class="flip"><summary>pair ${f.i}: margin ${f.before.toFixed(4)} → ${f.after.toFixed(4)}</summary>` +
                        (pair
                            ? `<div class="side"><h4>chosen</h4>${conversationHtml(pair.chosen)}</div><div class="side"><h4>rejected</h4>${conversationHtml(pair.rejected)}</div>`
                            : "") +
                        "</details>",
                );
            }
        }
    }
    details.push(
        "<h2>Drill-down</h2>",
        subsetFilter(report.items.map((it) => it.subset)),
        table(
            ["pair", "line", "subset", ...report.models.flatMap((m) => [`${m.name} chosen`, `${m.name} rejected`])],
            report.items.map(
                (it) =>
                    `<td class="num">${it.index}</td>` +
                    cell(it.line) +
                    cell(it.subset) +
                    report.models
                        .map(
                            (_, m) =>
                                num(["items", it.index, "chosen", m], it.chosen[m]) +
                                num(["items", it.index, "rejected", m], it.rejected[m]),
                        )
                        .join(""),
            ),
            ' class="drill"',
        ),
    );
    return { summary: out, details };
}

function bestOfNSections(report: BestOfNReport, options: HtmlReportOptions): { summary: string[]; details: string[] } {
    const out: string[] = [];
    const details: string[] = [];
    const subsets = [...new Set(report.models.flatMap((m) => Object.keys(m.subsets)))].sort();
    out.push(
        "<h2>Models</h2>",
        entriesTable("models", report.models, [
            ["prompts", "prompts", "int"],
            ["completions", "completions", "int"],
            ["accuracy", "accuracy", "percent"],
            ["score", "score", "percent"],
            ["truncated", "truncated", "int"],
            ["seconds", "seconds", "fixed", 1],
            ["tokens/s", "tokensPerSecond", "fixed", 0],
        ]),
    );
    if (subsets.length > 0) out.push("<h2>Subsets</h2>", subsetsTable(report.models, subsets, "score", "prompts"));
    if (report.comparisons.length > 0) {
        out.push(
            "<h2>Against the reference</h2>",
            entriesTable("comparisons", report.comparisons, [
                ["top completion changed", "topChanged", "percent"],
                ["Kendall's τ (mean)", "kendallTau", "fixed"],
                ["score Δ", "scoreDelta", "percent"],
                ["accuracy Δ", "accuracyDelta", "percent"],
                ["mean |Δ|", "meanAbsDelta", "fixed"],
                ["max |Δ|", "maxAbsDelta", "fixed"],
                ["Pearson", "pearson", "fixed"],
            ]),
        );
        const worst = options.worst ?? 10;
        for (const c of report.comparisons) {
            if (c.topChangedItems.length === 0) continue;
            details.push(`<h3>Changed top completions: ${escapeHtml(c.name)}</h3>`);
            for (const i of c.topChangedItems.slice(0, worst)) {
                const it = report.items[i]!;
                const item = options.items?.[i];
                const rows = it.rewards[0]!.map(
                    (_, k) =>
                        `<td class="num">${k}${k < it.numCorrect ? " ✓" : ""}</td>` +
                        num(["items", i, "rewards", 0, k], it.rewards[0]![k]) +
                        num(["items", i, "rewards", c.model, k], it.rewards[c.model]![k]) +
                        `<td class="text">${item ? excerpt(item.responses[k]!, 300) : ""}</td>`,
                );
                details.push(
                    `<details class="flip"><summary>prompt ${i}${it.subset ? ` (${escapeHtml(it.subset)})` : ""}</summary>` +
                        (item ? `<div class="side">${conversationHtml(item.prompt)}</div>` : "") +
                        table(["completion", report.models[0]!.name, c.name, "text"], rows) +
                        "</details>",
                );
            }
        }
    }
    details.push(
        "<h2>Drill-down</h2>",
        subsetFilter(report.items.map((it) => it.subset)),
        table(
            ["prompt", "line", "subset", "correct", ...report.models.map((m) => `${m.name} rewards`)],
            report.items.map(
                (it) =>
                    `<td class="num">${it.index}</td>` +
                    cell(it.line) +
                    cell(it.subset) +
                    `<td class="num">${it.numCorrect}</td>` +
                    it.rewards.map((r) => `<td class="num">${r.map((v) => v.toFixed(3)).join(" ")}</td>`).join(""),
            ),
            ' class="drill"',
        ),
    );
    return { summary: out, details };
}

/** A select that shows only the drill-down rows of one subset (the script at the end wires it). */
function subsetFilter(subsets: readonly (string | undefined)[]): string {
    const names = [...new Set(subsets.filter((s): s is string => s !== undefined))].sort();
    if (names.length === 0) return "";
    const opts = names.map((s) => `<option value="${escapeHtml(s)}">${escapeHtml(s)}</option>`).join("");
    return `<label>subset <select id="subset-filter"><option value="">all</option>${opts}</select></label>`;
}

const style = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plot{border:1px solid #ddd;padding:.5em;margin:0;width:calc(50% - 2.2em)}.plot svg{width:100%;height:auto}
.msg{margin:.2em 0;white-space:pre-wrap}.msg.user b{color:#4e79a7}.msg.assistant b{color:#59a14f}
.side{display:inline-block;vertical-align:top;width:48%;margin-right:1%}details.flip{margin:.5em 0}
td.text{max-width:40em;white-space:pre-wrap}table.drill{font-size:12px}`;

const script = `(function(){var s=document.getElementById("subset-filter");if(!s)return;
s.addEventListener("change",function(){var v=s.value;document.querySelectorAll("table.drill tbody tr").forEach(function(r){
r.style.display=!v||r.children[2].textContent===v?"":"none";});});})();`;

/** The whole page as one HTML string. */
export function renderHtmlReport(report: EvalReport | BestOfNReport, options: HtmlReportOptions = {}): string {
    const bestOfN = "kind" in report && report.kind === "best-of-n";
    const data = report.data;
    const count = bestOfN ? `${(data as BestOfNReport["data"]).prompts} prompts` : `${(data as EvalReport["data"]).pairs} pairs`;
    const sections = bestOfN ? bestOfNSections(report as BestOfNReport, options) : pairsSections(report as EvalReport, options);
    const plots = (options.plots ?? []).map(
        (p) => `<figure class="plot"><figcaption>${escapeHtml(p.title)}</figcaption>${p.svg.replace(/^<\?xml[^>]*>\s*/, "")}</figure>`,
    );
    const json = JSON.stringify(report).replace(/</g, "\\u003c");
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>llama-reward evaluation</title><style>${style}</style></head>
<body>
<h1>llama-reward evaluation</h1>
<p>${escapeHtml(count)} from <code>${escapeHtml(data.source ?? "memory")}</code>${data.format ? ` (${escapeHtml(data.format)})` : ""}, ${report.models.length} model(s), created ${escapeHtml(report.created)}.</p>
${sections.summary.join("\n")}
${plots.length > 0 ? `<h2>Plots</h2><div class="plots">${plots.join("\n")}</div>` : ""}
${sections.details.join("\n")}
<script type="application/json" id="report-data">${json}</script>
<script>${script}</script>
</body></html>
`;
}
