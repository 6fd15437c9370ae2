/**
 * The tensor plan of a conversion: which GGUF tensor each Hugging Face
 * tensor becomes (llama.cpp's names), its ggml shape and storage type,
 * whether its rows are permuted for llama.cpp's RoPE layout, and the
 * generated rope_freqs tensor. Every source shape is checked against
 * config.json before a byte is written.
 */

import { RewardModelError } from "../errors.js";
import { GgmlType } from "../gguf/gguf-types.js";
import { fileTypes } from "../model/file-types.js";
import type { HfLlamaConfig } from "./hf-config.js";
import { llama3RopeFactors } from "./rope-freqs.js";
import {
    SAFETENSORS_DTYPE_SIZE,
    dtypeSize,
    type SafetensorsCheckpoint,
    type SafetensorsDtype,
    type SafetensorsTensor,
} from "./safetensors.js";

/** Output types of `convert`, as llama.cpp's converter names them (--outtype). */
export const CONVERT_OUT_TYPES = ["f32", "f16", "bf16", "q8_0"] as const;
export type ConvertOutType = (typeof CONVERT_OUT_TYPES)[number];

/** general.file_type (llama_ftype) of each output type. */
export const OUT_TYPE_FILE_TYPE: Readonly<Record<ConvertOutType, number>> = {
    f32: fileTypes.F32,
    f16: fileTypes.F16,
    bf16: fileTypes.BF16,
    q8_0: fileTypes.Q8_0,
};

const OUT_TYPE_GGML: Readonly<Record<ConvertOutType, GgmlType>> = {
    f32: GgmlType.F32,
    f16: GgmlType.F16,
    bf16: GgmlType.BF16,
    q8_0: GgmlType.Q8_0,
};

export interface PlannedTensor {
    readonly ggufName: string;
    /** ggml dimensions (ne order): the reverse of the PyTorch shape. */
    readonly shape: number[];
    readonly type: GgmlType;
    /** The checkpoint tensor it is read from, absent for generated tensors. */
    readonly source?: SafetensorsTensor & { dtype: SafetensorsDtype };
    /**
     * Rows are regrouped per head from HF's rotate_half layout to llama.cpp's
     * interleaved-pair layout; this is the number of heads.
     */
    readonly permuteHeads?: number;
    /** Data of a generated tensor (float32). */
    readonly data?: Float32Array;
}

/** A checkpoint tensor kept as GGUF metadata (a gating network's weights), read whole by convert. */
export interface AuxiliaryTensor {
    /** The checkpoint's name, e.g. gating.layers.0.weight. */
    readonly hfName: string;
    readonly source: SafetensorsTensor & { dtype: SafetensorsDtype };
}

export interface TensorPlan {
    readonly tensors: PlannedTensor[];
    /** Tensors of a gating network, written as metadata rather than as GGUF tensors (docs/format.md §2). */
    readonly auxiliary: AuxiliaryTensor[];
    readonly labels: string[];
    /** HF tensors present but not written (an LM head, cached inv_freq). */
    readonly skipped: string[];
}

function failed(message: string): RewardModelError {
    return new RewardModelError("ERR_CONVERT_FAILED", message);
}

interface Expected {
    ggufName: string;
    torchShape: number[] | "any-labels";
    permuteHeads?: number;
    optional?: boolean;
}

function expectedTensors(c: HfLlamaConfig): Map<string, Expected> {
    const m = new Map<string, Expected>();
    const qDim = c.headCount * c.headDim;
    const kvDim = c.kvHeadCount * c.headDim;
    m.set("model.embed_tokens.weight", { ggufName: "token_embd.weight", torchShape: [c.vocabSize, c.hiddenSize] });
    for (let i = 0; i < c.layerCount; i++) {
        const hf = `model.layers.${i}.`;
        const gg = `blk.${i}.`;
        m.set(`${hf}input_layernorm.weight`, { ggufName: `${gg}attn_norm.weight`, torchShape: [c.hiddenSize] });
        m.set(`${hf}self_attn.q_proj.weight`, {
            ggufName: `${gg}attn_q.weight`,
            torchShape: [qDim, c.hiddenSize],
            permuteHeads: c.headCount,
        });
        m.set(`${hf}self_attn.k_proj.weight`, {
            ggufName: `${gg}attn_k.weight`,
            torchShape: [kvDim, c.hiddenSize],
            permuteHeads: c.kvHeadCount,
        });
        m.set(`${hf}self_attn.v_proj.weight`, { ggufName: `${gg}attn_v.weight`, torchShape: [kvDim, c.hiddenSize] });
        m.set(`${hf}self_attn.o_proj.weight`, { ggufName: `${gg}attn_output.weight`, torchShape: [c.hiddenSize, qDim] });
        m.set(`${hf}post_attention_layernorm.weight`, { ggufName: `${gg}ffn_norm.weight`, torchShape: [c.hiddenSize] });
        m.set(`${hf}mlp.gate_proj.weight`, { ggufName: `${gg}ffn_gate.weight`, torchShape: [c.intermediateSize, c.hiddenSize] });
        m.set(`${hf}mlp.up_proj.weight`, { ggufName: `${gg}ffn_up.weight`, torchShape: [c.intermediateSize, c.hiddenSize] });
        m.set(`${hf}mlp.down_proj.weight`, { ggufName: `${gg}ffn_down.weight`, torchShape: [c.hiddenSize, c.intermediateSize] });
    }
    m.set("model.norm.weight", { ggufName: "output_norm.weight", torchShape: [c.hiddenSize] });
    if (c.gating !== undefined) {
        m.set(HEAD_OF_GATED, { ggufName: "cls.output.weight", torchShape: "any-labels" });
    } else {
        m.set("score.weight", { ggufName: "cls.output.weight", torchShape: "any-labels" });
        m.set("score.bias", { ggufName: "cls.output.bias", torchShape: "any-labels", optional: true });
    }
    return m;
}

/** The regression layer of a LlamaForRewardModelWithGating checkpoint: its reward head. */
const HEAD_OF_GATED = "regression_layer.weight";

/** The gating network's tensors (PyTorch shapes) of a LlamaForRewardModelWithGating checkpoint, kept as metadata. */
export function gatingTensorShapes(c: HfLlamaConfig): Map<string, number[]> {
    const shapes = new Map<string, number[]>();
    const g = c.gating;
    if (g === undefined) return shapes;
    let nIn = c.hiddenSize;
    for (let i = 0; i <= g.nHidden; i++) {
        const nOut = i < g.nHidden ? g.hiddenDim : g.objectives;
        shapes.set(`gating.layers.${i}.weight`, [nOut, nIn]);
        shapes.set(`gating.layers.${i}.bias`, [nOut]);
        nIn = nOut;
    }
    shapes.set("gating.logit_scale", [1]);
    shapes.set("reward_transform_matrix", [g.objectives, g.objectives]);
    return shapes;
}

/** Tensors a reward checkpoint may carry that the GGUF file does not need. */
function isSkippable(name: string): boolean {
    return name === "lm_head.weight" || name.endsWith(".rotary_emb.inv_freq");
}

/**
 * The plan of a sequence classifier's tensors. With `lmHeadRows`, the
 * checkpoint is a causal LM: it has no score.weight, its lm_head.weight is
 * skipped, and the caller adds the head (lm-head-rows.ts) with these labels.
 */
export function planTensors(
    config: HfLlamaConfig,
    checkpoint: SafetensorsCheckpoint,
    outType: ConvertOutType,
    lmHeadRows?: { labels: string[] },
): TensorPlan {
    const expected = expectedTensors(config);
    if (lmHeadRows !== undefined) {
        expected.delete("score.weight");
        expected.delete("score.bias");
    }
    const gatingShapes = gatingTensorShapes(config);
    const skipped: string[] = [];
    for (const name of checkpoint.tensors.keys()) {
        if (expected.has(name) || gatingShapes.has(name)) continue;
        if (isSkippable(name)) {
            skipped.push(name);
            continue;
        }
        throw failed(
            `Unexpected tensor ${name} in the checkpoint: it is not part of a ${config.layerCount}-layer ` +
                "LlamaForSequenceClassification (check num_hidden_layers in config.json)",
        );
    }

    if (lmHeadRows !== undefined)
        return { tensors: plannedTensors(config, checkpoint, outType, expected, 0), auxiliary: [], labels: lmHeadRows.labels, skipped };
    const headName = config.gating !== undefined ? HEAD_OF_GATED : "score.weight";
    const head = checkpoint.tensors.get(headName);
    if (head === undefined) throw failed(`The checkpoint has no ${headName}: it is not a sequence-classification (reward) model`);
    if (head.shape.length !== 2 || head.shape[1] !== config.hiddenSize || head.shape[0]! < 1) {
        throw failed(`${headName} has shape [${head.shape.join(", ")}], expected [num_labels, ${config.hiddenSize}]`);
    }
    const labelCount = head.shape[0]!;
    let labels: string[];
    if (config.gating !== undefined) {
        if (labelCount !== config.gating.objectives) {
            throw failed(`config.json's num_objectives is ${config.gating.objectives} but ${headName} has ${labelCount} rows`);
        }
        labels = config.gating.labels;
    } else {
        if (config.labels !== undefined && config.labels.length !== labelCount) {
            throw failed(`config.json's id2label has ${config.labels.length} labels but score.weight has ${labelCount} rows`);
        }
        if (config.labels === undefined && config.numLabels !== undefined && config.numLabels !== labelCount) {
            throw failed(`config.json's num_labels is ${config.numLabels} but score.weight has ${labelCount} rows`);
        }
        labels = config.labels ?? Array.from({ length: labelCount }, (_, i) => `LABEL_${i}`);
    }
    const auxiliary: AuxiliaryTensor[] = [];
    for (const [hfName, want] of gatingShapes) {
        const t = checkpoint.tensors.get(hfName);
        if (t === undefined) throw failed(`The checkpoint is missing tensor ${hfName} of its gating network`);
        if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
            throw failed(`Tensor ${hfName} has shape [${t.shape.join(", ")}], but config.json implies [${want.join(", ")}]`);
        }
        dtypeSize(t);
        auxiliary.push({ hfName, source: t as SafetensorsTensor & { dtype: SafetensorsDtype } });
    }
    return { tensors: plannedTensors(config, checkpoint, outType, expected, labelCount), auxiliary, labels, skipped };
}

/** Every expected tensor, shape-checked, in the order it lies on disk; rope_freqs first when generated. */
function plannedTensors(
    config: HfLlamaConfig,
    checkpoint: SafetensorsCheckpoint,
    outType: ConvertOutType,
    expected: Map<string, Expected>,
    labelCount: number,
): PlannedTensor[] {
    const out: PlannedTensor[] = [];
    for (const [hfName, e] of expected) {
        const t = checkpoint.tensors.get(hfName);
        if (t === undefined) {
            if (e.optional) continue;
            throw failed(`The checkpoint is missing tensor ${hfName}`);
        }
        const want =
            e.torchShape === "any-labels"
                ? e.ggufName === "cls.output.weight"
                    ? [labelCount, config.hiddenSize]
                    : [labelCount]
                : e.torchShape;
        if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
            throw failed(`Tensor ${hfName} has shape [${t.shape.join(", ")}], but config.json implies [${want.join(", ")}]`);
        }
        dtypeSize(t); // rejects unsupported dtypes with a clear message
        const shape = [...t.shape].reverse();
        out.push({
            ggufName: e.ggufName,
            shape,
            type: storageType(e.ggufName, shape, outType),
            source: t as SafetensorsTensor & { dtype: SafetensorsDtype },
            ...(e.permuteHeads !== undefined ? { permuteHeads: e.permuteHeads } : {}),
        });
    }
    // Read the checkpoint in file order, as it lies on disk.
    out.sort((a, b) => {
        const fa = checkpoint.files.indexOf(a.source!.file);
        const fb = checkpoint.files.indexOf(b.source!.file);
        return fa !== fb ? fa - fb : a.source!.dataStart - b.source!.dataStart;
    });

    if (config.ropeScaling !== undefined) {
        const data = llama3RopeFactors(config.headDim, config.ropeTheta, config.ropeScaling);
        out.unshift({ ggufName: "rope_freqs.weight", shape: [data.length], type: GgmlType.F32, data });
    }
    return out;
}

/**
 * Storage type of a tensor, following llama.cpp's converter: 1-D tensors and
 * norms stay F32; the reward head stays F32 (docs/format.md §2); Q8_0 falls back to
 * F16 for rows that are not a whole number of 32-value blocks.
 */
function storageType(ggufName: string, shape: number[], outType: ConvertOutType): GgmlType {
    if (shape.length <= 1 || ggufName.endsWith("_norm.weight") || ggufName.startsWith("cls.output.")) return GgmlType.F32;
    const type = OUT_TYPE_GGML[outType];
    if (type === GgmlType.Q8_0 && shape[0]! % 32 !== 0) return GgmlType.F16;
    return type;
}

/** Bytes of one source row (the innermost PyTorch dimension). */
export function sourceRowBytes(t: PlannedTensor): number {
    return t.shape[0]! * SAFETENSORS_DTYPE_SIZE[t.source!.dtype];
}
