/**
 * The GGUF keys a process reward model keeps with its head (docs/format.md,
 * "Process reward models"): where its steps are read, how its head's values
 * become step scores, and which LM-head rows the head was made of. The one
 * writer (convert) and the one reader (RewardModel) share this module, so the
 * key names, value types and allowed values are decided here once.
 */
import { RewardModelError } from "../errors.js";
import type { GgufWriter } from "./gguf-writer.js";
import type { GgufHeader } from "./gguf-types.js";

/** Where a step is read: at every step-tag token, or at the token before each assistant answer. */
export const stepFormats = ["step-tag", "assistant-turns"] as const;
export type StepFormat = (typeof stepFormats)[number];

/** What turns a step's head values into its label values. */
export const stepActivations = ["softmax", "sigmoid", "none"] as const;
export type StepActivation = (typeof stepActivations)[number];

/** How the step scores of a solution make one score. */
export const stepAggregates = ["mean", "min", "last"] as const;
export type StepAggregate = (typeof stepAggregates)[number];

export const stepMetadataKeys = {
    lmHeadTokens: "llama_reward.head.lm_head_tokens",
    format: "llama_reward.steps.format",
    tagId: "llama_reward.steps.tag_id",
    activation: "llama_reward.steps.activation",
    scoreLabel: "llama_reward.steps.score_label",
    aggregate: "llama_reward.steps.aggregate",
} as const;

/** What a file says about its steps; every field is optional. */
export interface StepMetadata {
    /** The token ids whose LM-head rows make cls.output.weight, in label order. */
    lmHeadTokens?: number[];
    format?: StepFormat;
    /** The step tag's token id (format "step-tag"). */
    tagId?: number;
    activation?: StepActivation;
    /** The label whose activated value is a step's score. */
    scoreLabel?: number;
    aggregate?: StepAggregate;
}

/** Writes the keys of `meta` that are set. */
export function writeStepMetadata(w: GgufWriter, meta: StepMetadata): void {
    if (meta.lmHeadTokens !== undefined) w.addI32Array(stepMetadataKeys.lmHeadTokens, meta.lmHeadTokens);
    if (meta.format !== undefined) w.addString(stepMetadataKeys.format, meta.format);
    if (meta.tagId !== undefined) w.addU32(stepMetadataKeys.tagId, meta.tagId);
    if (meta.activation !== undefined) w.addString(stepMetadataKeys.activation, meta.activation);
    if (meta.scoreLabel !== undefined) w.addU32(stepMetadataKeys.scoreLabel, meta.scoreLabel);
    if (meta.aggregate !== undefined) w.addString(stepMetadataKeys.aggregate, meta.aggregate);
}

/** Reads the step keys of a file; a key with a wrong type or value is ERR_CORRUPT_MODEL. */
export function readStepMetadata(path: string, header: GgufHeader): StepMetadata {
    const bad = (key: string, what: string) => new RewardModelError("ERR_CORRUPT_MODEL", `${path}: ${key} ${what}`);
    const get = (key: string) => header.metadata.get(key);
    const count = (key: string): number | undefined => {
        const v = get(key);
        if (v === undefined) return undefined;
        const n = typeof v === "bigint" ? Number(v) : v;
        if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw bad(key, "must be a non-negative integer");
        return n;
    };
    const oneOf = <T extends string>(key: string, allowed: readonly T[]): T | undefined => {
        const v = get(key);
        if (v === undefined) return undefined;
        if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) throw bad(key, `must be one of ${allowed.join(", ")}`);
        return v as T;
    };
    const meta: StepMetadata = {};
    const rows = get(stepMetadataKeys.lmHeadTokens);
    if (rows !== undefined) {
        if (!Array.isArray(rows) || rows.some((t) => typeof t !== "number" || !Number.isInteger(t) || t < 0)) {
            throw bad(stepMetadataKeys.lmHeadTokens, "must be an array of token ids");
        }
        meta.lmHeadTokens = rows as number[];
    }
    const format = oneOf(stepMetadataKeys.format, stepFormats);
    if (format !== undefined) meta.format = format;
    const tagId = count(stepMetadataKeys.tagId);
    if (tagId !== undefined) meta.tagId = tagId;
    const activation = oneOf(stepMetadataKeys.activation, stepActivations);
    if (activation !== undefined) meta.activation = activation;
    const scoreLabel = count(stepMetadataKeys.scoreLabel);
    if (scoreLabel !== undefined) meta.scoreLabel = scoreLabel;
    const aggregate = oneOf(stepMetadataKeys.aggregate, stepAggregates);
    if (aggregate !== undefined) meta.aggregate = aggregate;
    return meta;
}
