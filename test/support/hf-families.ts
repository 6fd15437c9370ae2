/**
 * Test checkpoints of the public Llama-3 reward-model families
 * (docs/families.md): each family's config.json and tokenizer_config.json
 * fields as published (architecture, special ids, vocabulary, RoPE scaling,
 * tied embeddings, head size, chat template, ArmoRM's gating settings), with
 * the sizes shrunk (2 layers, hidden 256) and RANDOM weights under the
 * family's own tensor names (a score head, ArmoRM's gating network, or the
 * LM head of the LlamaForCausalLM families), in BF16 as the families ship,
 * and the flags of each family's documented convert command. Their rewards
 * mean nothing. Which fields are the published text and which are
 * reconstructed is said per family in docs/families.md.
 */
import fs from "node:fs";
import path from "node:path";
import { LLAMA3_CHAT_TEMPLATE, createNormalRng } from "../../tools/models/generate-tiny-model.js";
import { bf16ToFloat32, float32ToBf16 } from "../../src/gguf/float16.js";
import type { BosPolicy } from "../../src/model/bos-policy.js";
import type { HfReferenceConfig } from "../reference/hf-llama-reference.js";
import { type HfTensorSource, writeSafetensorsCheckpoint } from "./hf-safetensors-writer.js";
import { buildTokenizerJson, type Llama3Vocab } from "./hf-tokenizer-json.js";
import { llamaDir } from "./fixtures.js";

/** Meta's chat templates, as llama.cpp keeps them (models/templates/). */
function metaTemplate(file: string): string {
    return fs.readFileSync(path.join(llamaDir, "models", "templates", file), "utf8");
}

export interface RewardFamily {
    /** The Hugging Face repository. */
    repo: string;
    /** Short name used for files. */
    id: string;
    /** config.json, sizes shrunk. */
    config: HfReferenceConfig & Record<string, unknown>;
    /** tokenizer_config.json (without added_tokens_decoder). */
    tokenizerConfig: Record<string, unknown>;
    /** Tokens past Llama-3's 128256 (GRM's [PAD]). */
    extraTokens: { id: number; content: string; special: boolean }[];
    /** The BOS policy the model card's scoring code implies. */
    bos: BosPolicy;
    /** The gating network's hidden width in the test checkpoint (ArmoRM's is 1024). */
    gatingHiddenDim?: number;
    /** The flags of the family's `llama-reward convert <dir> -o <file>` command in docs/families.md. */
    convertFlags: string[];
    /** The labels of the converted file's head. */
    labels: string[];
    /** The LM-head rows (token ids) a LlamaForCausalLM family's head is made of. */
    lmHeadTokens?: number[];
}

const TINY = { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2 } as const;

/** Llama-3-8B(-Instruct) config.json fields every Llama-3 family keeps. */
const llama3Base = {
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: 128000,
    hidden_act: "silu",
    initializer_range: 0.02,
    max_position_embeddings: 8192,
    mlp_bias: false,
    model_type: "llama",
    num_attention_heads: 4,
    num_key_value_heads: 2,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 500000.0,
    tie_word_embeddings: false,
    torch_dtype: "bfloat16",
    use_cache: true,
    vocab_size: 128256,
    ...TINY,
};

/** Llama-3.1 / 3.2 RoPE scaling: factor 8 for 3.1, 32 for 3.2. */
function llama3Rope(factor: number) {
    return { factor, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" };
}

const llama3TokenizerConfig = {
    bos_token: "<|begin_of_text|>",
    clean_up_tokenization_spaces: true,
    eos_token: "<|eot_id|>",
    model_input_names: ["input_ids", "attention_mask"],
    model_max_length: 1e30,
    tokenizer_class: "PreTrainedTokenizerFast",
};

const sequenceClassification = {
    architectures: ["LlamaForSequenceClassification"],
    id2label: { "0": "LABEL_0" },
    label2id: { LABEL_0: 0 },
};

/** Llama-3.1-8B/70B-Instruct config.json fields the Llama-3.1 LlamaForCausalLM families keep. */
const llama31CausalLm = {
    architectures: ["LlamaForCausalLM"],
    eos_token_id: [128001, 128008, 128009],
    max_position_embeddings: 131072,
    rope_scaling: llama3Rope(8.0),
};

const oneLabel = { convertFlags: [], labels: ["LABEL_0"] };

/** The families with a test checkpoint, in docs/families.md's order. */
export function rewardFamilies(): RewardFamily[] {
    const llama31Template = metaTemplate("meta-llama-Llama-3.1-8B-Instruct.jinja");
    const llama32Template = metaTemplate("meta-llama-Llama-3.2-3B-Instruct.jinja");
    return [
        {
            repo: "Ray2333/GRM-llama3-8B-distill",
            id: "grm-llama3-8b-distill",
            config: {
                ...llama3Base,
                ...sequenceClassification,
                eos_token_id: 128009,
                pad_token_id: 128256,
                vocab_size: 128257,
            },
            tokenizerConfig: {
                ...llama3TokenizerConfig,
                add_bos_token: true,
                add_eos_token: false,
                chat_template: LLAMA3_CHAT_TEMPLATE,
                pad_token: "[PAD]",
            },
            extraTokens: [{ id: 128256, content: "[PAD]", special: true }],
            bos: "hf",
            ...oneLabel,
        },
        {
            repo: "sfairXC/FsfairX-LLaMA3-RM-v0.1",
            id: "fsfairx-llama3-rm-v0.1",
            config: { ...llama3Base, ...sequenceClassification, eos_token_id: 128009 },
            tokenizerConfig: { ...llama3TokenizerConfig, chat_template: LLAMA3_CHAT_TEMPLATE },
            extraTokens: [],
            bos: "single",
            ...oneLabel,
        },
        {
            repo: "Skywork/Skywork-Reward-V2-Llama-3.1-8B",
            id: "skywork-reward-v2-llama-3.1-8b",
            config: {
                ...llama3Base,
                ...sequenceClassification,
                eos_token_id: [128001, 128008, 128009],
                pad_token_id: 128004,
                max_position_embeddings: 131072,
                rope_scaling: llama3Rope(8.0),
            },
            tokenizerConfig: { ...llama3TokenizerConfig, chat_template: llama31Template, pad_token: "<|finetune_right_pad_id|>" },
            extraTokens: [],
            bos: "single",
            ...oneLabel,
        },
        {
            repo: "Skywork/Skywork-Reward-V2-Llama-3.2-1B",
            id: "skywork-reward-v2-llama-3.2-1b",
            config: {
                ...llama3Base,
                ...sequenceClassification,
                eos_token_id: [128001, 128008, 128009],
                pad_token_id: 128004,
                head_dim: 64,
                max_position_embeddings: 131072,
                rope_scaling: llama3Rope(32.0),
                tie_word_embeddings: true,
            },
            tokenizerConfig: { ...llama3TokenizerConfig, chat_template: llama32Template, pad_token: "<|finetune_right_pad_id|>" },
            extraTokens: [],
            bos: "single",
            ...oneLabel,
        },
        {
            repo: "Skywork/Skywork-Reward-V2-Llama-3.2-3B",
            id: "skywork-reward-v2-llama-3.2-3b",
            config: {
                ...llama3Base,
                ...sequenceClassification,
                eos_token_id: [128001, 128008, 128009],
                pad_token_id: 128004,
                num_attention_heads: 2,
                num_key_value_heads: 1,
                head_dim: 128,
                max_position_embeddings: 131072,
                rope_scaling: llama3Rope(32.0),
                tie_word_embeddings: true,
            },
            tokenizerConfig: { ...llama3TokenizerConfig, chat_template: llama32Template, pad_token: "<|finetune_right_pad_id|>" },
            extraTokens: [],
            bos: "single",
            ...oneLabel,
        },
        {
            repo: "RLHFlow/ArmoRM-Llama3-8B-v0.1",
            id: "armorm-llama3-8b-v0.1",
            config: {
                ...llama3Base,
                architectures: ["LlamaForRewardModelWithGating"],
                auto_map: { AutoModelForSequenceClassification: "modeling_custom.LlamaForRewardModelWithGating" },
                id2label: { "0": "LABEL_0" },
                label2id: { LABEL_0: 0 },
                num_objectives: 19,
                gating_temperature: 10,
                gating_n_hidden: 3,
                gating_hidden_dim: 64,
                eos_token_id: 128009,
                pad_token_id: 128256,
                vocab_size: 128256,
            },
            tokenizerConfig: { ...llama3TokenizerConfig, chat_template: LLAMA3_CHAT_TEMPLATE, pad_token: "[PAD]" },
            extraTokens: [],
            bos: "single",
            gatingHiddenDim: 64,
            ...oneLabel,
        },
        {
            // a generative PRM fine-tuned from Llama-3.1-8B-Instruct, untied LM head
            repo: "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data",
            id: "llama3.1-8b-prm-deepseek-data",
            config: { ...llama3Base, ...llama31CausalLm },
            tokenizerConfig: { ...llama3TokenizerConfig, chat_template: llama31Template },
            extraTokens: [],
            bos: "single",
            convertFlags: ["--head-from-lm-head", "+,-", "--step-format", "assistant-turns", "--step-aggregate", "min"],
            labels: ["+", "-"],
            lmHeadTokens: [10, 12],
        },
        {
            // Llama-3.1-70B-Instruct's shape (64 heads, 8 of them for keys and values) shrunk to 8 and 1; untied LM head
            repo: "nvidia/Llama-3.1-Nemotron-70B-Reward-HF",
            id: "llama-3.1-nemotron-70b-reward-hf",
            config: { ...llama3Base, ...llama31CausalLm, num_attention_heads: 8, num_key_value_heads: 1 },
            tokenizerConfig: { ...llama3TokenizerConfig, chat_template: llama31Template },
            extraTokens: [],
            bos: "single",
            convertFlags: ["--head-from-lm-head", "0"],
            labels: ["!"],
            lmHeadTokens: [0],
        },
    ];
}

export interface FamilyCheckpoint {
    family: RewardFamily;
    dir: string;
    /** Every weight by HF name, with the values the checkpoint stores. */
    weights: Map<string, Float32Array>;
}

function roundBf16(values: Float32Array): Float32Array {
    for (let i = 0; i < values.length; i++) values[i] = bf16ToFloat32(float32ToBf16(values[i]!));
    return values;
}

/** Writes the family's checkpoint (config.json, tokenizer files, BF16 safetensors) under `work`. */
export function writeFamilyCheckpoint(family: RewardFamily, work: string, vocab: Llama3Vocab, seed: number): FamilyCheckpoint {
    const c = family.config;
    const dir = path.join(work, family.id);
    const d = c.hidden_size;
    const headDim = c.head_dim ?? d / c.num_attention_heads;
    const normal = createNormalRng(seed);
    const weights = new Map<string, Float32Array>();
    const shapes = new Map<string, number[]>();
    const add = (name: string, shape: number[], sample: () => number): void => {
        const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
        for (let i = 0; i < v.length; i++) v[i] = sample();
        weights.set(name, roundBf16(v));
        shapes.set(name, shape);
    };
    const matrix = (name: string, out: number, inp: number, gain = 1): void => {
        const std = gain / Math.sqrt(inp);
        add(name, [out, inp], () => normal() * std);
    };
    const norm = (name: string): void => add(name, [d], () => 1 + 0.1 * normal());
    const residualGain = 1 / Math.sqrt(2 * c.num_hidden_layers);

    add("model.embed_tokens.weight", [c.vocab_size, d], normal);
    for (let l = 0; l < c.num_hidden_layers; l++) {
        const p = `model.layers.${l}.`;
        norm(`${p}input_layernorm.weight`);
        matrix(`${p}self_attn.q_proj.weight`, c.num_attention_heads * headDim, d);
        matrix(`${p}self_attn.k_proj.weight`, c.num_key_value_heads * headDim, d);
        matrix(`${p}self_attn.v_proj.weight`, c.num_key_value_heads * headDim, d);
        matrix(`${p}self_attn.o_proj.weight`, d, c.num_attention_heads * headDim, residualGain);
        norm(`${p}post_attention_layernorm.weight`);
        matrix(`${p}mlp.gate_proj.weight`, c.intermediate_size, d);
        matrix(`${p}mlp.up_proj.weight`, c.intermediate_size, d);
        matrix(`${p}mlp.down_proj.weight`, d, c.intermediate_size, residualGain);
    }
    norm("model.norm.weight");
    if (Array.isArray(c.architectures) && c.architectures[0] === "LlamaForRewardModelWithGating") {
        const objectives = c.num_objectives as number;
        const hidden = family.gatingHiddenDim!;
        matrix("regression_layer.weight", objectives, d);
        let nIn = d;
        for (let i = 0; i <= (c.gating_n_hidden as number); i++) {
            const nOut = i < (c.gating_n_hidden as number) ? hidden : objectives;
            // a larger gain on the last layer spreads the softmax, so the gating weights differ visibly
            matrix(`gating.layers.${i}.weight`, nOut, nIn, i < (c.gating_n_hidden as number) ? 1.5 : 40);
            add(`gating.layers.${i}.bias`, [nOut], () => 0.1 * normal());
            nIn = nOut;
        }
        add("gating.logit_scale", [1], () => 1);
        // ArmoRM ships a learned transform (not the identity its constructor starts from): random, near the identity
        add("reward_transform_matrix", [objectives, objectives], () => 0.2 * normal());
        const m = weights.get("reward_transform_matrix")!;
        for (let i = 0; i < objectives; i++) m[i * objectives + i] = bf16ToFloat32(float32ToBf16(m[i * objectives + i]! + 1));
    } else if (Array.isArray(c.architectures) && c.architectures[0] === "LlamaForCausalLM") {
        if (!c.tie_word_embeddings) matrix("lm_head.weight", c.vocab_size, d);
    } else {
        matrix("score.weight", 1, d);
    }

    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ _name_or_path: family.repo, ...c }, null, 2));
    fs.writeFileSync(
        path.join(dir, "tokenizer.json"),
        JSON.stringify(buildTokenizerJson(vocab, { mergesFormat: "pair", extraTokens: family.extraTokens })),
    );
    fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(family.tokenizerConfig, null, 2));
    const sources: HfTensorSource[] = [...weights].map(([name, data]) => ({
        name,
        dtype: "BF16",
        shape: shapes.get(name)!,
        fill: (values, start) => values.set(data.subarray(start, start + values.length)),
    }));
    writeSafetensorsCheckpoint(dir, sources, 1);
    return { family, dir, weights };
}

/**
 * The checkpoint's weights as the reference reads a reward head: a LlamaForCausalLM family's chosen
 * LM-head rows (of embed_tokens when tied) become score.weight, as `--head-from-lm-head` makes them.
 */
export function referenceHeadWeights(checkpoint: FamilyCheckpoint): Map<string, Float32Array> {
    const rows = checkpoint.family.lmHeadTokens;
    if (rows === undefined) return checkpoint.weights;
    const c = checkpoint.family.config;
    const d = c.hidden_size;
    const lm = checkpoint.weights.get(c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight")!;
    const head = new Float32Array(rows.length * d);
    rows.forEach((id, r) => head.set(lm.subarray(id * d, (id + 1) * d), r * d));
    return new Map([...checkpoint.weights, ["score.weight", head]]);
}
