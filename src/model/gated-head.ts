/**
 * Multi-objective heads with gating, as ArmoRM-Llama3-8B-v0.1 computes them
 * (docs/format.md §1.1): a regression layer (the file's cls.output: one row
 * per objective) read at the last token, and a gating MLP read at the hidden
 * state of the last occurrence of a token pattern (the assistant header that
 * follows the prompt), whose softmax weights the objectives after a reward
 * transform matrix. This module reads the gating network from the file's
 * `llama_reward.gating.*` metadata (written by convert), finds the gating position
 * and computes score, objectives and gating weights in float64 from the two
 * hidden states.
 */
import { RewardModelError } from "../errors.js";
import { readTensorAsFloat64 } from "../gguf/gguf-tensor-reader.js";
import type { GgufHeader } from "../gguf/gguf-types.js";

/** The GGUF keys of a gating network (docs/format.md §2). */
export const gatingKeys = {
    layerCount: "llama_reward.gating.layer_count",
    weight: (i: number) => `llama_reward.gating.layers.${i}.weight`,
    bias: (i: number) => `llama_reward.gating.layers.${i}.bias`,
    temperature: "llama_reward.gating.temperature",
    logitScale: "llama_reward.gating.logit_scale",
    transform: "llama_reward.gating.transform_matrix",
    tokenPattern: "llama_reward.gating.token_pattern",
} as const;

/** One linear layer of the gating MLP: y = W x + b, W row-major [nOut, nIn] as PyTorch stores it. */
export interface GatingLayer {
    weight: Float32Array;
    bias: Float32Array | null;
    nIn: number;
    nOut: number;
}

export interface GatedHead {
    /** Objective names (the head's labels). */
    labels: string[];
    embeddingSize: number;
    /** The regression layer, row-major [objective, n_embd]. */
    regression: Float64Array;
    regressionBias: Float64Array | null;
    /** The MLP: ReLU after every layer but the last. */
    layers: GatingLayer[];
    temperature: number;
    logitScale: number;
    /** Row-major [objectives, objectives]: adjusted = rewards · M. */
    transform: Float64Array;
    /** The gating position is the first token of the last occurrence of this pattern. */
    tokenPattern: number[];
}

/** What a gated head gives for one conversation. */
export interface GatedScores {
    /** Σ gating · (objectives · transform matrix). */
    score: number;
    /** The regression layer's output per objective (before the transform). */
    objectives: number[];
    /** The gating network's weights per objective (softmax · logit scale). */
    gating: number[];
}

function numbers(header: GgufHeader, key: string, path: string): number[] {
    const v = header.metadata.get(key);
    if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
        throw new RewardModelError("ERR_CORRUPT_MODEL", `${path}: ${key} must be an array of finite numbers`);
    }
    return v as number[];
}

function scalar(header: GgufHeader, key: string, path: string): number {
    const v = header.metadata.get(key);
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n))
        throw new RewardModelError("ERR_CORRUPT_MODEL", `${path}: ${key} must be a finite number`);
    return n;
}

/** True when the file carries a gating network. */
export function hasGatingNetwork(header: GgufHeader): boolean {
    return header.metadata.has(gatingKeys.layerCount);
}

/**
 * The file's gated head, or null when it has no gating network. Every shape is checked against the
 * embedding size and the head's labels (ERR_CORRUPT_MODEL), so the arithmetic below cannot read out of bounds.
 */
export function readGatedHead(path: string, header: GgufHeader, embeddingSize: number, labels: string[]): GatedHead | null {
    if (!hasGatingNetwork(header)) return null;
    const corrupt = (message: string) => new RewardModelError("ERR_CORRUPT_MODEL", `${path}: ${message}`);
    const objectives = labels.length;
    const layerCount = scalar(header, gatingKeys.layerCount, path);
    if (!Number.isInteger(layerCount) || layerCount < 1 || layerCount > 64) throw corrupt(`${gatingKeys.layerCount} must be 1 to 64`);
    const layers: GatingLayer[] = [];
    let nIn = embeddingSize;
    for (let i = 0; i < layerCount; i++) {
        const weight = numbers(header, gatingKeys.weight(i), path);
        const nOut = weight.length / nIn;
        if (!Number.isInteger(nOut) || nOut < 1)
            throw corrupt(`${gatingKeys.weight(i)} has ${weight.length} values, not a multiple of its input size ${nIn}`);
        const bias = header.metadata.has(gatingKeys.bias(i)) ? numbers(header, gatingKeys.bias(i), path) : null;
        if (bias !== null && bias.length !== nOut) throw corrupt(`${gatingKeys.bias(i)} has ${bias.length} values, expected ${nOut}`);
        layers.push({ weight: Float32Array.from(weight), bias: bias === null ? null : Float32Array.from(bias), nIn, nOut });
        nIn = nOut;
    }
    if (nIn !== objectives) throw corrupt(`the gating network gives ${nIn} weights but the head has ${objectives} objectives`);
    const transform = numbers(header, gatingKeys.transform, path);
    if (transform.length !== objectives * objectives) {
        throw corrupt(`${gatingKeys.transform} has ${transform.length} values, expected ${objectives}×${objectives}`);
    }
    const tokenPattern = numbers(header, gatingKeys.tokenPattern, path);
    if (tokenPattern.length === 0 || tokenPattern.some((t) => !Number.isInteger(t) || t < 0)) {
        throw corrupt(`${gatingKeys.tokenPattern} must be a non-empty list of token ids`);
    }
    const temperature = scalar(header, gatingKeys.temperature, path);
    if (!(temperature > 0)) throw corrupt(`${gatingKeys.temperature} must be positive`);
    const regression = readTensorAsFloat64(path, header, "cls.output.weight");
    const hasBias = header.tensors.some((t) => t.name === "cls.output.bias");
    return {
        labels,
        embeddingSize,
        regression,
        regressionBias: hasBias ? readTensorAsFloat64(path, header, "cls.output.bias") : null,
        layers,
        temperature,
        logitScale: scalar(header, gatingKeys.logitScale, path),
        transform: Float64Array.from(transform),
        tokenPattern,
    };
}

/** The index of the first token of the last occurrence of `pattern` in `tokens`, or -1. */
export function gatingPosition(tokens: ArrayLike<number>, pattern: readonly number[]): number {
    for (let j = tokens.length - pattern.length; j >= 0; j--) {
        let k = 0;
        while (k < pattern.length && tokens[j + k] === pattern[k]) k++;
        if (k === pattern.length) return j;
    }
    return -1;
}

function affine(w: ArrayLike<number>, b: ArrayLike<number> | null, x: ArrayLike<number>, nIn: number, nOut: number): Float64Array {
    const y = new Float64Array(nOut);
    for (let o = 0; o < nOut; o++) {
        let s = b === null ? 0 : b[o]!;
        const row = o * nIn;
        for (let i = 0; i < nIn; i++) s += w[row + i]! * x[i]!;
        y[o] = s;
    }
    return y;
}

/** Score, objectives and gating weights from the final-norm hidden states at the last token and at the gating position. */
export function gatedScores(head: GatedHead, lastHidden: ArrayLike<number>, gatingHidden: ArrayLike<number>): GatedScores {
    const n = head.labels.length;
    const rewards = affine(head.regression, head.regressionBias, lastHidden, head.embeddingSize, n);
    let x: Float64Array = Float64Array.from(gatingHidden);
    head.layers.forEach((layer, i) => {
        x = affine(layer.weight, layer.bias, x, layer.nIn, layer.nOut);
        if (i < head.layers.length - 1) for (let j = 0; j < x.length; j++) x[j] = Math.max(0, x[j]!);
    });
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, x[j]! / head.temperature);
    let sum = 0;
    const gating = new Array<number>(n);
    for (let j = 0; j < n; j++) {
        gating[j] = Math.exp(x[j]! / head.temperature - max);
        sum += gating[j]!;
    }
    let score = 0;
    for (let j = 0; j < n; j++) {
        gating[j] = (gating[j]! / sum) * head.logitScale;
        let adjusted = 0;
        for (let i = 0; i < n; i++) adjusted += rewards[i]! * head.transform[i * n + j]!;
        score += gating[j]! * adjusted;
    }
    return { score, objectives: Array.from(rewards), gating };
}
