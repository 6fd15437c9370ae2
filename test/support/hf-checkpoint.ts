/**
 * Builds tiny Hugging Face LlamaForSequenceClassification checkpoints for the
 * converter tests: config.json, tokenizer.json (the real Llama-3 vocabulary,
 * rebuilt from llama.cpp's vocab file), tokenizer_config.json with the
 * Llama-3 chat template, and RANDOM weights in HF layout as safetensors
 * (single file or sharded). The weights are also returned in memory, exactly
 * as stored, for the float64 reference. Their rewards mean nothing.
 */
import fs from "node:fs";
import path from "node:path";
import { LLAMA3_CHAT_TEMPLATE, createNormalRng } from "../../tools/models/generate-tiny-model.js";
import { bf16ToFloat32, f16ToFloat32, float32ToBf16, float32ToF16 } from "../../src/gguf/float16.js";
import type { HfReferenceConfig } from "../reference/hf-llama-reference.js";
import { type HfDtype, type HfTensorSource, writeSafetensorsCheckpoint } from "./hf-safetensors-writer.js";
import { BASE_VOCAB, buildTokenizerJson, readLlama3Vocab, type Llama3Vocab } from "./hf-tokenizer-json.js";

export interface HfCheckpointSpec {
    dir: string;
    /** "llama3": plain RoPE and a [PAD] at 128256; "llama3.1": llama3 rope_scaling, no added PAD. */
    style: "llama3" | "llama3.1";
    dtype: HfDtype;
    shards: number;
    mergesFormat: "string" | "pair";
    labels: string[];
    seed: number;
    vocab: Llama3Vocab;
}

export interface HfCheckpoint {
    dir: string;
    config: HfReferenceConfig & Record<string, unknown>;
    /** Every weight by HF name, with the values the checkpoint stores. */
    weights: Map<string, Float32Array>;
}

/** Sizes of the test checkpoint: rows of 256 so that K-quants (Q4_K_M) apply. */
export const HF_TINY_SIZES = { hidden: 256, intermediate: 512, layers: 2, heads: 4, kvHeads: 2 } as const;
export const PAD_ID = 128256;

export { readLlama3Vocab };

function roundTo(dtype: HfDtype, values: Float32Array): Float32Array {
    if (dtype === "BF16") for (let i = 0; i < values.length; i++) values[i] = bf16ToFloat32(float32ToBf16(values[i]!));
    if (dtype === "F16") for (let i = 0; i < values.length; i++) values[i] = f16ToFloat32(float32ToF16(values[i]!));
    return values;
}

export function writeHfCheckpoint(spec: HfCheckpointSpec): HfCheckpoint {
    const s = HF_TINY_SIZES;
    const headDim = s.hidden / s.heads;
    const pad = spec.style === "llama3";
    const vocabSize = pad ? PAD_ID + 1 : BASE_VOCAB + 256;
    const normal = createNormalRng(spec.seed);
    const weights = new Map<string, Float32Array>();
    const shapes = new Map<string, number[]>();
    const add = (name: string, shape: number[], sample: () => number): void => {
        const n = shape.reduce((a, b) => a * b, 1);
        const v = new Float32Array(n);
        for (let i = 0; i < n; i++) v[i] = sample();
        weights.set(name, roundTo(spec.dtype, v));
        shapes.set(name, shape);
    };
    const matrix = (name: string, out: number, inp: number, gain = 1): void => {
        const std = gain / Math.sqrt(inp);
        add(name, [out, inp], () => normal() * std);
    };
    const norm = (name: string): void => add(name, [s.hidden], () => 1 + 0.1 * normal());

    const residualGain = 1 / Math.sqrt(2 * s.layers); // GPT-2-style scaling of the residual projections
    add("model.embed_tokens.weight", [vocabSize, s.hidden], normal);
    for (let l = 0; l < s.layers; l++) {
        const p = `model.layers.${l}.`;
        norm(`${p}input_layernorm.weight`);
        matrix(`${p}self_attn.q_proj.weight`, s.heads * headDim, s.hidden, 1);
        matrix(`${p}self_attn.k_proj.weight`, s.kvHeads * headDim, s.hidden, 1);
        matrix(`${p}self_attn.v_proj.weight`, s.kvHeads * headDim, s.hidden);
        matrix(`${p}self_attn.o_proj.weight`, s.hidden, s.heads * headDim, residualGain);
        norm(`${p}post_attention_layernorm.weight`);
        matrix(`${p}mlp.gate_proj.weight`, s.intermediate, s.hidden);
        matrix(`${p}mlp.up_proj.weight`, s.intermediate, s.hidden);
        matrix(`${p}mlp.down_proj.weight`, s.hidden, s.intermediate, residualGain);
    }
    norm("model.norm.weight");
    matrix("score.weight", spec.labels.length, s.hidden);

    const config: HfReferenceConfig & Record<string, unknown> = {
        _name_or_path: `tiny-${spec.style}-reward (random weights)`,
        architectures: ["LlamaForSequenceClassification"],
        model_type: "llama",
        attention_bias: false,
        attention_dropout: 0,
        bos_token_id: 128000,
        eos_token_id: spec.style === "llama3" ? 128009 : [128001, 128008, 128009],
        hidden_act: "silu",
        hidden_size: s.hidden,
        id2label: Object.fromEntries(spec.labels.map((l, i) => [String(i), l])),
        label2id: Object.fromEntries(spec.labels.map((l, i) => [l, i])),
        initializer_range: 0.02,
        intermediate_size: s.intermediate,
        max_position_embeddings: spec.style === "llama3" ? 8192 : 131072,
        mlp_bias: false,
        num_attention_heads: s.heads,
        num_hidden_layers: s.layers,
        num_key_value_heads: s.kvHeads,
        pad_token_id: pad ? PAD_ID : 128004,
        pretraining_tp: 1,
        rms_norm_eps: 1e-5,
        // A short original context makes llama3 scaling touch most frequencies of this small model.
        rope_scaling:
            spec.style === "llama3"
                ? null
                : {
                      factor: 8,
                      low_freq_factor: 1,
                      high_freq_factor: 4,
                      original_max_position_embeddings: 64,
                      rope_type: "llama3",
                  },
        rope_theta: 500000,
        tie_word_embeddings: false,
        torch_dtype: { F32: "float32", F16: "float16", BF16: "bfloat16" }[spec.dtype],
        transformers_version: "4.44.0",
        use_cache: true,
        vocab_size: vocabSize,
    };

    fs.mkdirSync(spec.dir, { recursive: true });
    fs.writeFileSync(path.join(spec.dir, "config.json"), JSON.stringify(config, null, 2));
    writeTokenizerFiles(spec.dir, spec.vocab, spec.style, spec.mergesFormat);
    const sources: HfTensorSource[] = [...weights].map(([name, data]) => ({
        name,
        dtype: spec.dtype,
        shape: shapes.get(name)!,
        fill: (values, start) => values.set(data.subarray(start, start + values.length)),
    }));
    writeSafetensorsCheckpoint(spec.dir, sources, spec.shards);
    return { dir: spec.dir, config, weights };
}

/** tokenizer.json and tokenizer_config.json of a Llama-3 (GRM-like) or Llama-3.1 checkpoint. */
export function writeTokenizerFiles(dir: string, vocab: Llama3Vocab, style: "llama3" | "llama3.1", mergesFormat: "string" | "pair"): void {
    const pad = style === "llama3";
    const tokenizer = buildTokenizerJson(vocab, {
        mergesFormat,
        extraTokens: pad ? [{ id: PAD_ID, content: "[PAD]", special: true }] : [],
    });
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
    const tokenizerConfig: Record<string, unknown> = {
        bos_token: "<|begin_of_text|>",
        chat_template: LLAMA3_CHAT_TEMPLATE,
        clean_up_tokenization_spaces: true,
        eos_token: "<|eot_id|>",
        model_input_names: ["input_ids", "attention_mask"],
        model_max_length: 1e30, // transformers writes int(1e30), which is this double
        pad_token: pad ? "[PAD]" : vocab.tokens[128004],
        tokenizer_class: "PreTrainedTokenizerFast",
    };
    // GRM-style files state add_bos_token; Meta's Llama-3.1 files leave it to the post-processor.
    if (pad) Object.assign(tokenizerConfig, { add_bos_token: true, add_eos_token: false });
    fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig, null, 2));
}
