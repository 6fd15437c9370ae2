/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * report.html in a real browser (Debian's Chromium, headless, through
 * puppeteer-core): every number on the page equals report.json, every plot
 * rendered marks in a non-empty box, the subset filter works, and the page
 * logs no error. A screenshot is kept in .test-artifacts/ (and written to
 * docs/images/ with LLAMA_REWARD_UPDATE_SCREENSHOTS=1). Without Chromium the
 * test is skipped, unless LLAMA_REWARD_REQUIRE_BROWSER=1 (CI) makes that a
 * failure.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBestOfNLines } from "../src/eval/best-of-n-formats.js";
import { bestOfNPlots } from "../src/eval/best-of-n-plots.js";
import { evaluate } from "../src/eval/evaluate.js";
import { evaluateBestOfN } from "../src/eval/evaluate-best-of-n.js";
import { parsePairLines } from "../src/eval/formats.js";
import { renderHtmlReport } from "../src/eval/html-report.js";
import { reportPlots } from "../src/eval/svg-plots.js";
import { rewardBench2Rows } from "./support/best-of-n-fixture.js";
import { findChromium } from "./support/browser.js";
import { filler, requireFile, root, tinyF16, tinyF32 } from "./support/fixtures.js";

const chromium = findChromium();
const required = process.env.LLAMA_REWARD_REQUIRE_BROWSER === "1";
const artifacts = path.join(root, ".test-artifacts");

interface PageCheck {
    numbers: { key: (string | number)[]; kind: string; text: string }[];
    plots: { width: number; height: number; marks: number }[];
    drillRows: number;
    visibleAfterFilter: number;
    filterValue: string;
}

function valueAt(report: unknown, key: readonly (string | number)[]): unknown {
    return key.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], report);
}

/** Opens the page, checks it against the report, keeps a screenshot; returns what the page showed. */
async function checkPage(browser: Browser, html: string, report: unknown, name: string, publish = true): Promise<PageCheck> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-html-"));
    const file = path.join(dir, "report.html");
    fs.writeFileSync(file, html);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`file://${file}`, { waitUntil: "load" });
    const check = await page.evaluate(() => {
        const numbers = [...document.querySelectorAll<HTMLElement>("td[data-key]:not([data-null])")].map((td) => ({
            key: JSON.parse(td.dataset.key!) as (string | number)[],
            kind: td.dataset.kind!,
            text: td.textContent!,
        }));
        const plots = [...document.querySelectorAll("figure.plot svg")].map((svg) => {
            const box = svg.getBoundingClientRect();
            return { width: box.width, height: box.height, marks: svg.querySelectorAll(".mark").length };
        });
        const select = document.querySelector<HTMLSelectElement>("#subset-filter");
        const rows = [...document.querySelectorAll<HTMLElement>("table.drill tbody tr")];
        let filterValue = "";
        if (select && select.options.length > 1) {
            filterValue = select.options[1]!.value;
            select.value = filterValue;
            select.dispatchEvent(new Event("change"));
        }
        const visibleAfterFilter = rows.filter((r) => r.style.display !== "none").length;
        return { numbers, plots, drillRows: rows.length, visibleAfterFilter, filterValue };
    });
    fs.mkdirSync(artifacts, { recursive: true });
    await page.evaluate(() => {
        const select = document.querySelector<HTMLSelectElement>("#subset-filter");
        if (select) {
            select.value = "";
            select.dispatchEvent(new Event("change"));
        }
        window.scrollTo(0, 0);
    });
    const shot = path.join(artifacts, `${name}.png`);
    await page.screenshot({ path: shot as `${string}.png` });
    if (publish && process.env.LLAMA_REWARD_UPDATE_SCREENSHOTS === "1") {
        fs.mkdirSync(path.join(root, "docs", "images"), { recursive: true });
        fs.copyFileSync(shot, path.join(root, "docs", "images", `${name}.png`));
    }
    await page.close();
    fs.rmSync(dir, { recursive: true, force: true });
    expect(errors).toEqual([]);
    expect(check.numbers.length).toBeGreaterThanOrEqual(5);
    for (const n of check.numbers) {
        const value = valueAt(report, n.key);
        expect(typeof value, JSON.stringify(n.key)).toBe("number");
        const shown = Number.parseFloat(n.text);
        const v = value as number;
        if (n.kind === "percent")
            expect(Math.abs(shown / 100 - v), `${JSON.stringify(n.key)}: ${n.text} vs ${v}`).toBeLessThanOrEqual(0.0005 + 1e-9);
        else if (n.kind === "int") expect(shown, JSON.stringify(n.key)).toBe(v);
        else {
            const digits = (n.text.split(".")[1] ?? "").length;
            expect(Math.abs(shown - v), `${JSON.stringify(n.key)}: ${n.text} vs ${v}`).toBeLessThanOrEqual(0.5 * 10 ** -digits + 1e-12);
        }
    }
    expect(check.plots.length).toBeGreaterThan(0);
    for (const p of check.plots) {
        expect(p.width).toBeGreaterThan(100);
        expect(p.height).toBeGreaterThan(100);
        expect(p.marks).toBeGreaterThan(0);
    }
    return check;
}

describe.skipIf(chromium === undefined && !required)("report.html in Chromium", () => {
    let browser: Browser;
    beforeAll(async () => {
        if (chromium === undefined)
            throw new Error("LLAMA_REWARD_REQUIRE_BROWSER=1 but no Chromium is installed (apt-get install chromium)");
        browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
    });
    afterAll(async () => {
        await browser?.close();
    });

    it("a best-of-N report shows report.json's numbers, rendered plots and a working subset filter", async () => {
        const items = (await parseBestOfNLines(rewardBench2Rows().map((r) => JSON.stringify(r)))).items;
        const report = await evaluateBestOfN([requireFile(tinyF32), requireFile(tinyF16)], items, {
            data: { source: "rewardbench2-fixture.jsonl" },
        });
        const html = renderHtmlReport(report, { plots: bestOfNPlots(report), items });
        const check = await checkPage(browser, html, JSON.parse(JSON.stringify(report)), "eval-report-best-of-n");
        expect(check.drillRows).toBe(items.length);
        const expectedVisible = items.filter((it) => it.subset === check.filterValue).length;
        expect(check.visibleAfterFilter).toBe(expectedVisible);
        expect(expectedVisible).toBeLessThan(items.length);
    });

    it("a pairs report shows report.json's numbers and rendered plots", async () => {
        const lines = Array.from({ length: 12 }, (_, i) =>
            JSON.stringify({
                prompt: `Question ${i}: ${filler(10, i)}`,
                chosen: filler(12, i + 50),
                rejected: filler(9, i + 90),
                subset: i % 2 ? "alpacaeval-easy" : "math-prm",
            }),
        );
        const { pairs, format } = await parsePairLines(lines);
        const report = await evaluate([requireFile(tinyF32), requireFile(tinyF16)], pairs, { data: { source: "pairs.jsonl", format } });
        const html = renderHtmlReport(report, { plots: await reportPlots(report), pairs });
        await checkPage(browser, html, JSON.parse(JSON.stringify(report)), "eval-report-pairs");
    });

    it("a number that differs from report.json fails the check", async () => {
        const items = (
            await parseBestOfNLines(
                rewardBench2Rows()
                    .slice(0, 4)
                    .map((r) => JSON.stringify(r)),
            )
        ).items;
        const report = await evaluateBestOfN([requireFile(tinyF32)], items);
        const html = renderHtmlReport(report, { plots: bestOfNPlots(report), items });
        const tampered = { ...report, models: [{ ...report.models[0]!, accuracy: report.models[0]!.accuracy + 0.25 }] };
        await expect(checkPage(browser, html, tampered, "eval-report-tampered", false)).rejects.toThrow(/accuracy/);
    });
});
