/**
 * The one writer of a llama reward model's `general.*` and `llama.*`
 * metadata (format: docs/format.md). `convert`, the tiny test-model
 * generator and the benchmark-model generator all write through it, so the
 * keys, their GGUF value types and their order are decided here once.
 */
import type { GgufWriter } from "./gguf-writer.js";

/** llama_pooling_type RANK: llama.cpp applies the classifier head to each sequence's last token. */
export const LLAMA_POOLING_RANK = 4;

export interface LlamaHyperparameters {
    /** Training context length (llama.context_length). */
    contextLength: number;
    embeddingLength: number;
    blockCount: number;
    feedForwardLength: number;
    headCount: number;
    headCountKv: number;
    ropeFreqBase: number;
    rmsEpsilon: number;
    /** Rotated dimensions per head; for Llama, the head size. */
    ropeDimensionCount: number;
    vocabSize: number;
    /**
     * The head size, written as attention.key_length/value_length. Only for
     * models that state it (config.json head_dim); otherwise llama.cpp derives
     * it as embeddingLength / headCount.
     */
    explicitHeadDim?: number;
}

export interface RewardModelIdentity {
    name: string;
    description?: string;
    /** general.type; llama.cpp's converter writes "model". */
    type?: string;
    /** general.file_type: llama_ftype of the weights (0 F32, 1 F16, 7 Q8_0, 32 BF16). */
    fileType: number;
    /** general.quantization_version, written by llama.cpp's converter into every file. */
    quantizationVersion?: number;
}

/** Writes the model's general.* keys, the llama hyperparameters and the reward head's pooling and labels. */
export function writeLlamaRewardMetadata(
    w: GgufWriter,
    id: RewardModelIdentity,
    hp: LlamaHyperparameters,
    labels: readonly string[],
): void {
    w.addString("general.architecture", "llama");
    if (id.type !== undefined) w.addString("general.type", id.type);
    w.addString("general.name", id.name);
    if (id.description !== undefined) w.addString("general.description", id.description);
    w.addU32("general.file_type", id.fileType);
    if (id.quantizationVersion !== undefined) w.addU32("general.quantization_version", id.quantizationVersion);
    w.addU32("llama.block_count", hp.blockCount);
    w.addU32("llama.context_length", hp.contextLength);
    w.addU32("llama.embedding_length", hp.embeddingLength);
    w.addU32("llama.feed_forward_length", hp.feedForwardLength);
    w.addU32("llama.attention.head_count", hp.headCount);
    w.addU32("llama.attention.head_count_kv", hp.headCountKv);
    w.addF32("llama.rope.freq_base", hp.ropeFreqBase);
    w.addF32("llama.attention.layer_norm_rms_epsilon", hp.rmsEpsilon);
    if (hp.explicitHeadDim !== undefined) {
        w.addU32("llama.attention.key_length", hp.explicitHeadDim);
        w.addU32("llama.attention.value_length", hp.explicitHeadDim);
    }
    w.addU32("llama.vocab_size", hp.vocabSize);
    w.addU32("llama.rope.dimension_count", hp.ropeDimensionCount);
    w.addU32("llama.pooling_type", LLAMA_POOLING_RANK);
    w.addStringArray("llama.classifier.output_labels", labels);
}
