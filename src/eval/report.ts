/**
 * The evaluation report (report.json): per-model accuracy, ties, subset and
 * RewardBench section scores and speed; per-pair rewards of every model; and
 * each model compared with the first (the reference): pair-order agreement,
 * flips, reward deltas and correlations. Values that are undefined (a
 * correlation of a constant series) are null.
 */
import type { PreferencePair, DataFormat } from "./formats.js";
import { rewardBenchScores, type RewardBenchSection } from "./rewardbench.js";
import { absDeltas, flippedPairs, isCorrect, pearson, relativeL2, spearman } from "./statistics.js";

/** What scoring one model produced; buildReport turns these into the report. */
export interface ModelRun {
    /** The GGUF file, or null for a model passed already loaded. */
    path: string | null;
    name: string;
    fileType: string;
    sizeBytes: number;
    /** Rewards of each pair's chosen and rejected conversation, in pair order. */
    chosen: number[];
    rejected: number[];
    /** Wall-clock seconds spent scoring. */
    seconds: number;
    /** Tokens of every conversation scored (chosen and rejected). */
    tokens: number;
    /** Tokens actually decoded (shared prompts count once). */
    decodedTokens: number;
    /** For a model made by the quantization sweep: the file it was quantized from. */
    quantizedFrom?: string;
}

export interface SubsetResult {
    pairs: number;
    accuracy: number;
}

export interface ModelReport {
    path: string | null;
    name: string;
    fileType: string;
    sizeBytes: number;
    quantizedFrom?: string;
    pairs: number;
    /** Fraction of pairs with chosen > rejected (ties count as wrong). */
    accuracy: number;
    /** Pairs whose two rewards are equal. */
    ties: number;
    subsets: Record<string, SubsetResult>;
    /** RewardBench section accuracies (0..1), those with data; omitted without RewardBench subsets. */
    sections?: Partial<Record<RewardBenchSection, number>>;
    /** RewardBench overall score (0..1): the mean of the sections present. */
    score?: number;
    seconds: number;
    tokens: number;
    decodedTokens: number;
    /** Tokens of the conversations scored per second (shared prompts are decoded once, so this is above the decode rate). */
    tokensPerSecond: number;
}

export interface ComparisonReport {
    /** Index in `models` of the compared model; the reference is models[0]. */
    model: number;
    name: string;
    reference: number;
    /** Fraction of pairs whose order (chosen > rejected) is the same as the reference's. */
    pairAgreement: number;
    /** Indices of the pairs whose order changed. */
    flips: number[];
    /** Over all rewards (chosen and rejected). */
    meanAbsDelta: number | null;
    maxAbsDelta: number | null;
    relativeL2: number | null;
    pearson: number | null;
    spearman: number | null;
    /** This model's accuracy minus the reference's. */
    accuracyDelta: number;
}

export interface ItemReport {
    index: number;
    id?: string | number;
    line?: number;
    subset?: string;
    /** Reward of the chosen conversation under each model, in `models` order. */
    chosen: number[];
    rejected: number[];
}

export interface EvalReport {
    tool: "llama-reward";
    version: 1;
    created: string;
    data: { source: string | null; format: DataFormat | null; pairs: number };
    models: ModelReport[];
    comparisons: ComparisonReport[];
    items: ItemReport[];
}

export interface ReportData {
    source?: string;
    format?: DataFormat;
}

function finite(x: number): number | null {
    return Number.isFinite(x) ? x : null;
}

function modelReport(run: ModelRun, pairs: readonly PreferencePair[]): ModelReport {
    let correct = 0;
    let ties = 0;
    const bySubset = new Map<string, { pairs: number; correct: number }>();
    pairs.forEach((pair, i) => {
        const c = run.chosen[i]!;
        const r = run.rejected[i]!;
        const ok = isCorrect(c, r);
        if (ok) correct++;
        if (c === r) ties++;
        if (pair.subset !== undefined) {
            const s = bySubset.get(pair.subset) ?? { pairs: 0, correct: 0 };
            s.pairs++;
            if (ok) s.correct++;
            bySubset.set(pair.subset, s);
        }
    });
    const subsets: Record<string, SubsetResult> = {};
    for (const [name, s] of [...bySubset].sort(([a], [b]) => a.localeCompare(b))) {
        subsets[name] = { pairs: s.pairs, accuracy: s.correct / s.pairs };
    }
    const rb = rewardBenchScores(Object.fromEntries(Object.entries(subsets).map(([k, v]) => [k, v.accuracy])));
    const report: ModelReport = {
        path: run.path,
        name: run.name,
        fileType: run.fileType,
        sizeBytes: run.sizeBytes,
        ...(run.quantizedFrom === undefined ? {} : { quantizedFrom: run.quantizedFrom }),
        pairs: pairs.length,
        accuracy: pairs.length === 0 ? 0 : correct / pairs.length,
        ties,
        subsets,
        ...(rb.score === undefined ? {} : { sections: rb.sections, score: rb.score }),
        seconds: run.seconds,
        tokens: run.tokens,
        decodedTokens: run.decodedTokens,
        tokensPerSecond: run.seconds > 0 ? run.tokens / run.seconds : 0,
    };
    return report;
}

function compare(reference: ModelRun, other: ModelRun, index: number, referenceAccuracy: number, accuracy: number): ComparisonReport {
    const flips = flippedPairs(reference.chosen, reference.rejected, other.chosen, other.rejected);
    const a = [...reference.chosen, ...reference.rejected];
    const b = [...other.chosen, ...other.rejected];
    const deltas = absDeltas(a, b);
    const pairs = reference.chosen.length;
    return {
        model: index,
        name: other.name,
        reference: 0,
        pairAgreement: pairs === 0 ? 1 : (pairs - flips.length) / pairs,
        flips,
        meanAbsDelta: finite(deltas.mean),
        maxAbsDelta: finite(deltas.max),
        relativeL2: finite(relativeL2(a, b)),
        pearson: finite(pearson(a, b)),
        spearman: finite(spearman(a, b)),
        accuracyDelta: accuracy - referenceAccuracy,
    };
}

/** Builds the report from each model's run over `pairs`; models after the first are compared with the first. */
export function buildReport(runs: readonly ModelRun[], pairs: readonly PreferencePair[], data: ReportData = {}): EvalReport {
    for (const run of runs) {
        if (run.chosen.length !== pairs.length || run.rejected.length !== pairs.length) {
            throw new RangeError(`${run.name}: ${run.chosen.length}/${run.rejected.length} rewards for ${pairs.length} pairs`);
        }
    }
    const models = runs.map((run) => modelReport(run, pairs));
    const comparisons = runs.slice(1).map((run, k) => compare(runs[0]!, run, k + 1, models[0]!.accuracy, models[k + 1]!.accuracy));
    const items = pairs.map(
        (pair, index): ItemReport => ({
            index,
            ...(pair.id === undefined ? {} : { id: pair.id }),
            ...(pair.line === undefined ? {} : { line: pair.line }),
            ...(pair.subset === undefined ? {} : { subset: pair.subset }),
            chosen: runs.map((run) => run.chosen[index]!),
            rejected: runs.map((run) => run.rejected[index]!),
        }),
    );
    return {
        tool: "llama-reward",
        version: 1,
        created: new Date().toISOString(),
        data: { source: data.source ?? null, format: data.format ?? null, pairs: pairs.length },
        models,
        comparisons,
        items,
    };
}
