/**
 * Writes an evaluation report: report.json alone (`writeReportJson`), or a
 * directory with report.json, report.md and the SVG plots (`writeReportDir`).
 * The plots module (svg-plots.ts, and d3 with it) is imported here only when
 * plots are drawn, so importing llama-reward or scoring never loads d3.
 */
import fs from "node:fs";
import path from "node:path";
import type { PreferencePair } from "./formats.js";
import { renderMarkdown } from "./markdown.js";
import type { EvalReport } from "./report.js";
import type { PlotFile } from "./svg-plots.js";

/** The report as JSON text (two-space indent; each item on one line keeps large reports readable). */
export function reportJson(report: EvalReport): string {
    const { items, ...rest } = report;
    const head = JSON.stringify(rest, null, 2).replace(/\n}$/, "");
    const body = items.map((it) => `    ${JSON.stringify(it)}`).join(",\n");
    return `${head},\n  "items": [${items.length === 0 ? "" : `\n${body}\n  `}]\n}\n`;
}

export function writeReportJson(report: EvalReport, file: string): void {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, reportJson(report));
}

/** The SVG plots of `report` (svg-plots.ts's reportPlots, loaded on first use). */
export async function reportPlots(report: EvalReport): Promise<PlotFile[]> {
    const plotting = await import("./svg-plots.js");
    return plotting.reportPlots(report);
}

/** Writes report.json, report.md and the plots into `dir` (created if needed); resolves with the files written. */
export async function writeReportDir(report: EvalReport, dir: string, pairs?: readonly PreferencePair[]): Promise<string[]> {
    fs.mkdirSync(dir, { recursive: true });
    const plots = await reportPlots(report);
    const files: string[] = [];
    const write = (name: string, text: string) => {
        const file = path.join(dir, name);
        fs.writeFileSync(file, text);
        files.push(file);
    };
    write("report.json", reportJson(report));
    write("report.md", renderMarkdown(report, { pairs, plots }));
    for (const p of plots) write(p.file, p.svg);
    return files;
}
