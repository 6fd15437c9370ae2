/**
 * The tokenizer names llama.cpp's vocabulary loader knows
 * (deps/llama.cpp/src/llama-vocab.cpp, llama_vocab::impl::load): any other
 * tokenizer.ggml.model or tokenizer.ggml.pre makes it refuse the file.
 * Keep these lists in step with the llama.cpp version native/ builds.
 */

export interface TokenizerModel {
    /** A BPE tokenizer: needs tokenizer.ggml.merges. */
    bpe: boolean;
    /**
     * How llama_vocab::byte_to_token spells a byte it falls back to while
     * tokenizing: "<0xXX>" or else the byte itself ("hex-or-char"), or only
     * "<0xXX>" ("hex"); it throws std::out_of_range (uncaught: the process
     * aborts) when the vocabulary has neither. Absent: no byte fallback.
     */
    byteTokens?: "hex-or-char" | "hex";
}

/** tokenizer.ggml.model values. */
export const TOKENIZER_MODELS: ReadonlyMap<string, TokenizerModel> = new Map<string, TokenizerModel>([
    ["no_vocab", { bpe: false }],
    ["none", { bpe: false }],
    ["llama", { bpe: false, byteTokens: "hex-or-char" }],
    ["bert", { bpe: false }],
    ["gpt2", { bpe: true }],
    ["hybriddna", { bpe: true }],
    ["whitespace", { bpe: true }],
    ["t5", { bpe: false, byteTokens: "hex-or-char" }],
    ["rwkv", { bpe: false }],
    ["plamo2", { bpe: false, byteTokens: "hex" }],
    ["gemma4", { bpe: true }],
]);

/** tokenizer.ggml.pre values a BPE vocabulary may name ("" or absent means "default"). */
export const PRE_TOKENIZERS: ReadonlySet<string> = new Set([
    "default",
    "minicpm5",
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
    "jina-v5-nano",
    "deepseek-llm",
    "deepseek-coder",
    "deepseek-v3",
    "youtu",
    "falcon",
    "mpt",
    "starcoder",
    "gpt-2",
    "phi-2",
    "jina-es",
    "jina-de",
    "gigachat",
    "jina-v2-es",
    "jina-v2-de",
    "a.x-4.0",
    "mellum",
    "modern-bert",
    "jais-2",
    "gemma4",
    "granite-embed-multi-311m",
    "sarvam-moe",
    "jina-v1-en",
    "jina-v2-code",
    "roberta-bpe",
    "whitespace",
    "refact",
    "command-r",
    "qwen2",
    "deepseek-r1-qwen",
    "kormo",
    "f2llmv2",
    "qwen35",
    "stablelm2",
    "olmo",
    "dbrx",
    "smaug-bpe",
    "poro-chat",
    "glm4",
    "chatglm-bpe",
    "viking",
    "jais",
    "tekken",
    "smollm",
    "codeshell",
    "bloom",
    "gpt3-finnish",
    "exaone",
    "exaone4",
    "exaone-moe",
    "chameleon",
    "minerva-7b",
    "megrez",
    "gpt-4o",
    "llama4",
    "kanana2",
    "talkie",
    "granite-embed-multi-97m",
    "tiny_aya",
    "cohere2moe",
    "superbpe",
    "trillion",
    "granite-docling",
    "bailingmoe",
    "bailingmoe2",
    "llada-moe",
    "seed-coder",
    "hunyuan",
    "hunyuan-dense",
    "joyai-llm",
    "kimi-k2",
    "grok-2",
    "afmoe",
    "laguna",
    "minimax-m2",
    "solar-open",
    "mellum2",
]);

/**
 * The tokenizers of the llama-architecture reward models llama-reward runs:
 * byte-level BPE (Llama 3 and most models since) and SentencePiece (Llama 2).
 * llama.cpp's other tokenizers are not used by such models, and they are where
 * a corrupt vocabulary still aborts (the RWKV tokenizer throws std::bad_alloc
 * out of llama_tokenize on a vocabulary that is not RWKV's; without a
 * vocabulary, nothing can be tokenized at all).
 */
export const REWARD_MODEL_TOKENIZERS: readonly string[] = ["gpt2", "llama"];
