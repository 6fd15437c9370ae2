/**
 * SVG plots of an evaluation report, rendered to strings without a DOM:
 * d3-scale for scales and ticks, d3-shape for lines, d3-array for bins.
 * Every data mark carries class="mark" (and data-* values) so a reader or a
 * test can find them: circles in the scatter plots, rects in the histograms
 * and bar charts.
 */
import { bin, extent, max } from "d3-array";
import { scaleBand, scaleLinear, type ScaleLinear } from "d3-scale";
import { line } from "d3-shape";
import type { EvalReport } from "./report.js";
import { rewardBenchSectionNames } from "./rewardbench.js";

const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

export function color(i: number): string {
    return palette[i % palette.length]!;
}

function escapeXml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

type Attrs = Record<string, string | number | undefined>;

function el(tag: string, attrs: Attrs, children: string | string[] = []): string {
    const a = Object.entries(attrs)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => ` ${k}="${escapeXml(typeof v === "number" ? fmt(v) : v!)}"`)
        .join("");
    const body = Array.isArray(children) ? children.join("") : escapeXml(children);
    return body === "" ? `<${tag}${a}/>` : `<${tag}${a}>${body}</${tag}>`;
}

/** Coordinates with two decimals keep files small. */
function fmt(v: number): string {
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

interface Frame {
    width: number;
    height: number;
    margin: { top: number; right: number; bottom: number; left: number };
}

const frame: Frame = { width: 640, height: 440, margin: { top: 40, right: 20, bottom: 56, left: 64 } };

function svg(title: string, body: string[], legend: string[] = []): string {
    return `<?xml version="1.0" encoding="UTF-8"?>\n${el(
        "svg",
        {
            xmlns: "http://www.w3.org/2000/svg",
            width: frame.width,
            height: frame.height,
            viewBox: `0 0 ${frame.width} ${frame.height}`,
            "font-family": "sans-serif",
            "font-size": 12,
        },
        [
            el("title", {}, title),
            el("rect", { x: 0, y: 0, width: frame.width, height: frame.height, fill: "white" }),
            el("text", { x: frame.width / 2, y: 22, "text-anchor": "middle", "font-size": 15, "font-weight": "bold" }, title),
            ...body,
            ...legend,
        ],
    )}\n`;
}

function xAxis(x: ScaleLinear<number, number>, y0: number, label: string): string {
    const ticks = x.ticks(6);
    const format = x.tickFormat(6);
    const [r0, r1] = x.range() as [number, number];
    return el("g", { class: "axis x" }, [
        el("line", { x1: r0, x2: r1, y1: y0, y2: y0, stroke: "#333" }),
        ...ticks.map((t) =>
            el("g", {}, [
                el("line", { x1: x(t), x2: x(t), y1: y0, y2: y0 + 5, stroke: "#333" }),
                el("text", { x: x(t), y: y0 + 18, "text-anchor": "middle" }, format(t)),
            ]),
        ),
        el("text", { x: (r0 + r1) / 2, y: y0 + 40, "text-anchor": "middle" }, label),
    ]);
}

function yAxis(y: ScaleLinear<number, number>, x0: number, label: string, grid = 0): string {
    const ticks = y.ticks(6);
    const format = y.tickFormat(6);
    const [r0, r1] = y.range() as [number, number];
    return el("g", { class: "axis y" }, [
        el("line", { x1: x0, x2: x0, y1: r0, y2: r1, stroke: "#333" }),
        ...ticks.map((t) =>
            el("g", {}, [
                el("line", { x1: x0 - 5, x2: x0 + grid, y1: y(t), y2: y(t), stroke: grid > 0 ? "#ddd" : "#333" }),
                el("text", { x: x0 - 8, y: y(t) + 4, "text-anchor": "end" }, format(t)),
            ]),
        ),
        el("text", { x: 16, y: (r0 + r1) / 2, "text-anchor": "middle", transform: `rotate(-90 16 ${fmt((r0 + r1) / 2)})` }, label),
    ]);
}

function legendOf(names: string[], colors: string[]): string[] {
    return [
        el(
            "g",
            { class: "legend" },
            names.map((name, i) =>
                el("g", {}, [
                    el("rect", { x: frame.margin.left + 10, y: frame.margin.top + 6 + i * 18, width: 12, height: 12, fill: colors[i] }),
                    el("text", { x: frame.margin.left + 28, y: frame.margin.top + 16 + i * 18 }, name),
                ]),
            ),
        ),
    ];
}

export interface ScatterSeries {
    name: string;
    points: readonly (readonly [number, number])[];
}

/** A scatter plot with the y = x line: one circle (class "mark") per point. */
export function scatterPlot(title: string, xLabel: string, yLabel: string, series: readonly ScatterSeries[]): string {
    const all = series.flatMap((s) => s.points.flat());
    let [lo, hi] = extent(all) as [number | undefined, number | undefined];
    if (lo === undefined || hi === undefined) [lo, hi] = [0, 1];
    if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
    const { width, height, margin } = frame;
    const x = scaleLinear()
        .domain([lo, hi])
        .range([margin.left, width - margin.right])
        .nice();
    const y = scaleLinear()
        .domain(x.domain())
        .range([height - margin.bottom, margin.top]);
    const [d0, d1] = x.domain() as [number, number];
    const diagonal =
        line<number>()
            .x((v) => x(v))
            .y((v) => y(v))([d0, d1]) ?? "";
    const body = [
        xAxis(x, height - margin.bottom, xLabel),
        yAxis(y, margin.left, yLabel, width - margin.left - margin.right),
        el("path", { class: "identity", d: diagonal, stroke: "#888", "stroke-dasharray": "4 3", fill: "none" }),
        ...series.map((s, i) =>
            el(
                "g",
                { class: "series", "data-name": s.name, fill: color(i), "fill-opacity": 0.65 },
                s.points.map(([px, py]) => el("circle", { class: "mark", cx: x(px), cy: y(py), r: 2.5, "data-x": px, "data-y": py })),
            ),
        ),
    ];
    return svg(
        title,
        body,
        legendOf(
            series.map((s) => s.name),
            series.map((_, i) => color(i)),
        ),
    );
}

/** A histogram: one rect (class "mark", data-count) per bin, including empty bins. */
export function histogramPlot(title: string, xLabel: string, values: readonly number[], binCount = 30): string {
    const { width, height, margin } = frame;
    let [lo, hi] = extent(values) as [number | undefined, number | undefined];
    if (lo === undefined || hi === undefined) [lo, hi] = [0, 1];
    if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
    const x = scaleLinear()
        .domain([lo, hi])
        .range([margin.left, width - margin.right])
        .nice(binCount);
    const bins = bin()
        .domain(x.domain() as [number, number])
        .thresholds(x.ticks(binCount))(values);
    const y = scaleLinear()
        .domain([0, max(bins, (b) => b.length) ?? 1])
        .range([height - margin.bottom, margin.top])
        .nice();
    const body = [
        xAxis(x, height - margin.bottom, xLabel),
        yAxis(y, margin.left, "rewards", width - margin.left - margin.right),
        el(
            "g",
            { class: "bars", fill: color(0) },
            bins.map((b) =>
                el("rect", {
                    class: "mark",
                    x: x(b.x0!) + 0.5,
                    y: y(b.length),
                    width: Math.max(0, x(b.x1!) - x(b.x0!) - 1),
                    height: y(0) - y(b.length),
                    "data-count": b.length,
                    "data-x0": b.x0!,
                    "data-x1": b.x1!,
                }),
            ),
        ),
    ];
    const [d0, d1] = x.domain() as [number, number];
    if (d0 <= 0 && 0 <= d1) {
        body.push(
            el("path", {
                class: "zero",
                d:
                    line<number>()
                        .x(() => x(0))
                        .y((v) => v)([y(0), margin.top]) ?? "",
                stroke: "#e15759",
            }),
        );
    }
    return svg(title, body);
}

export interface BarSeries {
    name: string;
    /** One value (0..1) per group; undefined leaves a gap. */
    values: readonly (number | undefined)[];
}

/** Grouped bars on a 0..1 axis: one rect (class "mark") per defined value. */
export function groupedBarPlot(title: string, yLabel: string, groups: readonly string[], series: readonly BarSeries[]): string {
    const { width, height, margin } = frame;
    const bottom = margin.bottom + 40; // room for rotated group names
    const x = scaleBand<string>()
        .domain(groups)
        .range([margin.left, width - margin.right])
        .paddingInner(0.2)
        .paddingOuter(0.1);
    const inner = scaleBand<number>()
        .domain(series.map((_, i) => i))
        .range([0, x.bandwidth()])
        .padding(0.05);
    const y = scaleLinear()
        .domain([0, 1])
        .range([height - bottom, margin.top + series.length * 18 + 8]);
    const body = [
        yAxis(y, margin.left, yLabel, width - margin.left - margin.right),
        el("line", { x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0), stroke: "#333" }),
        ...groups.map((g) =>
            el(
                "text",
                {
                    x: x(g)! + x.bandwidth() / 2,
                    y: y(0) + 12,
                    "text-anchor": "end",
                    transform: `rotate(-35 ${fmt(x(g)! + x.bandwidth() / 2)} ${fmt(y(0) + 12)})`,
                },
                g,
            ),
        ),
        ...series.map((s, i) =>
            el(
                "g",
                { class: "series", "data-name": s.name, fill: color(i) },
                groups.flatMap((g, k) => {
                    const v = s.values[k];
                    if (v === undefined) return [];
                    return [
                        el(
                            "rect",
                            {
                                class: "mark",
                                x: x(g)! + inner(i)!,
                                y: y(v),
                                width: inner.bandwidth(),
                                height: y(0) - y(v),
                                "data-group": g,
                                "data-value": v,
                            },
                            [el("title", {}, `${s.name}, ${g}: ${(v * 100).toFixed(1)}%`)],
                        ),
                    ];
                }),
            ),
        ),
    ];
    return svg(
        title,
        body,
        legendOf(
            series.map((s) => s.name),
            series.map((_, i) => color(i)),
        ),
    );
}

export interface PlotFile {
    file: string;
    title: string;
    svg: string;
}

/**
 * The report's plots: accuracy by RewardBench section (or subset, or
 * overall) per model; and for each model after the first, its rewards
 * against the reference's and a histogram of the reward deltas.
 */
export function reportPlots(report: EvalReport): PlotFile[] {
    const plots: PlotFile[] = [];
    const names = report.models.map((m) => m.name);
    const withSections = report.models.some((m) => m.sections !== undefined);
    const subsets = [...new Set(report.models.flatMap((m) => Object.keys(m.subsets)))].sort();
    let groups: string[];
    let series: BarSeries[];
    let what: string;
    if (withSections) {
        groups = rewardBenchSectionNames.filter((s) => report.models.some((m) => m.sections?.[s] !== undefined));
        series = report.models.map((m, i) => ({ name: names[i]!, values: groups.map((g) => m.sections?.[g as keyof typeof m.sections]) }));
        what = "RewardBench section";
    } else if (subsets.length > 0) {
        groups = subsets;
        series = report.models.map((m, i) => ({ name: names[i]!, values: groups.map((g) => m.subsets[g]?.accuracy) }));
        what = "subset";
    } else {
        groups = ["all pairs"];
        series = report.models.map((m, i) => ({ name: names[i]!, values: [m.accuracy] }));
        what = "model";
    }
    const title = `Accuracy by ${what}`;
    plots.push({ file: "accuracy.svg", title, svg: groupedBarPlot(title, "accuracy", groups, series) });
    const reference = names[0]!;
    for (const c of report.comparisons) {
        const chosen = report.items.map((it) => [it.chosen[0]!, it.chosen[c.model]!] as const);
        const rejected = report.items.map((it) => [it.rejected[0]!, it.rejected[c.model]!] as const);
        const scatterTitle = `${c.name} against ${reference}`;
        plots.push({
            file: `scatter-${c.model}.svg`,
            title: scatterTitle,
            svg: scatterPlot(scatterTitle, `reward, ${reference}`, `reward, ${c.name}`, [
                { name: "chosen", points: chosen },
                { name: "rejected", points: rejected },
            ]),
        });
        const deltas = report.items.flatMap((it) => [it.chosen[c.model]! - it.chosen[0]!, it.rejected[c.model]! - it.rejected[0]!]);
        const histTitle = `Reward deltas, ${c.name} minus ${reference}`;
        plots.push({ file: `deltas-${c.model}.svg`, title: histTitle, svg: histogramPlot(histTitle, "reward delta", deltas) });
    }
    return plots;
}
