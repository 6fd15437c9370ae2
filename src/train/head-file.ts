/**
 * The reward-model file train-head writes and the head it may start from.
 * The output is the base GGUF copied tensor for tensor (a quantized base
 * stays quantized) with its old head and training keys replaced: the new
 * cls.output.weight (F32, [n_embd, 1]), cls.output.bias when asked for, the
 * RANK pooling type and the label (docs/format.md §2), and the
 * `llama_reward.head.*` keys recording how the head was trained
 * (docs/training-heads.md).
 */
import { RewardModelError } from "../errors.js";
import { readTensorAsFloat64 } from "../gguf/gguf-tensor-reader.js";
import { rewriteGguf, type MetadataEntry } from "../gguf/gguf-rewrite.js";
import { GgmlType, GgufValueType, type GgufHeader } from "../gguf/gguf-types.js";
import { LLAMA_POOLING_RANK } from "../gguf/llama-metadata.js";
import { inspectRewardModelFile } from "../model/model-file.js";

/** The prefix of the keys that record how a head was trained. */
export const trainingKeyPrefix = "llama_reward.head.";

/**
 * The prefixes of the keys that belong to the old head (its training record
 * and LM-head tokens, normalization, gating network, step settings): a new
 * head replaces them all. Other llama_reward.* keys (a generator's version)
 * describe the base and stay.
 */
const oldHeadKeyPrefixes = [trainingKeyPrefix, "llama_reward.normalization.", "llama_reward.gating.", "llama_reward.steps."];

/** A trained head: one label. */
export interface HeadWeights {
    weight: Float64Array;
    /** Written as cls.output.bias when present. */
    bias?: number;
    label: string;
}

/** What the output file records about the training run (llama_reward.head.*). */
export interface TrainingRecord {
    dataSha256: string;
    dataFormat: string;
    trainPairs: number;
    validationPairs: number;
    trainAccuracy: number;
    trainLoss: number;
    /** Absent without a validation split. */
    validationAccuracy?: number;
    validationLoss?: number;
    l2: number;
    seed: number;
    iterations: number;
    init: string;
}

/**
 * The head of the reward model at `path` (label 0) as a starting point for a
 * base of width `embeddingSize`. ERR_NO_REWARD_HEAD when it has none,
 * ERR_INVALID_OPTION when its width or label count does not fit.
 */
export function readInitHead(path: string, embeddingSize: number): Float64Array {
    const file = inspectRewardModelFile(path); // ERR_MODEL_NOT_FOUND, ERR_NOT_GGUF, ERR_NO_REWARD_HEAD, ...
    const head = file.header.tensors.find((t) => t.name === "cls.output.weight")!;
    if (file.embeddingSize !== embeddingSize) {
        throw new RewardModelError(
            "ERR_INVALID_OPTION",
            `init ${path}: cls.output.weight has shape [${head.shape.join(", ")}] (llama.embedding_length ${file.embeddingSize}), ` +
                `but the base model's hidden states have ${embeddingSize} values: the head must be [${embeddingSize}, 1]`,
        );
    }
    if (file.labelCount !== 1) {
        throw new RewardModelError(
            "ERR_INVALID_OPTION",
            `init ${path}: cls.output.weight has ${file.labelCount} labels (shape [${head.shape.join(", ")}]); train-head fits one`,
        );
    }
    return readTensorAsFloat64(path, file.header, "cls.output.weight");
}

function f32Bytes(values: ArrayLike<number>): Uint8Array {
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = values[i]!;
    return new Uint8Array(out.buffer);
}

function trainingEntries(record: TrainingRecord): [string, MetadataEntry][] {
    const u32 = (value: number): MetadataEntry => ({ type: GgufValueType.UINT32, value });
    const f64 = (value: number): MetadataEntry => ({ type: GgufValueType.FLOAT64, value });
    const str = (value: string): MetadataEntry => ({ type: GgufValueType.STRING, value });
    const entries: [string, MetadataEntry][] = [
        ["data_sha256", str(record.dataSha256)],
        ["data_format", str(record.dataFormat)],
        ["train_pairs", u32(record.trainPairs)],
        ["validation_pairs", u32(record.validationPairs)],
        ["train_accuracy", f64(record.trainAccuracy)],
        ["train_loss", f64(record.trainLoss)],
    ];
    if (record.validationAccuracy !== undefined) entries.push(["validation_accuracy", f64(record.validationAccuracy)]);
    if (record.validationLoss !== undefined) entries.push(["validation_loss", f64(record.validationLoss)]);
    entries.push(["l2", f64(record.l2)], ["seed", u32(record.seed)], ["iterations", u32(record.iterations)], ["init", str(record.init)]);
    return entries.map(([key, entry]) => [trainingKeyPrefix + key, entry]);
}

/**
 * Writes `outPath`: the base file (`header`, read from `basePath`) with `head`
 * and `record`. Written to `<outPath>.tmp` and renamed when complete.
 */
export function writeRewardModelFile(
    basePath: string,
    header: GgufHeader,
    outPath: string,
    head: HeadWeights,
    record: TrainingRecord,
): void {
    const n = head.weight.length;
    const setKeys = new Map<string, MetadataEntry>([
        ["llama.pooling_type", { type: GgufValueType.UINT32, value: LLAMA_POOLING_RANK }],
        ["llama.classifier.output_labels", { type: GgufValueType.ARRAY, value: [head.label], elementType: GgufValueType.STRING }],
        ...trainingEntries(record),
    ]);
    const addTensors = [{ name: "cls.output.weight", shape: [n, 1], type: GgmlType.F32, data: f32Bytes(head.weight) }];
    if (head.bias !== undefined) addTensors.push({ name: "cls.output.bias", shape: [1], type: GgmlType.F32, data: f32Bytes([head.bias]) });
    rewriteGguf(
        basePath,
        outPath,
        {
            // every key of the old head (training record, normalization, gating network, LM-head tokens, step
            // settings; docs/format.md §2) goes with it; its pooling type and labels are replaced in place
            dropKeys: (key) => oldHeadKeyPrefixes.some((prefix) => key.startsWith(prefix)),
            setKeys,
            dropTensors: (name) => name.startsWith("cls.output."),
            addTensors,
        },
        header,
    );
}
