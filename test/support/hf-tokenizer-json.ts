/**
 * Rebuilds a Hugging Face Llama-3 `tokenizer.json` from llama.cpp's vocab
 * file (models/ggml-vocab-llama-bpe.gguf): the 128000 byte-level BPE tokens
 * and their merges become the BPE model, ids 128000..128255 become the
 * added special tokens, and optional extra added tokens (a [PAD] at 128256)
 * follow. Pre-tokenizer, post-processor and decoder are Meta's Llama-3 ones.
 */
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";

export const LLAMA3_SPLIT_PATTERN =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export const BASE_VOCAB = 128000;

/** Llama-3's tokenizer.json pre_tokenizer: its split regex, then byte-level mapping. */
export function llama3PreTokenizer(): { type: string; pretokenizers: Record<string, string | boolean | { Regex: string }>[] } {
    return {
        type: "Sequence",
        pretokenizers: [
            { type: "Split", pattern: { Regex: LLAMA3_SPLIT_PATTERN }, behavior: "Isolated", invert: false },
            { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
    };
}
export const SPECIAL_COUNT = 256;

export interface Llama3Vocab {
    tokens: string[];
    tokenTypes: number[];
    merges: string[];
}

/** The tokens, token types and merges of llama.cpp's Llama-3 vocab file. */
export function readLlama3Vocab(vocabFile: string): Llama3Vocab {
    const h = readGgufHeader(vocabFile);
    return {
        tokens: h.metadata.get("tokenizer.ggml.tokens") as string[],
        tokenTypes: h.metadata.get("tokenizer.ggml.token_type") as number[],
        merges: h.metadata.get("tokenizer.ggml.merges") as string[],
    };
}

export interface ExtraAddedToken {
    id: number;
    content: string;
    special: boolean;
}

export interface TokenizerJsonOptions {
    /** "string": merges as "a b" (older files); "pair": as ["a", "b"] (transformers >= 4.45). */
    mergesFormat: "string" | "pair";
    extraTokens?: ExtraAddedToken[];
}

export function buildTokenizerJson(vocab: Llama3Vocab, options: TokenizerJsonOptions): Record<string, unknown> {
    const modelVocab: Record<string, number> = {};
    for (let i = 0; i < BASE_VOCAB; i++) modelVocab[vocab.tokens[i]!] = i;
    const added = [];
    for (let i = BASE_VOCAB; i < BASE_VOCAB + SPECIAL_COUNT; i++) {
        added.push({
            id: i,
            content: vocab.tokens[i]!,
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
            special: true,
        });
    }
    for (const t of options.extraTokens ?? []) {
        added.push({
            id: t.id,
            content: t.content,
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
            special: t.special,
        });
    }
    const merges =
        options.mergesFormat === "string"
            ? vocab.merges
            : vocab.merges.map((m) => {
                  const at = m.indexOf(" ");
                  return [m.slice(0, at), m.slice(at + 1)];
              });
    const bos = vocab.tokens[BASE_VOCAB]!; // <|begin_of_text|>
    return {
        version: "1.0",
        truncation: null,
        padding: null,
        added_tokens: added,
        normalizer: null,
        pre_tokenizer: llama3PreTokenizer(),
        post_processor: {
            type: "Sequence",
            processors: [
                { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
                {
                    type: "TemplateProcessing",
                    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
                    pair: [
                        { SpecialToken: { id: bos, type_id: 0 } },
                        { Sequence: { id: "A", type_id: 0 } },
                        { SpecialToken: { id: bos, type_id: 1 } },
                        { Sequence: { id: "B", type_id: 1 } },
                    ],
                    special_tokens: { [bos]: { id: bos, ids: [BASE_VOCAB], tokens: [bos] } },
                },
            ],
        },
        decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
        model: {
            type: "BPE",
            dropout: null,
            unk_token: null,
            continuing_subword_prefix: null,
            end_of_word_suffix: null,
            fuse_unk: false,
            byte_fallback: false,
            ignore_merges: true,
            vocab: modelVocab,
            merges,
        },
    };
}
