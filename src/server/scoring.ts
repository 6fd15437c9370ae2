/**
 * From validated request items to label vectors: tokenizes each item
 * (errors name the item; an isolated model tokenizes in its engine, so this
 * awaits), reserves its sequences with admission control,
 * and scores them all in one scoreTokenBatch call, so the model's scheduler
 * batches them with every other request in flight.
 */
import { RewardModelError, isRewardModelError } from "../errors.js";
import type { ObjectiveScores, StepScores } from "../model/reward-model.js";
import type { StepInput, StepSettingsOptions } from "../model/step-scores.js";
import type { ServedModel } from "./served-model.js";
import type { Admission } from "./admission.js";

/** Token ids of each item; a failure is re-thrown with `where(i)` in front of its message. */
export async function tokenizeEach<T>(
    items: readonly T[],
    where: (i: number) => string,
    tokenize: (item: T) => number[] | Promise<number[]>,
): Promise<number[][]> {
    const lists: number[][] = [];
    for (const [i, item] of items.entries()) {
        let tokens: number[];
        try {
            tokens = await tokenize(item);
        } catch (error) {
            if (isRewardModelError(error)) throw new RewardModelError(error.code, `${where(i)}: ${error.message}`, { cause: error });
            throw error;
        }
        if (tokens.length === 0) throw new RewardModelError("ERR_INVALID_TOKENS", `${where(i)} has no tokens`);
        lists.push(tokens);
    }
    return lists;
}

/** Every label of each token list, in order. Holds `lists.length` queue places until it settles. */
export async function scoreLists(model: ServedModel, admission: Admission, lists: number[][], signal: AbortSignal): Promise<number[][]> {
    const release = admission.acquire(lists.length);
    try {
        return await model.scoreTokenBatch(lists, { signal });
    } finally {
        release();
    }
}

/**
 * The steps of each input (scoreSteps, one forward pass each, batched with everything in flight), in order;
 * a failure names its item. Holds `inputs.length` queue places until it settles.
 */
export async function scoreStepsEach(
    model: ServedModel,
    admission: Admission,
    inputs: readonly StepInput[],
    where: (i: number) => string,
    settings: StepSettingsOptions,
    signal: AbortSignal,
): Promise<StepScores[]> {
    const release = admission.acquire(inputs.length);
    try {
        const settled = await Promise.allSettled(inputs.map((input) => model.scoreSteps(input, { ...settings, signal })));
        return settled.map((r, i) => {
            if (r.status === "fulfilled") return r.value;
            const error: unknown = r.reason;
            if (isRewardModelError(error)) throw new RewardModelError(error.code, `${where(i)}: ${error.message}`, { cause: error });
            throw error;
        });
    } finally {
        release();
    }
}

/** scoreObjectivesOfTokens() of each token list (a multi-objective head), holding `lists.length` queue places until it settles. */
export async function scoreObjectiveLists(
    model: ServedModel,
    admission: Admission,
    lists: number[][],
    signal: AbortSignal,
): Promise<ObjectiveScores[]> {
    const release = admission.acquire(lists.length);
    try {
        return await model.scoreObjectivesOfTokens(lists, { signal });
    } finally {
        release();
    }
}

export function tokenCount(lists: readonly number[][]): number {
    return lists.reduce((n, l) => n + l.length, 0);
}
