/**
 * `evaluate()`: scores every pair's chosen and rejected conversation with
 * each model (each conversation rendered and tokenized once, then one
 * `scoreTokenBatch` per model, so a pair's shared prompt is decoded once)
 * and builds the report. Models given as paths are loaded one
 * at a time and disposed after scoring; loaded models are used as they are.
 */
import path from "node:path";
import { RewardModelError, isRewardModelError, invalidArgument } from "../errors.js";
import type { LoadOptions } from "../model/load-options.js";
import { RewardModel } from "../model/reward-model.js";
import type { DataFormat, PreferencePair } from "./formats.js";
import { buildReport, type EvalReport, type ModelRun } from "./report.js";

/** A model to evaluate: a GGUF path, a loaded model, or either with a display name. */
export type EvalModel = string | RewardModel | EvalModelSpec;

export interface EvalModelSpec {
    model: string | RewardModel;
    name?: string;
    /** Recorded in the report for models made by quantizing another file. */
    quantizedFrom?: string;
}

export interface EvalProgress {
    /** Index of the model in the list. */
    model: number;
    name: string;
    phase: "load" | "score" | "done";
    /** Conversations scored so far and in all (two per pair). */
    completed: number;
    total: number;
}

export interface EvaluateOptions {
    /** Load options for models given as paths. */
    load?: Omit<LoadOptions, "signal" | "onProgress">;
    signal?: AbortSignal;
    onProgress?: (progress: EvalProgress) => void;
    /** Where the pairs came from, recorded in the report. */
    data?: { source?: string; format?: DataFormat };
}

export function spec(model: EvalModel): EvalModelSpec {
    return typeof model === "object" && !(model instanceof RewardModel) ? model : { model };
}

export function defaultName(model: string | RewardModel, index: number): string {
    if (typeof model === "string") return path.basename(model).replace(/\.gguf$/i, "");
    return model.info.name !== "" ? model.info.name : `model ${index}`;
}

/**
 * Evaluates `models` on preference `pairs`: accuracy (chosen > rejected
 * strictly), per-subset and RewardBench section scores, per-pair rewards,
 * and each model after the first compared with the first.
 */
export async function evaluate(
    models: EvalModel | readonly EvalModel[],
    pairs: readonly PreferencePair[],
    options: EvaluateOptions = {},
): Promise<EvalReport> {
    const list = (Array.isArray(models) ? models : [models]) as readonly EvalModel[];
    if (list.length === 0) throw invalidArgument("evaluate needs at least one model");
    if (!Array.isArray(pairs) || pairs.length === 0)
        throw invalidArgument("evaluate needs a non-empty array of preference pairs", "ERR_INVALID_DATA");
    const specs = list.map(spec);
    for (const [i, s] of specs.entries()) {
        if (typeof s.model !== "string" && !(s.model instanceof RewardModel)) {
            throw invalidArgument(`models[${i}] must be a GGUF path or a RewardModel`);
        }
    }
    const runs: ModelRun[] = [];
    for (const [index, s] of specs.entries()) {
        runs.push(await evaluateOne(s, index, pairs, options));
    }
    return buildReport(runs, pairs, options.data);
}

async function evaluateOne(s: EvalModelSpec, index: number, pairs: readonly PreferencePair[], options: EvaluateOptions): Promise<ModelRun> {
    const name = s.name ?? defaultName(s.model, index);
    const total = pairs.length * 2;
    const progress = (phase: EvalProgress["phase"], completed: number) =>
        options.onProgress?.({ model: index, name, phase, completed, total });
    progress("load", 0);
    const model = typeof s.model === "string" ? await RewardModel.load(s.model, { ...options.load, signal: options.signal }) : s.model;
    try {
        // The exact tokens scoring evaluates (template, BOS policy, truncation), made once: they
        // are counted for the report and scored as they are.
        const lists: number[][] = [];
        let tokens = 0;
        pairs.forEach((pair, i) => {
            for (const side of ["chosen", "rejected"] as const) {
                try {
                    lists.push(model.tokenizeConversation(pair[side]));
                } catch (error) {
                    throw itemError(error, "pair", i, pair.line, side);
                }
                tokens += lists[lists.length - 1]!.length;
            }
        });
        progress("score", 0);
        const decodedBefore = model.stats.tokens;
        const started = performance.now();
        const rewards = (
            await model.scoreTokenBatch(lists, {
                signal: options.signal,
                onProgress: ({ completed }) => progress("score", completed),
            })
        ).map((labels) => labels[0]!);
        const seconds = (performance.now() - started) / 1000;
        const run: ModelRun = {
            path: typeof s.model === "string" ? s.model : null,
            name,
            fileType: model.info.fileType,
            sizeBytes: model.info.sizeBytes,
            chosen: rewards.filter((_, k) => k % 2 === 0),
            rejected: rewards.filter((_, k) => k % 2 === 1),
            seconds,
            tokens,
            decodedTokens: model.stats.tokens - decodedBefore,
            ...(s.quantizedFrom === undefined ? {} : { quantizedFrom: s.quantizedFrom }),
        };
        progress("done", total);
        return run;
    } finally {
        if (typeof s.model === "string") await model.dispose();
    }
}

/**
 * Names the data item in an error about one of its conversations: "WHAT INDEX (line N), PART: message",
 * with the same code. Errors that are not RewardModelErrors pass through.
 */
export function itemError(error: unknown, what: string, index: number, line: number | undefined, part: string): unknown {
    if (!isRewardModelError(error)) return error;
    const where = `${what} ${index}${line === undefined ? "" : ` (line ${line})`}, ${part}`;
    return new RewardModelError(error.code, `${where}: ${error.message}`, { cause: error });
}
