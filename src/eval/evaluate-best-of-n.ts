/**
 * `evaluateBestOfN()`: scores every completion of every best-of-N prompt with
 * each model (one token batch per model: completions of one prompt share its
 * tokens, so the prompt is decoded once) and builds the best-of-N report.
 * With `maxLength`, a conversation longer than that keeps its first
 * `maxLength` tokens, as the RewardBench 2 scripts truncate, and the report
 * counts the completions cut. Models given as paths are loaded one at a time
 * and disposed after scoring.
 */
import { invalidArgument } from "../errors.js";
import type { LoadOptions } from "../model/load-options.js";
import { RewardModel } from "../model/reward-model.js";
import type { BestOfNFormat, BestOfNItem } from "./best-of-n-formats.js";
import { type BestOfNReport, type BestOfNRun, buildBestOfNReport } from "./best-of-n-report.js";
import { defaultName, type EvalModel, type EvalModelSpec, type EvalProgress, itemError, spec } from "./evaluate.js";

export interface EvaluateBestOfNOptions {
    /** Load options for models given as paths. */
    load?: Omit<LoadOptions, "signal" | "onProgress">;
    signal?: AbortSignal;
    onProgress?: (progress: EvalProgress) => void;
    /** Keep at most this many tokens of each conversation, from its start (RewardBench 2's `max_length`, 2048 there). */
    maxLength?: number;
    /** Where the items came from, recorded in the report. */
    data?: { source?: string; format?: BestOfNFormat; warnings?: string[] };
}

/** Evaluates `models` on best-of-N `items`; the first model is the reference of the comparisons. */
export async function evaluateBestOfN(
    models: EvalModel | readonly EvalModel[],
    items: readonly BestOfNItem[],
    options: EvaluateBestOfNOptions = {},
): Promise<BestOfNReport> {
    const list = (Array.isArray(models) ? models : [models]) as readonly EvalModel[];
    if (list.length === 0) throw invalidArgument("evaluateBestOfN needs at least one model");
    if (!Array.isArray(items) || items.length === 0) {
        throw invalidArgument("evaluateBestOfN needs a non-empty array of best-of-N items", "ERR_INVALID_DATA");
    }
    const { maxLength } = options;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1)) {
        throw invalidArgument(`maxLength must be a positive integer, got ${String(maxLength)}`);
    }
    const specs = list.map(spec);
    const runs: BestOfNRun[] = [];
    for (const [index, s] of specs.entries()) runs.push(await evaluateOne(s, index, items, options));
    return buildBestOfNReport(runs, items, { ...options.data, ...(maxLength === undefined ? {} : { maxLength }) });
}

async function evaluateOne(
    s: EvalModelSpec,
    index: number,
    items: readonly BestOfNItem[],
    options: EvaluateBestOfNOptions,
): Promise<BestOfNRun> {
    const name = s.name ?? defaultName(s.model, index);
    const total = items.reduce((n, item) => n + item.responses.length, 0);
    const progress = (phase: EvalProgress["phase"], completed: number) =>
        options.onProgress?.({ model: index, name, phase, completed, total });
    progress("load", 0);
    const model = typeof s.model === "string" ? await RewardModel.load(s.model, { ...options.load, signal: options.signal }) : s.model;
    try {
        const { maxLength } = options;
        if (maxLength !== undefined && model.info.contextSize <= maxLength) {
            throw invalidArgument(
                `maxLength ${maxLength} needs a context of more than ${maxLength} tokens; ${name} has ${model.info.contextSize} (load with a larger contextSize)`,
            );
        }
        const lists: number[][] = [];
        let truncated = 0;
        let tokens = 0;
        items.forEach((item, i) => {
            item.responses.forEach((content, k) => {
                let ids: number[];
                try {
                    // one token more than kept tells whether the conversation was longer
                    ids = model.tokenizeConversation(
                        [...item.prompt, { role: "assistant", content }],
                        maxLength === undefined ? {} : { maxTokens: maxLength + 1 },
                    );
                } catch (error) {
                    throw itemError(error, "item", i, item.line, `completion ${k}`);
                }
                if (maxLength !== undefined && ids.length > maxLength) {
                    ids = ids.slice(0, maxLength);
                    truncated++;
                }
                tokens += ids.length;
                lists.push(ids);
            });
        });
        progress("score", 0);
        const decodedBefore = model.stats.tokens;
        const started = performance.now();
        const values = await model.scoreTokenBatch(lists, {
            signal: options.signal,
            onProgress: ({ completed }) => progress("score", completed),
        });
        const seconds = (performance.now() - started) / 1000;
        let next = 0;
        const rewards = items.map((item) => item.responses.map(() => values[next++]![0]!));
        progress("done", total);
        return {
            path: typeof s.model === "string" ? s.model : null,
            name,
            fileType: model.info.fileType,
            sizeBytes: model.info.sizeBytes,
            ...(s.quantizedFrom === undefined ? {} : { quantizedFrom: s.quantizedFrom }),
            rewards,
            truncated,
            seconds,
            tokens,
            decodedTokens: model.stats.tokens - decodedBefore,
        };
    } finally {
        if (typeof s.model === "string") await model.dispose();
    }
}
