/**
 * Reward normalization as OpenRLHF-trained reward models carry it: config.json's
 * `mean`, `std` and `normalize_reward`, kept by `convert` as the GGUF keys below
 * (docs/format.md §2). OpenRLHF's reward model returns `(r - mean) / std` when
 * `normalize_reward` is set; the `normalize` load option (default: the
 * checkpoint's flag) applies the same to every reward. This module reads and
 * validates the keys, resolves the option, and applies it.
 */
import { RewardModelError, invalidArgument } from "../errors.js";
import type { GgufHeader } from "../gguf/gguf-types.js";

/** The GGUF keys of the normalization (written by convert, read at load). */
export const normalizationKeys = {
    mean: "llama_reward.normalization.mean",
    std: "llama_reward.normalization.std",
    enabled: "llama_reward.normalization.enabled",
} as const;

/** A file's normalization: the checkpoint's mean, std and normalize_reward flag. */
export interface RewardNormalization {
    mean: number;
    std: number;
    /** The checkpoint's normalize_reward: whether rewards are normalized unless the `normalize` option says otherwise. */
    normalizeReward: boolean;
}

/** Checks a normalization's values; `fail` builds the error for the caller's context (a file, a config.json). */
export function checkNormalization(
    n: { mean: unknown; std: unknown; normalizeReward: unknown },
    fail: (message: string) => Error,
): RewardNormalization {
    if (typeof n.mean !== "number" || !Number.isFinite(n.mean)) throw fail(`mean must be a finite number, got ${JSON.stringify(n.mean)}`);
    if (typeof n.std !== "number" || !Number.isFinite(n.std) || !(n.std > 0)) {
        throw fail(`std must be a finite positive number, got ${JSON.stringify(n.std)}`);
    }
    if (typeof n.normalizeReward !== "boolean") throw fail(`normalize_reward must be a boolean, got ${JSON.stringify(n.normalizeReward)}`);
    return { mean: n.mean, std: n.std, normalizeReward: n.normalizeReward };
}

/** The file's normalization, or null when it has none; ERR_CORRUPT_MODEL when its keys are incomplete or malformed. */
export function readRewardNormalization(path: string, header: GgufHeader): RewardNormalization | null {
    const m = header.metadata;
    const present = Object.values(normalizationKeys).filter((k) => m.has(k));
    if (present.length === 0) return null;
    const missing = Object.values(normalizationKeys).filter((k) => !m.has(k));
    if (missing.length > 0) throw new RewardModelError("ERR_CORRUPT_MODEL", `${path}: ${present.join(", ")} without ${missing.join(", ")}`);
    return checkNormalization(
        { mean: m.get(normalizationKeys.mean), std: m.get(normalizationKeys.std), normalizeReward: m.get(normalizationKeys.enabled) },
        (message) => new RewardModelError("ERR_CORRUPT_MODEL", `${path}: reward normalization (llama_reward.normalization.*): ${message}`),
    );
}

/** The `normalize` option against the file: its default is the checkpoint's flag; true needs mean/std in the file. */
export function resolveNormalize(option: unknown, file: RewardNormalization | null): boolean {
    if (option === undefined) return file?.normalizeReward ?? false;
    if (typeof option !== "boolean") throw invalidArgument(`normalize must be a boolean, got ${JSON.stringify(option)}`);
    if (option && file === null) {
        throw invalidArgument(
            "normalize: true needs the reward's mean and std, and this file has none (convert keeps them from config.json)",
        );
    }
    return option;
}

/** (r - mean) / std, in float64. */
export function normalizeReward(reward: number, n: Pick<RewardNormalization, "mean" | "std">): number {
    return (reward - n.mean) / n.std;
}
