/**
 * Writes an evaluation report: report.json alone (`writeReportJson`), or a
 * directory with report.json, report.html, report.md and the SVG plots
 * (`writeReportDir` for pairs; `writeBestOfNReportDir` for best-of-N, which
 * has no Markdown page).
 * The plots module (svg-plots.ts, and d3 with it) is imported here only when
 * plots are drawn, so importing llama-reward or scoring never loads d3.
 */
import fs from "node:fs";
import path from "node:path";
import type { BestOfNItem } from "./best-of-n-formats.js";
import type { BestOfNReport } from "./best-of-n-report.js";
import type { PreferencePair } from "./formats.js";
import { renderHtmlReport } from "./html-report.js";
import { renderMarkdown } from "./markdown.js";
import type { EvalReport } from "./report.js";
import type { PlotFile } from "./svg-plots.js";

/** The report as JSON text (two-space indent; each item on one line keeps large reports readable). */
export function reportJson(report: EvalReport | BestOfNReport): string {
    const { items, ...rest } = report;
    const head = JSON.stringify(rest, null, 2).replace(/\n}$/, "");
    const body = items.map((it) => `    ${JSON.stringify(it)}`).join(",\n");
    return `${head},\n  "items": [${items.length === 0 ? "" : `\n${body}\n  `}]\n}\n`;
}

export function writeReportJson(report: EvalReport | BestOfNReport, file: string): void {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, reportJson(report));
}

/** The SVG plots of `report` (svg-plots.ts's reportPlots, loaded on first use). */
export async function reportPlots(report: EvalReport): Promise<PlotFile[]> {
    const plotting = await import("./svg-plots.js");
    return plotting.reportPlots(report);
}

/** The SVG plots of a best-of-N report (best-of-n-plots.ts, loaded on first use). */
export async function bestOfNReportPlots(report: BestOfNReport): Promise<PlotFile[]> {
    const plotting = await import("./best-of-n-plots.js");
    return plotting.bestOfNPlots(report);
}

/** Writes named text files into `dir` (created if needed) and returns their paths. */
function writeFiles(dir: string, files: readonly (readonly [string, string])[]): string[] {
    fs.mkdirSync(dir, { recursive: true });
    return files.map(([name, text]) => {
        const file = path.join(dir, name);
        fs.writeFileSync(file, text);
        return file;
    });
}

/** Writes report.json, report.html, report.md and the plots into `dir`; resolves with the files written. */
export async function writeReportDir(report: EvalReport, dir: string, pairs?: readonly PreferencePair[]): Promise<string[]> {
    const plots = await reportPlots(report);
    return writeFiles(dir, [
        ["report.json", reportJson(report)],
        ["report.html", renderHtmlReport(report, { plots, pairs })],
        ["report.md", renderMarkdown(report, { pairs, plots })],
        ...plots.map((p) => [p.file, p.svg] as const),
    ]);
}

/** Writes report.json, report.html and the plots of a best-of-N report into `dir`; resolves with the files written. */
export async function writeBestOfNReportDir(report: BestOfNReport, dir: string, items?: readonly BestOfNItem[]): Promise<string[]> {
    const plots = await bestOfNReportPlots(report);
    return writeFiles(dir, [
        ["report.json", reportJson(report)],
        ["report.html", renderHtmlReport(report, { plots, items })],
        ...plots.map((p) => [p.file, p.svg] as const),
    ]);
}
