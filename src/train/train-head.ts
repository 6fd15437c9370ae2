/**
 * trainHead(): a reward head on a frozen GGUF model from preference pairs.
 * Reads the pairs (the formats of src/eval/formats.ts), splits them with a
 * seed, computes each distinct conversation's hidden state once
 * (RewardModel.hiddenStatesOfTokens), fits the Bradley–Terry head on those
 * cached features (src/train/bradley-terry-fit.ts) and writes a complete
 * reward-model GGUF (src/train/head-file.ts) and a report.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { RewardModelError, withCallerStack, invalidArgument } from "../errors.js";
import { readPairs, type DataFormat, type PreferencePair } from "../eval/formats.js";
import type { LoadOptions } from "../model/load-options.js";
import { inspectRewardModelFile, type RewardModelFile } from "../model/model-file.js";
import { RewardModel } from "../model/reward-model.js";
import { fitBradleyTerry, type IterationMetrics, type PairMetrics, type StopReason } from "./bradley-terry-fit.js";
import { readInitHead, writeRewardModelFile, type TrainingRecord } from "./head-file.js";
import { splitIndices } from "./seeded-split.js";

/** Fewest training pairs a head is fitted on. */
export const minTrainPairs = 10;

export type TrainHeadProgress =
    | { phase: "features"; completed: number; total: number }
    | ({ phase: "fit" } & IterationMetrics)
    | { phase: "write"; path: string };

export interface TrainHeadOptions {
    /** The frozen base: a llama GGUF, with or without a reward head. */
    model: string;
    /** Preference pairs: a .jsonl(.gz) file, or pairs already read. */
    data: string | PreferencePair[];
    /** The reward-model GGUF to write. */
    out: string;
    /** Replace an existing `out`. Default: false. */
    force?: boolean;
    /** Data format; detected from the first row when absent. */
    format?: DataFormat;
    /** Share of the pairs held out for validation (seeded). Default: 0.1; 0 for none. */
    validation?: number;
    /** Seed of the split. Default: 1. */
    seed?: number;
    /** L2 regularization strength. Default: 1e-3. */
    l2?: number;
    /** Starting head: "zero" (default), "base" (the base file's own head) or the path of a reward model. */
    init?: string;
    /** Write cls.output.bias = −(mean reward over the training conversations), so rewards centre on 0. Default: false. */
    bias?: boolean;
    /** The label written to llama.classifier.output_labels. Default: "LABEL_0". */
    label?: string;
    /** Most L-BFGS iterations (epochs over the cached features). Default: 1000. */
    maxIterations?: number;
    /** Stop after this many iterations without a lower validation loss. Default: 20. */
    patience?: number;
    /** Convergence: ‖gradient‖ ≤ tolerance · max(1, ‖w‖). Default: 1e-6. */
    tolerance?: number;
    /** Where report.json goes; false for none. Default: `<out without .gguf>.report.json`. */
    report?: string | false;
    /** Options for loading the base (requireRewardHead is always false here). */
    load?: Omit<LoadOptions, "requireRewardHead" | "signal" | "onProgress">;
    signal?: AbortSignal;
    onProgress?: (progress: TrainHeadProgress) => void;
}

export interface TrainHeadReport {
    out: string;
    base: string;
    dataSha256: string;
    dataFormat: string;
    pairs: { total: number; train: number; validation: number };
    /** Distinct conversations whose hidden states were computed. */
    conversations: number;
    embeddingSize: number;
    l2: number;
    seed: number;
    validationFraction: number;
    init: string;
    bias: number | null;
    iterations: number;
    bestIteration: number;
    stopReason: StopReason;
    train: PairMetrics;
    validation: PairMetrics | null;
    seconds: { features: number; fit: number; write: number };
    history: IterationMetrics[];
}

export interface TrainHeadResult {
    /** The head written, float64 (the file holds it as F32). */
    weight: Float64Array;
    bias: number | undefined;
    report: TrainHeadReport;
    /** Where report.json was written, if it was. */
    reportPath: string | undefined;
}

function invalidOption(message: string): never {
    throw invalidArgument(message);
}

function numberOption(value: unknown, name: string, fallback: number, check: (n: number) => boolean, rule: string): number {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !check(value)) invalidOption(`${name} must be ${rule}, got ${String(value)}`);
    return value;
}

function defaultReportPath(out: string): string {
    return `${out.endsWith(".gguf") ? out.slice(0, -".gguf".length) : out}.report.json`;
}

function where(pair: PreferencePair, index: number, source: string): string {
    return pair.line === undefined ? `pairs[${index}]` : `${source} line ${pair.line}`;
}

/** sha256 of the data: the file's bytes, or the JSON of pairs passed in. */
function dataHash(data: string | PreferencePair[]): string {
    const hash = createHash("sha256");
    if (typeof data === "string") hash.update(fs.readFileSync(data));
    else hash.update(JSON.stringify(data.map(({ chosen, rejected }) => ({ chosen, rejected }))));
    return hash.digest("hex");
}

/** The head the fit starts from: undefined for zeros. */
function startingHead(init: string, base: string, baseFile: RewardModelFile): Float64Array | undefined {
    if (init === "zero") return undefined;
    if (init !== "base") return readInitHead(init, baseFile.embeddingSize);
    if (!baseFile.hasRewardHead) {
        throw new RewardModelError("ERR_NO_REWARD_HEAD", `init "base": ${base} has no reward head (cls.output.weight) to start from`);
    }
    return readInitHead(base, baseFile.embeddingSize);
}

/** Fails before any work when `file` cannot be created (its folder is missing or read-only). */
function checkWritable(file: string, option: string): void {
    const dir = path.dirname(path.resolve(file));
    try {
        fs.accessSync(dir, fs.constants.W_OK);
    } catch (cause) {
        throw new RewardModelError("ERR_INVALID_OPTION", `${option} ${file}: cannot write into ${dir} (${(cause as Error).message})`, {
            cause,
        });
    }
}

/** Trains a head and writes the reward model; see TrainHeadOptions. */
export function trainHead(options: TrainHeadOptions): Promise<TrainHeadResult> {
    return withCallerStack(() => trainHeadImpl(options));
}

async function trainHeadImpl(options: TrainHeadOptions): Promise<TrainHeadResult> {
    if (typeof options !== "object" || options === null) invalidOption("trainHead needs an options object");
    const { model: base, data, out, signal, onProgress } = options;
    if (typeof base !== "string" || base === "") invalidOption("trainHead needs model: the path of the base GGUF");
    if (typeof out !== "string" || out === "") invalidOption("trainHead needs out: the path of the GGUF to write");
    if (typeof data !== "string" && !Array.isArray(data)) invalidOption("trainHead needs data: a .jsonl path or an array of pairs");
    const validationFraction = numberOption(options.validation, "validation", 0.1, (n) => n >= 0 && n < 1, "a fraction from 0 to below 1");
    const seed = numberOption(
        options.seed,
        "seed",
        1,
        (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff,
        "an integer from 0 to 4294967295",
    );
    const l2 = numberOption(options.l2, "l2", 1e-3, (n) => Number.isFinite(n) && n >= 0, "a number ≥ 0");
    const maxIterations = numberOption(
        options.maxIterations,
        "maxIterations",
        1000,
        (n) => Number.isInteger(n) && n >= 1,
        "a positive integer",
    );
    const patience = numberOption(options.patience, "patience", 20, (n) => Number.isInteger(n) && n >= 1, "a positive integer");
    const tolerance = numberOption(options.tolerance, "tolerance", 1e-6, (n) => Number.isFinite(n) && n > 0, "a positive number");
    const init = options.init ?? "zero";
    if (typeof init !== "string" || init === "") invalidOption(`init must be "zero", "base" or the path of a reward model`);
    const label = options.label ?? "LABEL_0";
    if (typeof label !== "string" || label === "") invalidOption("label must be a non-empty string");
    const reportPath = options.report === false ? undefined : (options.report ?? defaultReportPath(out));
    if (fs.existsSync(out) && options.force !== true) {
        throw invalidArgument(`${out} exists; pass force (--force) to replace it`);
    }
    if (path.resolve(out) === path.resolve(base)) invalidOption(`out ${out} is the base model itself; write the new model to another file`);

    // The base: a llama GGUF, head or not (ERR_NOT_GGUF, ERR_UNSUPPORTED_ARCHITECTURE, ERR_CORRUPT_MODEL, ...).
    const baseFile = inspectRewardModelFile(base, { requireRewardHead: false });
    const initWeight = startingHead(init, base, baseFile);
    checkWritable(out, "out");
    if (reportPath !== undefined) checkWritable(reportPath, "report");

    const source = typeof data === "string" ? data : "pairs";
    const { format, pairs } =
        typeof data === "string"
            ? await readPairs(data, { format: options.format })
            : { format: options.format ?? "messages", pairs: data };
    pairs.forEach((pair, i) => {
        if (JSON.stringify(pair.chosen) === JSON.stringify(pair.rejected)) {
            throw invalidArgument(`${where(pair, i, source)}: "chosen" equals "rejected"; the pair says nothing`, "ERR_INVALID_DATA");
        }
    });
    const split = splitIndices(pairs.length, validationFraction, seed);
    if (split.train.length < minTrainPairs) {
        throw new RewardModelError(
            "ERR_INVALID_DATA",
            `${source} holds ${pairs.length} pairs, ${split.train.length} of them for training after the ` +
                `${validationFraction} validation split; train-head needs at least ${minTrainPairs} training pairs`,
        );
    }
    const dataSha256 = dataHash(data);
    if (signal?.aborted) throw new RewardModelError("ERR_ABORTED", "training was aborted", { cause: signal.reason });

    // Features: one forward pass per distinct conversation.
    const featureStart = performance.now();
    const model = await RewardModel.load(base, { ...options.load, requireRewardHead: false, signal });
    let rows: Float32Array[];
    const chosenRow = new Int32Array(pairs.length);
    const rejectedRow = new Int32Array(pairs.length);
    try {
        const rowOf = new Map<string, number>();
        const lists: number[][] = [];
        const rowFor = (tokens: number[]): number => {
            const key = tokens.join(",");
            let row = rowOf.get(key);
            if (row === undefined) {
                row = lists.length;
                rowOf.set(key, row);
                lists.push(tokens);
            }
            return row;
        };
        const tokenCache = new Map<string, number[]>(); // a conversation met again is not rendered again
        const tokensOf = (pair: PreferencePair, i: number, field: "chosen" | "rejected"): number[] => {
            try {
                const key = JSON.stringify(pair[field]);
                let tokens = tokenCache.get(key);
                if (tokens === undefined) {
                    tokens = model.tokenizeConversation(pair[field]);
                    tokenCache.set(key, tokens);
                }
                return tokens;
            } catch (error) {
                if (error instanceof RewardModelError) {
                    throw new RewardModelError(error.code, `${where(pair, i, source)}: "${field}": ${error.message}`, { cause: error });
                }
                throw error;
            }
        };
        pairs.forEach((pair, i) => {
            chosenRow[i] = rowFor(tokensOf(pair, i, "chosen"));
            rejectedRow[i] = rowFor(tokensOf(pair, i, "rejected"));
            if (chosenRow[i] === rejectedRow[i]) {
                throw new RewardModelError(
                    "ERR_INVALID_DATA",
                    `${where(pair, i, source)}: "chosen" and "rejected" are the same tokens once rendered; the pair says nothing`,
                );
            }
        });
        const total = lists.length;
        onProgress?.({ phase: "features", completed: 0, total });
        rows = await model.hiddenStatesOfTokens(lists, {
            signal,
            onProgress: onProgress ? ({ completed }) => onProgress({ phase: "features", completed, total }) : undefined,
        });
    } finally {
        await model.dispose();
    }
    const featureSeconds = (performance.now() - featureStart) / 1000;

    // Fit on the cached features.
    const fitStart = performance.now();
    const pick = (indices: number[]) => ({
        chosen: Int32Array.from(indices, (i) => chosenRow[i]!),
        rejected: Int32Array.from(indices, (i) => rejectedRow[i]!),
    });
    const fit = fitBradleyTerry(
        rows,
        baseFile.embeddingSize,
        pick(split.train),
        split.validation.length > 0 ? pick(split.validation) : undefined,
        {
            l2,
            init: initWeight,
            maxIterations,
            patience,
            tolerance,
            signal,
            onIteration: onProgress ? (m) => onProgress({ phase: "fit", ...m }) : undefined,
        },
    );
    let bias: number | undefined;
    if (options.bias === true) {
        const trainRows = new Set<number>();
        for (const i of split.train) trainRows.add(chosenRow[i]!).add(rejectedRow[i]!);
        let sum = 0;
        for (const j of trainRows) {
            const h = rows[j]!;
            for (let k = 0; k < h.length; k++) sum += fit.weight[k]! * h[k]!;
        }
        bias = -sum / trainRows.size;
    }
    const fitSeconds = (performance.now() - fitStart) / 1000;

    // The reward model, then the report.
    const writeStart = performance.now();
    onProgress?.({ phase: "write", path: out });
    const initName = init === "zero" || init === "base" ? init : `file:${path.basename(init)}`;
    const record: TrainingRecord = {
        dataSha256,
        dataFormat: format,
        trainPairs: split.train.length,
        validationPairs: split.validation.length,
        trainAccuracy: fit.train.accuracy,
        trainLoss: fit.train.loss,
        validationAccuracy: fit.validation?.accuracy,
        validationLoss: fit.validation?.loss,
        l2,
        seed,
        iterations: fit.iterations,
        init: initName,
    };
    writeRewardModelFile(base, baseFile.header, out, { weight: fit.weight, bias, label }, record);
    const writeSeconds = (performance.now() - writeStart) / 1000;
    const report: TrainHeadReport = {
        out,
        base,
        dataSha256,
        dataFormat: format,
        pairs: { total: pairs.length, train: split.train.length, validation: split.validation.length },
        conversations: rows.length,
        embeddingSize: baseFile.embeddingSize,
        l2,
        seed,
        validationFraction,
        init: initName,
        bias: bias ?? null,
        iterations: fit.iterations,
        bestIteration: fit.bestIteration,
        stopReason: fit.stopReason,
        train: fit.train,
        validation: fit.validation ?? null,
        seconds: { features: featureSeconds, fit: fitSeconds, write: writeSeconds },
        history: fit.history,
    };
    if (reportPath !== undefined) {
        const tmp = `${reportPath}.tmp`;
        try {
            fs.writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`);
            fs.renameSync(tmp, reportPath);
        } catch (cause) {
            fs.rmSync(tmp, { force: true });
            throw new RewardModelError("ERR_INVALID_OPTION", `cannot write the report ${reportPath}: ${(cause as Error).message}`, {
                cause,
            });
        }
    }
    return { weight: fit.weight, bias, report, reportPath };
}
