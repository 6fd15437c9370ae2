/**
 * The reward-model metadata beyond llama.cpp's classifier contract that
 * `convert` writes (docs/format.md §2): OpenRLHF's reward normalization
 * (config.json's mean, std, normalize_reward) and an ArmoRM gating network
 * (its MLP, logit scale and reward transform matrix, read whole from the
 * checkpoint, with the temperature and the gating token pattern). The gating
 * network is metadata, not tensors: llama.cpp's loader refuses tensors its
 * architecture does not create, and metadata survives `quantize` unchanged
 * (llama.cpp copies every key) and stays F32 exactly.
 */
import type { GgufWriter } from "../gguf/gguf-writer.js";
import { gatingKeys } from "../model/gated-head.js";
import { normalizationKeys } from "../model/reward-normalization.js";
import { ARMORM_GATING_TOKEN_PATTERN, type HfLlamaConfig } from "./hf-config.js";
import type { SafetensorsCheckpoint } from "./safetensors.js";
import { decodeToFloat32 } from "./tensor-codec.js";
import type { AuxiliaryTensor } from "./tensor-plan.js";

/** Writes the normalization keys when config.json states any. */
export function addNormalizationMetadata(w: GgufWriter, config: HfLlamaConfig): void {
    const n = config.normalization;
    if (n === undefined) return;
    w.addF64(normalizationKeys.mean, n.mean);
    w.addF64(normalizationKeys.std, n.std);
    w.addBool(normalizationKeys.enabled, n.normalizeReward);
}

function readWhole(checkpoint: SafetensorsCheckpoint, t: AuxiliaryTensor): Float32Array {
    const bytes = checkpoint.readRows(t.source, t.source.byteLength, 0, 1, new Uint8Array(t.source.byteLength));
    return decodeToFloat32(bytes, t.source.dtype);
}

/** Writes the gating network of a LlamaForRewardModelWithGating checkpoint (nothing for other checkpoints). */
export function addGatingMetadata(
    w: GgufWriter,
    config: HfLlamaConfig,
    auxiliary: AuxiliaryTensor[],
    checkpoint: SafetensorsCheckpoint,
): void {
    const g = config.gating;
    if (g === undefined) return;
    const values = new Map(auxiliary.map((t) => [t.hfName, readWhole(checkpoint, t)]));
    const get = (name: string): Float32Array => values.get(name)!; // tensor-plan checked every name and shape
    w.addU32(gatingKeys.layerCount, g.nHidden + 1);
    for (let i = 0; i <= g.nHidden; i++) {
        w.addF32Array(gatingKeys.weight(i), Array.from(get(`gating.layers.${i}.weight`)));
        w.addF32Array(gatingKeys.bias(i), Array.from(get(`gating.layers.${i}.bias`)));
    }
    w.addF32(gatingKeys.temperature, g.temperature);
    w.addF32(gatingKeys.logitScale, get("gating.logit_scale")[0]!);
    w.addF32Array(gatingKeys.transform, Array.from(get("reward_transform_matrix")));
    w.addI32Array(gatingKeys.tokenPattern, ARMORM_GATING_TOKEN_PATTERN);
}
