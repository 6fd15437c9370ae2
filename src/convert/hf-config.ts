/**
 * Reads a Hugging Face `config.json` of a Llama sequence-classification
 * (reward) checkpoint into the hyperparameters the GGUF file needs, and
 * refuses anything this converter cannot write faithfully: other
 * architectures, inconsistent sizes, RoPE scalings other than llama3.
 */

import * as fs from "node:fs";
import * as path from "node:path";

import { RewardModelError } from "../errors.js";
import { checkNormalization, type RewardNormalization } from "../model/reward-normalization.js";

/**
 * transformers architectures converted by this package: sequence classification, and ArmoRM's
 * multi-objective head with gating (its modeling_custom.py, loaded with trust_remote_code).
 */
export const SUPPORTED_HF_ARCHITECTURES = ["LlamaForSequenceClassification", "LlamaForRewardModelWithGating"] as const;

/**
 * ArmoRM-Llama3-8B-v0.1's 19 objectives, in the regression layer's row order, as its model card names
 * them; its config.json does not. Used for a 19-objective gated checkpoint without its own id2label.
 */
export const ARMORM_OBJECTIVES: readonly string[] = [
    "helpsteer-helpfulness",
    "helpsteer-correctness",
    "helpsteer-coherence",
    "helpsteer-complexity",
    "helpsteer-verbosity",
    "ultrafeedback-overall_score",
    "ultrafeedback-instruction_following",
    "ultrafeedback-truthfulness",
    "ultrafeedback-honesty",
    "ultrafeedback-helpfulness",
    "beavertails-is_safe",
    "prometheus-score",
    "argilla-overall_quality",
    "argilla-judge_lm",
    "code-complexity",
    "code-style",
    "code-explanation",
    "code-instruction-following",
    "code-readability",
];

/**
 * The gating position of ArmoRM's modeling code: the first token of the last occurrence of
 * tokenizer.encode("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", add_special_tokens=False).
 */
export const ARMORM_GATING_TOKEN_PATTERN: readonly number[] = [128009, 128006, 78191, 128007, 271];

/** The gating network of a LlamaForRewardModelWithGating checkpoint, as its config.json sets it (with the modeling code's defaults). */
export interface GatingConfig {
    readonly objectives: number;
    readonly temperature: number;
    readonly hiddenDim: number;
    /** Hidden layers (ReLU after each); the MLP has nHidden + 1 linear layers. */
    readonly nHidden: number;
    /** Objective names: id2label when it names every objective, else ARMORM_OBJECTIVES for 19, else objective_<i>. */
    readonly labels: string[];
}

/** RoPE scaling of type "llama3" (Llama 3.1 and later). */
export interface Llama3RopeScaling {
    readonly factor: number;
    readonly lowFreqFactor: number;
    readonly highFreqFactor: number;
    readonly originalMaxPositionEmbeddings: number;
}

export interface HfLlamaConfig {
    readonly architecture: string;
    readonly hiddenSize: number;
    readonly intermediateSize: number;
    readonly layerCount: number;
    readonly headCount: number;
    readonly kvHeadCount: number;
    readonly headDim: number;
    /** True when config.json states head_dim explicitly (written as key/value length). */
    readonly explicitHeadDim: boolean;
    readonly vocabSize: number;
    readonly maxPositionEmbeddings: number;
    readonly ropeTheta: number;
    readonly rmsNormEps: number;
    readonly ropeScaling: Llama3RopeScaling | undefined;
    /** Labels from id2label in id order, or undefined when config.json has none. */
    readonly labels: string[] | undefined;
    /** num_labels when stated. */
    readonly numLabels: number | undefined;
    /** Informational: a reward GGUF carries no LM head, tied or not (lm_head.weight is skipped). */
    readonly tieWordEmbeddings: boolean;
    /** torch_dtype (or dtype) as stated, e.g. "bfloat16". */
    readonly torchDtype: string | undefined;
    /** Special token ids stated in config.json (used when the tokenizer files do not name them). */
    readonly tokenIds: Readonly<Record<string, number>>;
    /** _name_or_path, if any. */
    readonly nameOrPath: string | undefined;
    /** OpenRLHF's mean, std and normalize_reward, when config.json states any of them. */
    readonly normalization: RewardNormalization | undefined;
    /** The gating network of a LlamaForRewardModelWithGating checkpoint. */
    readonly gating: GatingConfig | undefined;
}

const SUPPORTED_TORCH_DTYPES = ["float32", "float16", "bfloat16"];

function failed(message: string, cause?: unknown): RewardModelError {
    return new RewardModelError("ERR_CONVERT_FAILED", message, cause === undefined ? undefined : { cause });
}

/** Reads and parses a JSON file of the checkpoint, failing clearly when it is missing or malformed. */
export function readJsonFile(file: string): Record<string, unknown> {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (cause) {
        throw failed(`Missing ${path.basename(file)} in ${path.dirname(file)}`, cause);
    }
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (cause) {
        throw failed(`${file} is not valid JSON: ${(cause as Error).message}`, cause);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw failed(`${file} is not a JSON object`);
    return value as Record<string, unknown>;
}

/**
 * Reads config.json. `causalLm` converts a LlamaForCausalLM (whose head is
 * made of LM-head rows, lm-head-rows.ts) instead of a sequence classifier.
 */
export function readHfConfig(dir: string, options: { causalLm?: boolean } = {}): HfLlamaConfig {
    const file = path.join(dir, "config.json");
    const c = readJsonFile(file);

    const positiveInt = (key: string, fallback?: number): number => {
        const v = c[key] ?? fallback;
        if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
            throw failed(`${file}: ${key} must be a positive integer, got ${JSON.stringify(c[key])}`);
        }
        return v;
    };
    const positiveNumber = (key: string, fallback?: number): number => {
        const v = c[key] ?? fallback;
        if (typeof v !== "number" || !(v > 0)) throw failed(`${file}: ${key} must be a positive number, got ${JSON.stringify(c[key])}`);
        return v;
    };

    const architectures = c.architectures;
    const architecture = Array.isArray(architectures) && typeof architectures[0] === "string" ? architectures[0] : undefined;
    if (options.causalLm === true && architecture !== "LlamaForCausalLM") {
        throw failed(`${file}: a head from LM-head rows needs a LlamaForCausalLM checkpoint, not ${JSON.stringify(architecture ?? null)}`);
    }
    if (
        architecture === undefined ||
        !(options.causalLm === true || (SUPPORTED_HF_ARCHITECTURES as readonly string[]).includes(architecture))
    ) {
        const hint =
            architecture === "LlamaForCausalLM"
                ? "; it is a language model without a reward head (convert it with --head-from-lm-head to read chosen " +
                  "tokens' logits as the head, or use llama.cpp's convert_hf_to_gguf.py)"
                : "";
        throw failed(
            `${file}: unsupported architecture ${JSON.stringify(architecture ?? architectures ?? null)}; ` +
                `llama-reward converts ${SUPPORTED_HF_ARCHITECTURES.join(", ")}${hint}`,
        );
    }
    if (c.model_type !== undefined && c.model_type !== "llama") {
        throw failed(`${file}: model_type ${JSON.stringify(c.model_type)} is not "llama"`);
    }

    const hiddenSize = positiveInt("hidden_size");
    const headCount = positiveInt("num_attention_heads");
    const kvHeadCount = positiveInt("num_key_value_heads", headCount);
    const explicitHeadDim = c.head_dim !== undefined && c.head_dim !== null;
    const headDim = explicitHeadDim ? positiveInt("head_dim") : hiddenSize / headCount;
    if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
        throw failed(`${file}: the head size (hidden_size ${hiddenSize} / num_attention_heads ${headCount}) must be an even integer`);
    }
    if (headCount % kvHeadCount !== 0) {
        throw failed(`${file}: num_attention_heads ${headCount} is not a multiple of num_key_value_heads ${kvHeadCount}`);
    }
    for (const key of ["attention_bias", "mlp_bias"]) {
        if (c[key] === true) throw failed(`${file}: ${key} is true; Llama checkpoints with biases are not supported`);
    }

    const torchDtype = (c.torch_dtype ?? c.dtype) as unknown;
    if (torchDtype !== undefined && (typeof torchDtype !== "string" || !SUPPORTED_TORCH_DTYPES.includes(torchDtype))) {
        throw failed(
            `${file}: torch_dtype ${JSON.stringify(torchDtype)} is not supported; ` +
                `convertible checkpoints are ${SUPPORTED_TORCH_DTYPES.join(", ")}`,
        );
    }

    const tokenIds: Record<string, number> = {};
    for (const typ of ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]) {
        const v = c[`${typ}_token_id`];
        if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) tokenIds[typ] = v;
    }

    const labels = readLabels(c, file);
    return {
        architecture,
        hiddenSize,
        intermediateSize: positiveInt("intermediate_size"),
        layerCount: layerCount(positiveInt("num_hidden_layers"), file),
        headCount,
        kvHeadCount,
        headDim,
        explicitHeadDim,
        vocabSize: positiveInt("vocab_size"),
        maxPositionEmbeddings: positiveInt("max_position_embeddings"),
        ropeTheta: positiveNumber("rope_theta", 10000),
        rmsNormEps: positiveNumber("rms_norm_eps"),
        ropeScaling: readRopeScaling(c, file),
        ...labels,
        tieWordEmbeddings: c.tie_word_embeddings === true,
        torchDtype: torchDtype as string | undefined,
        tokenIds,
        nameOrPath: typeof c._name_or_path === "string" && c._name_or_path !== "" ? c._name_or_path : undefined,
        normalization: readNormalization(c, file),
        gating: architecture === "LlamaForRewardModelWithGating" ? readGating(c, file, labels.labels) : undefined,
    };
}

/** OpenRLHF's normalization keys; absent ones take its defaults (mean 0, std 1, normalize_reward false). */
function readNormalization(c: Record<string, unknown>, file: string): RewardNormalization | undefined {
    if (c.mean === undefined && c.std === undefined && c.normalize_reward === undefined) return undefined;
    return checkNormalization({ mean: c.mean ?? 0, std: c.std ?? 1, normalizeReward: c.normalize_reward ?? false }, (message) =>
        failed(`${file}: ${message}`),
    );
}

function readGating(c: Record<string, unknown>, file: string, id2label: string[] | undefined): GatingConfig {
    const int = (key: string, fallback: number): number => {
        const v = c[key] ?? fallback;
        if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1 || v > 1 << 20)
            throw failed(`${file}: ${key} must be a positive integer`);
        return v;
    };
    const objectives = int("num_objectives", 19);
    const nHidden = c.gating_n_hidden === 0 ? 0 : int("gating_n_hidden", 3);
    const temperature = c.gating_temperature ?? 10;
    if (typeof temperature !== "number" || !(temperature > 0) || !Number.isFinite(temperature)) {
        throw failed(`${file}: gating_temperature must be a positive number`);
    }
    const labels =
        id2label?.length === objectives
            ? id2label
            : objectives === ARMORM_OBJECTIVES.length
              ? [...ARMORM_OBJECTIVES]
              : Array.from({ length: objectives }, (_, i) => `objective_${i}`);
    return { objectives, temperature, hiddenDim: int("gating_hidden_dim", 1024), nHidden, labels };
}

/** llama.cpp's LLAMA_MAX_LAYERS: deeper models cannot be loaded, and the tensor plan loops over every layer. */
const MAX_LAYERS = 512;

function layerCount(n: number, file: string): number {
    if (n > MAX_LAYERS) throw failed(`${file}: num_hidden_layers ${n} exceeds llama.cpp's limit of ${MAX_LAYERS} layers`);
    return n;
}

function readRopeScaling(c: Record<string, unknown>, file: string): Llama3RopeScaling | undefined {
    const raw = (c.rope_scaling ?? c.rope_parameters) as Record<string, unknown> | null | undefined;
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== "object") throw failed(`${file}: rope_scaling must be an object`);
    const type = raw.rope_type ?? raw.type;
    if (type === undefined || type === "default") return undefined;
    if (typeof type !== "string" || type.toLowerCase() !== "llama3") {
        throw failed(`${file}: rope_scaling type ${JSON.stringify(type)} is not supported (only "llama3")`);
    }
    const num = (key: string, fallback: number): number => {
        const v = raw[key] ?? fallback;
        if (typeof v !== "number" || !(v > 0)) throw failed(`${file}: rope_scaling.${key} must be a positive number`);
        return v;
    };
    // Defaults are those llama.cpp's converter assumes when a key is absent.
    return {
        factor: num("factor", 8),
        lowFreqFactor: num("low_freq_factor", 1),
        highFreqFactor: num("high_freq_factor", 4),
        originalMaxPositionEmbeddings: num("original_max_position_embeddings", 8192),
    };
}

function readLabels(c: Record<string, unknown>, file: string): { labels: string[] | undefined; numLabels: number | undefined } {
    const numLabels = typeof c.num_labels === "number" ? c.num_labels : undefined;
    const id2label = c.id2label;
    if (id2label === undefined || id2label === null) return { labels: undefined, numLabels };
    if (typeof id2label !== "object" || Array.isArray(id2label)) throw failed(`${file}: id2label must be an object`);
    const entries = Object.entries(id2label as Record<string, unknown>);
    const labels: string[] = new Array(entries.length);
    for (const [key, value] of entries) {
        const id = Number(key);
        if (!Number.isInteger(id) || id < 0 || id >= entries.length || typeof value !== "string" || labels[id] !== undefined) {
            throw failed(`${file}: id2label must map the ids 0..${entries.length - 1} to strings`);
        }
        labels[id] = value;
    }
    if (numLabels !== undefined && numLabels !== labels.length) {
        throw failed(`${file}: num_labels ${numLabels} disagrees with id2label (${labels.length} labels)`);
    }
    return { labels, numLabels };
}
