/**
 * The reward head (cls.output.weight and its bias) read from the GGUF file as
 * float64 and applied to hidden states in JavaScript: how a head is read at
 * marked tokens (scoreTokensAt, scoreSteps), where llama.cpp returns the
 * final-norm hidden states and pools nothing.
 */
import { RewardModelError } from "../errors.js";
import { readTensorAsFloat64 } from "../gguf/gguf-tensor-reader.js";
import type { GgufHeader } from "../gguf/gguf-types.js";

export interface RewardHead {
    /** labelCount rows of embeddingSize values (the ggml layout of [n_embd, n_labels]). */
    weight: Float64Array;
    bias: Float64Array | undefined;
    embeddingSize: number;
    labelCount: number;
}

/** Reads cls.output.weight (and cls.output.bias when present) from a file already checked by inspectRewardModelFile. */
export function readRewardHead(path: string, header: GgufHeader): RewardHead {
    const info = header.tensors.find((t) => t.name === "cls.output.weight");
    if (info === undefined) throw new RewardModelError("ERR_NO_REWARD_HEAD", `${path} has no reward head (cls.output.weight)`);
    const embeddingSize = Number(info.shape[0]);
    const labelCount = info.shape.length > 1 ? Number(info.shape[1]) : 1;
    const hasBias = header.tensors.some((t) => t.name === "cls.output.bias");
    return {
        weight: readTensorAsFloat64(path, header, "cls.output.weight"),
        bias: hasBias ? readTensorAsFloat64(path, header, "cls.output.bias") : undefined,
        embeddingSize,
        labelCount,
    };
}

/** W · h (+ b) for the hidden state at `hidden[offset .. offset + embeddingSize)`, one value per label. */
export function applyHead(head: RewardHead, hidden: ArrayLike<number>, offset = 0): number[] {
    const out: number[] = new Array(head.labelCount);
    const d = head.embeddingSize;
    for (let l = 0; l < head.labelCount; l++) {
        let sum = head.bias?.[l] ?? 0;
        for (let i = 0; i < d; i++) sum += (head.weight[l * d + i] as number) * (hidden[offset + i] as number);
        out[l] = sum;
    }
    return out;
}
