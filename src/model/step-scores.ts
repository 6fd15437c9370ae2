/**
 * Process rewards as pure functions: which settings a scoreSteps() call runs
 * with (its options over the file's step metadata), where the steps of a token
 * list are, how a step's head values become label values and a step score,
 * and how step scores aggregate. RewardModel.scoreSteps does the I/O.
 */
import { invalidArgument, RewardModelError } from "../errors.js";
import {
    stepActivations,
    stepAggregates,
    stepFormats,
    type StepActivation,
    type StepAggregate,
    type StepFormat,
    type StepMetadata,
} from "../gguf/step-metadata.js";
import type { ChatMessage } from "./chat-template.js";

export type { StepActivation, StepAggregate, StepFormat } from "../gguf/step-metadata.js";

/** A solution as a question and its steps (format "assistant-turns"). */
export interface StepSolution {
    question: string;
    steps: string[];
}

/** Exact token ids whose step tags mark the steps (format "step-tag"; no BOS policy, no truncation). */
export interface StepTokens {
    tokens: ArrayLike<number>;
}

/** What scoreSteps() scores: a conversation, a solution, or token ids. */
export type StepInput = ChatMessage[] | StepSolution | StepTokens;

/** What a scoreSteps() call may set; each defaults to the file's step metadata. */
export interface StepSettingsOptions {
    /** "step-tag": a step at each step-tag token; "assistant-turns": at the token before each assistant answer. */
    format?: StepFormat;
    /** The step tag, as its text (one token) or its id; implies format "step-tag". */
    stepTag?: string | number;
    activation?: StepActivation;
    /** The label whose value is a step's score. */
    scoreLabel?: number;
    /** Which aggregate is the solution's `score`. */
    aggregate?: StepAggregate;
}

export interface StepSettings {
    format: StepFormat;
    /** The step tag's id (format "step-tag" only). */
    tagId: number | undefined;
    activation: StepActivation;
    scoreLabel: number;
    aggregate: StepAggregate;
}

/**
 * The settings of one call. `tagId` resolves a step tag given as text to its
 * one token (it throws ERR_INVALID_OPTION otherwise); `vocabSize` bounds ids.
 */
export function resolveStepSettings(
    meta: StepMetadata,
    options: StepSettingsOptions,
    labelCount: number,
    vocabSize: number,
    tagId: (text: string) => number,
): StepSettings {
    const { format, stepTag, activation, scoreLabel, aggregate } = options;
    if (format !== undefined && !(stepFormats as readonly string[]).includes(format)) {
        throw invalidArgument(`format must be one of ${stepFormats.join(", ")}, got ${String(format)}`);
    }
    if (activation !== undefined && !(stepActivations as readonly string[]).includes(activation)) {
        throw invalidArgument(`activation must be one of ${stepActivations.join(", ")}, got ${String(activation)}`);
    }
    if (aggregate !== undefined && !(stepAggregates as readonly string[]).includes(aggregate)) {
        throw invalidArgument(`aggregate must be one of ${stepAggregates.join(", ")}, got ${String(aggregate)}`);
    }
    let tag: number | undefined;
    if (stepTag !== undefined) {
        if (typeof stepTag === "number") {
            if (!Number.isInteger(stepTag) || stepTag < 0 || stepTag >= vocabSize) {
                throw invalidArgument(`stepTag ${stepTag} is not a token id (0..${vocabSize - 1})`);
            }
            tag = stepTag;
        } else if (typeof stepTag === "string" && stepTag.length > 0) {
            tag = tagId(stepTag);
        } else {
            throw invalidArgument("stepTag must be a non-empty string or a token id");
        }
    }
    const resolvedFormat = format ?? (tag !== undefined ? "step-tag" : meta.format);
    if (resolvedFormat === undefined) {
        throw invalidArgument(
            'this model says nothing about its steps: pass stepTag (a step at each step-tag token) or format: "assistant-turns"',
        );
    }
    if (resolvedFormat === "step-tag") {
        tag ??= meta.tagId;
        if (tag === undefined) throw invalidArgument('format "step-tag" needs a stepTag (this model names none)');
        if (tag >= vocabSize) throw invalidArgument(`the step tag id ${tag} is outside the vocabulary of ${vocabSize} tokens`);
    } else if (stepTag !== undefined) {
        throw invalidArgument('stepTag is for format "step-tag", not "assistant-turns"');
    }
    const label = scoreLabel ?? meta.scoreLabel ?? 0;
    if (!Number.isInteger(label) || label < 0 || label >= labelCount) {
        throw invalidArgument(`scoreLabel must be a label index below ${labelCount}, got ${String(label)}`);
    }
    return {
        format: resolvedFormat,
        tagId: resolvedFormat === "step-tag" ? tag : undefined,
        activation: activation ?? meta.activation ?? (labelCount > 1 ? "softmax" : "sigmoid"),
        scoreLabel: label,
        aggregate: aggregate ?? meta.aggregate ?? "min",
    };
}

/** The index of every occurrence of the step tag; ERR_INVALID_MESSAGES when there is none. */
export function stepTagPositions(tokens: ArrayLike<number>, tagId: number, tagText: string): number[] {
    const positions: number[] = [];
    for (let i = 0; i < tokens.length; i++) if (tokens[i] === tagId) positions.push(i);
    if (positions.length === 0) {
        throw new RewardModelError(
            "ERR_INVALID_MESSAGES",
            `the conversation holds no step tag ${JSON.stringify(tagText)} (token ${tagId})`,
        );
    }
    return positions;
}

/** A step's label values from its head values. */
export function activate(values: readonly number[], activation: StepActivation): number[] {
    if (activation === "none") return [...values];
    if (activation === "sigmoid") return values.map((v) => 1 / (1 + Math.exp(-v)));
    const max = Math.max(...values);
    const exps = values.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
}

export interface StepAggregates {
    mean: number;
    min: number;
    last: number;
}

/** Mean, minimum and last of the step scores (at least one). */
export function aggregateSteps(scores: readonly number[]): StepAggregates {
    return {
        mean: scores.reduce((a, b) => a + b, 0) / scores.length,
        min: Math.min(...scores),
        last: scores[scores.length - 1] as number,
    };
}

/**
 * The conversation of a generative process reward model in the RLHFlow
 * format: the first user turn is the question, a space and the first step,
 * each later step is a user turn of its own, and every step is answered by an
 * assistant "+".
 */
export function stepConversation(solution: StepSolution): ChatMessage[] {
    if (solution === null || typeof solution !== "object" || typeof solution.question !== "string") {
        throw new RewardModelError("ERR_INVALID_MESSAGES", "a solution needs a question (a string) and steps (strings)");
    }
    const { question, steps } = solution;
    if (!Array.isArray(steps) || steps.length === 0 || steps.some((s) => typeof s !== "string")) {
        throw new RewardModelError("ERR_INVALID_MESSAGES", "steps must be a non-empty array of strings");
    }
    return steps.flatMap((step, k) => [
        { role: "user", content: k === 0 ? `${question} ${step}` : step },
        { role: "assistant", content: "+" },
    ]);
}
