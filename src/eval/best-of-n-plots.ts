/**
 * The plots of a best-of-N report, as SVG strings: the score of each model
 * per subset, and for each compared model its rewards against the
 * reference's (correct and incorrect completions) and the distribution of
 * each prompt's Kendall's tau between the two rankings.
 */
import type { BestOfNReport } from "./best-of-n-report.js";
import { kendallTau } from "./statistics.js";
import { groupedBarPlot, histogramPlot, type PlotFile, scatterPlot } from "./svg-plots.js";

export function bestOfNPlots(report: BestOfNReport): PlotFile[] {
    const plots: PlotFile[] = [];
    const names = report.models.map((m) => m.name);
    const subsets = [...new Set(report.models.flatMap((m) => Object.keys(m.subsets)))].sort();
    const groups = subsets.length > 0 ? subsets : ["all prompts"];
    const series = report.models.map((m, i) => ({
        name: names[i]!,
        values: subsets.length > 0 ? groups.map((g) => m.subsets[g]?.score) : [m.accuracy],
    }));
    const title = subsets.length > 0 ? "Score by subset" : "Accuracy";
    plots.push({ file: "scores.svg", title, svg: groupedBarPlot(title, "score", groups, series) });
    const reference = names[0]!;
    for (const c of report.comparisons) {
        const correct: [number, number][] = [];
        const incorrect: [number, number][] = [];
        for (const it of report.items) {
            it.rewards[0]!.forEach((r, k) => (k < it.numCorrect ? correct : incorrect).push([r, it.rewards[c.model]![k]!]));
        }
        const scatterTitle = `${c.name} against ${reference}`;
        plots.push({
            file: `scatter-${c.model}.svg`,
            title: scatterTitle,
            svg: scatterPlot(scatterTitle, `reward, ${reference}`, `reward, ${c.name}`, [
                { name: "correct", points: correct },
                { name: "incorrect", points: incorrect },
            ]),
        });
        const taus = report.items.map((it) => kendallTau(it.rewards[0]!, it.rewards[c.model]!)).filter((t) => !Number.isNaN(t));
        const tauTitle = `Kendall's tau per prompt, ${c.name} against ${reference}`;
        plots.push({ file: `kendall-${c.model}.svg`, title: tauTitle, svg: histogramPlot(tauTitle, "Kendall's tau", taus, 20) });
    }
    return plots;
}
