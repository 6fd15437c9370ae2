/**
 * Independent float64 reference of ArmoRM's forward
 * (LlamaForRewardModelWithGating in its public modeling_custom.py), on the
 * Hugging Face layout of the weights, on top of hf-llama-reference.ts's
 * hidden states. Written from the model's math, not from src/:
 *
 * - rewards = regression_layer.weight · h[last] (no bias), where `last` is the
 *   token before the first pad token, or the last token without padding;
 * - the gating position j is the start of the last occurrence of the token
 *   pattern [<|eot_id|>, <|start_header_id|>, "assistant", <|end_header_id|>, "\n\n"]
 *   (searched from the end, only where the whole pattern fits);
 * - gating = softmax(MLP(h[j]) / temperature) · logit_scale, the MLP being
 *   Linear layers with bias and ReLU between them;
 * - score = Σ gating · (rewards @ reward_transform_matrix).
 */
import { type HfReferenceConfig, type HfWeights, hfReferenceHiddenStates } from "./hf-llama-reference.js";

export const ARMORM_TOKEN_PATTERN = [128009, 128006, 78191, 128007, 271];

export interface ArmoRmReferenceConfig extends HfReferenceConfig {
    num_objectives: number;
    gating_temperature: number;
    gating_n_hidden: number;
}

export interface ArmoRmReferenceResult {
    score: number;
    rewards: number[];
    gating: number[];
    gatingPosition: number;
}

function weight(weights: HfWeights, name: string): ArrayLike<number> {
    const w = weights.get(name);
    if (w === undefined) throw new Error(`armorm reference: missing weight ${name}`);
    return w;
}

/** y = W x + b for a Linear weight W [nOut, nIn] (and bias b [nOut], if given). */
function linear(w: ArrayLike<number>, b: ArrayLike<number> | undefined, x: ArrayLike<number>, nIn: number): number[] {
    const nOut = w.length / nIn;
    const y: number[] = [];
    for (let o = 0; o < nOut; o++) {
        let s = b === undefined ? 0 : b[o]!;
        for (let i = 0; i < nIn; i++) s += w[o * nIn + i]! * x[i]!;
        y.push(s);
    }
    return y;
}

export function armoRmReference(config: ArmoRmReferenceConfig, weights: HfWeights, tokens: readonly number[]): ArmoRmReferenceResult {
    const d = config.hidden_size;
    const hidden = hfReferenceHiddenStates(config, weights, tokens);
    // sequence_lengths = (first pad index) - 1, modulo the length: the last token when there is no pad
    const firstPad = config.pad_token_id === undefined ? -1 : tokens.indexOf(config.pad_token_id);
    const last = ((((firstPad === -1 ? 0 : firstPad) - 1) % tokens.length) + tokens.length) % tokens.length;
    const rewards = linear(weight(weights, "regression_layer.weight"), undefined, hidden[last]!, d);

    let at = -1;
    for (let j = tokens.length - ARMORM_TOKEN_PATTERN.length; j >= 0 && at < 0; j--) {
        if (ARMORM_TOKEN_PATTERN.every((t, k) => tokens[j + k] === t)) at = j;
    }
    if (at < 0) throw new Error("armorm reference: token pattern not found");

    let x: number[] = Array.from(hidden[at]!);
    for (let i = 0; i <= config.gating_n_hidden; i++) {
        x = linear(weight(weights, `gating.layers.${i}.weight`), weight(weights, `gating.layers.${i}.bias`), x, x.length);
        if (i < config.gating_n_hidden) x = x.map((v) => Math.max(v, 0)); // ReLU
    }
    const scaled = x.map((v) => v / config.gating_temperature);
    const max = Math.max(...scaled);
    const e = scaled.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const logitScale = weight(weights, "gating.logit_scale")[0]!;
    const gating = e.map((v) => (v / sum) * logitScale);

    const n = config.num_objectives;
    const m = weight(weights, "reward_transform_matrix");
    let score = 0;
    for (let j = 0; j < n; j++) {
        let adjusted = 0;
        for (let i = 0; i < n; i++) adjusted += rewards[i]! * m[i * n + j]!;
        score += gating[j]! * adjusted;
    }
    return { score, rewards, gating, gatingPosition: at };
}
