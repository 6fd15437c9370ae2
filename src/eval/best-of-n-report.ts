/**
 * The best-of-N evaluation report (report.json with `kind: "best-of-n"`):
 * per model, each subset's score as RewardBench 2 computes it (Ties with its
 * own formula), the overall score (the mean of the subset scores), accuracy
 * over the prompts outside Ties, truncation counts and speed; every
 * completion's reward under every model; and each model compared with the
 * first: how often the top-ranked completion changes, Kendall's tau of each
 * prompt's ranking, the score change per subset and reward deltas.
 */
import type { BestOfNFormat, BestOfNItem } from "./best-of-n-formats.js";
import { argmax } from "../model/preference.js";
import { isTiesSubset, promptResult, type TiesScore, tiesScore } from "./rewardbench2.js";
import { absDeltas, kendallTau, mean, pearson, spearman } from "./statistics.js";

/** What scoring one model over the items produced. */
export interface BestOfNRun {
    path: string | null;
    name: string;
    fileType: string;
    sizeBytes: number;
    quantizedFrom?: string;
    /** rewards[i][k]: completion k of item i (correct completions first). */
    rewards: number[][];
    /** Completions cut to the maximum length. */
    truncated: number;
    seconds: number;
    tokens: number;
    decodedTokens: number;
}

export interface BestOfNSubsetResult {
    prompts: number;
    /** The subset's score in 0..1: mean prompt result, or the Ties formula. */
    score: number;
    /** The parts of the Ties score, for the Ties subset. */
    ties?: TiesScore;
}

export interface BestOfNModelReport {
    path: string | null;
    name: string;
    fileType: string;
    sizeBytes: number;
    quantizedFrom?: string;
    prompts: number;
    completions: number;
    /** Mean prompt result (1/k when the chosen completion is among the k best) over the prompts outside Ties. */
    accuracy: number;
    subsets: Record<string, BestOfNSubsetResult>;
    /** Mean of the subset scores (RewardBench 2's overall score); null when no row has a subset. */
    score: number | null;
    truncated: number;
    seconds: number;
    tokens: number;
    decodedTokens: number;
    tokensPerSecond: number;
}

export interface BestOfNComparison {
    model: number;
    name: string;
    reference: number;
    /** Fraction of prompts whose top-ranked completion differs from the reference's. */
    topChanged: number;
    /** Indices of those prompts. */
    topChangedItems: number[];
    /** Mean over prompts of Kendall's tau-b between the two rankings of its completions (null if undefined everywhere). */
    kendallTau: number | null;
    /** Per subset: this model's score minus the reference's. */
    subsetDelta: Record<string, number>;
    scoreDelta: number | null;
    accuracyDelta: number;
    meanAbsDelta: number | null;
    maxAbsDelta: number | null;
    pearson: number | null;
    spearman: number | null;
}

export interface BestOfNItemReport {
    index: number;
    id?: string | number;
    line?: number;
    subset?: string;
    numCorrect: number;
    /** rewards[m][k]: completion k (correct ones first) under model m. */
    rewards: number[][];
    /** `best-of-n` rows: the input index of each completion. */
    sourceIndex?: number[];
}

export interface BestOfNReport {
    tool: "llama-reward";
    version: 1;
    kind: "best-of-n";
    created: string;
    data: {
        source: string | null;
        format: BestOfNFormat | null;
        prompts: number;
        completions: number;
        /** Tokens kept per completion (the start; the end is cut), or null for no limit. */
        maxLength: number | null;
        warnings: string[];
    };
    models: BestOfNModelReport[];
    comparisons: BestOfNComparison[];
    items: BestOfNItemReport[];
}

export interface BestOfNReportData {
    source?: string;
    format?: BestOfNFormat;
    maxLength?: number;
    warnings?: string[];
}

function finite(x: number): number | null {
    return Number.isFinite(x) ? x : null;
}

function subsetResults(run: BestOfNRun, items: readonly BestOfNItem[]): Record<string, BestOfNSubsetResult> {
    const groups = new Map<string, number[]>();
    items.forEach((item, i) => {
        if (item.subset === undefined) return;
        const list = groups.get(item.subset) ?? [];
        list.push(i);
        groups.set(item.subset, list);
    });
    const out: Record<string, BestOfNSubsetResult> = {};
    for (const [name, indices] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
        if (isTiesSubset(name)) {
            const ties = tiesScore(
                indices.map((i) => ({ id: String(items[i]!.id), rewards: run.rewards[i]!, numCorrect: items[i]!.numCorrect })),
            );
            out[name] = { prompts: indices.length, score: ties.score, ties };
        } else {
            out[name] = { prompts: indices.length, score: mean(indices.map((i) => promptResult(run.rewards[i]!))) };
        }
    }
    return out;
}

function modelReport(run: BestOfNRun, items: readonly BestOfNItem[]): BestOfNModelReport {
    const subsets = subsetResults(run, items);
    const scores = Object.values(subsets).map((s) => s.score);
    const plain = items.flatMap((item, i) => (isTiesSubset(item.subset) ? [] : [promptResult(run.rewards[i]!)]));
    return {
        path: run.path,
        name: run.name,
        fileType: run.fileType,
        sizeBytes: run.sizeBytes,
        ...(run.quantizedFrom === undefined ? {} : { quantizedFrom: run.quantizedFrom }),
        prompts: items.length,
        completions: items.reduce((n, item) => n + item.responses.length, 0),
        accuracy: plain.length === 0 ? 0 : mean(plain),
        subsets,
        score: scores.length === 0 ? null : mean(scores),
        truncated: run.truncated,
        seconds: run.seconds,
        tokens: run.tokens,
        decodedTokens: run.decodedTokens,
        tokensPerSecond: run.seconds > 0 ? run.tokens / run.seconds : 0,
    };
}

function compare(
    reference: BestOfNRun,
    other: BestOfNRun,
    index: number,
    ref: BestOfNModelReport,
    mine: BestOfNModelReport,
): BestOfNComparison {
    const topChangedItems: number[] = [];
    const taus: number[] = [];
    reference.rewards.forEach((r, i) => {
        const o = other.rewards[i]!;
        if (argmax(r) !== argmax(o)) topChangedItems.push(i);
        const tau = kendallTau(r, o);
        if (!Number.isNaN(tau)) taus.push(tau);
    });
    const a = reference.rewards.flat();
    const b = other.rewards.flat();
    const deltas = absDeltas(a, b);
    const subsetDelta: Record<string, number> = {};
    for (const [name, s] of Object.entries(mine.subsets)) {
        const r = ref.subsets[name];
        if (r !== undefined) subsetDelta[name] = s.score - r.score;
    }
    return {
        model: index,
        name: other.name,
        reference: 0,
        topChanged: reference.rewards.length === 0 ? 0 : topChangedItems.length / reference.rewards.length,
        topChangedItems,
        kendallTau: taus.length === 0 ? null : mean(taus),
        subsetDelta,
        scoreDelta: ref.score === null || mine.score === null ? null : mine.score - ref.score,
        accuracyDelta: mine.accuracy - ref.accuracy,
        meanAbsDelta: finite(deltas.mean),
        maxAbsDelta: finite(deltas.max),
        pearson: finite(pearson(a, b)),
        spearman: finite(spearman(a, b)),
    };
}

/** Builds the best-of-N report; models after the first are compared with the first. */
export function buildBestOfNReport(
    runs: readonly BestOfNRun[],
    items: readonly BestOfNItem[],
    data: BestOfNReportData = {},
): BestOfNReport {
    for (const run of runs) {
        const wrong = run.rewards.length !== items.length || run.rewards.some((r, i) => r.length !== items[i]!.responses.length);
        if (wrong) throw new RangeError(`${run.name}: the rewards do not match the items' completions`);
    }
    const models = runs.map((run) => modelReport(run, items));
    const comparisons = runs.slice(1).map((run, k) => compare(runs[0]!, run, k + 1, models[0]!, models[k + 1]!));
    return {
        tool: "llama-reward",
        version: 1,
        kind: "best-of-n",
        created: new Date().toISOString(),
        data: {
            source: data.source ?? null,
            format: data.format ?? null,
            prompts: items.length,
            completions: items.reduce((n, item) => n + item.responses.length, 0),
            maxLength: data.maxLength ?? null,
            warnings: data.warnings ?? [],
        },
        models,
        comparisons,
        items: items.map((item, index) => ({
            index,
            ...(item.id === undefined ? {} : { id: item.id }),
            ...(item.line === undefined ? {} : { line: item.line }),
            ...(item.subset === undefined ? {} : { subset: item.subset }),
            numCorrect: item.numCorrect,
            rewards: runs.map((run) => run.rewards[index]!),
            ...(item.sourceIndex === undefined ? {} : { sourceIndex: item.sourceIndex }),
        })),
    };
}
