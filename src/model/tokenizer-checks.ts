/**
 * Checks of the tokenizer metadata of a GGUF file against what llama.cpp's
 * vocabulary loader (deps/llama.cpp/src/llama-vocab.cpp) asserts, throws on
 * or silently works around: the tokenizer names, the token list (unique
 * texts, as C strings), the scores, token types and merges that go with it,
 * and the special-token ids. docs/model-validation.md lists each check with
 * the llama.cpp line it stands in front of. Every failure is
 * ERR_CORRUPT_MODEL with the metadata key first in the message.
 */
import { RewardModelError } from "../errors.js";
import { GgufValueType, type GgufHeader, type GgufValue } from "../gguf/gguf-types.js";
import { PRE_TOKENIZERS, REWARD_MODEL_TOKENIZERS, TOKENIZER_MODELS } from "./tokenizer-names.js";

/** llama.cpp's llama_token_type: UNDEFINED (0) to BYTE (6). */
const MAX_TOKEN_TYPE = 6;

/** The special-token id keys llama.cpp reads (llm_kv LLM_KV_TOKENIZER_*_ID). */
export const SPECIAL_TOKEN_KEYS = [
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.eom_token_id",
    "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id",
    "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.cls_token_id",
    "tokenizer.ggml.mask_token_id",
    "tokenizer.ggml.fim_pre_token_id",
    "tokenizer.ggml.fim_suf_token_id",
    "tokenizer.ggml.fim_mid_token_id",
    "tokenizer.ggml.fim_pad_token_id",
    "tokenizer.ggml.fim_rep_token_id",
    "tokenizer.ggml.fim_sep_token_id",
    "tokenizer.ggml.prefix_token_id",
    "tokenizer.ggml.suffix_token_id",
    "tokenizer.ggml.middle_token_id",
] as const;

const INTEGER_TYPES: ReadonlySet<GgufValueType> = new Set([
    GgufValueType.UINT8,
    GgufValueType.INT8,
    GgufValueType.UINT16,
    GgufValueType.INT16,
    GgufValueType.UINT32,
    GgufValueType.INT32,
    GgufValueType.UINT64,
    GgufValueType.INT64,
]);

function corrupt(path: string, key: string, detail: string): RewardModelError {
    return new RewardModelError("ERR_CORRUPT_MODEL", `${path}: ${key} ${detail}`);
}

function shown(text: string): string {
    return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/**
 * The text llama.cpp keeps for a GGUF string: it copies gguf_get_arr_str's
 * `const char *` into a std::string, so everything from the first NUL byte on
 * is dropped.
 */
export function asCString(text: string): string {
    const nul = text.indexOf("\u0000");
    return nul < 0 ? text : text.slice(0, nul);
}

/** The array stored under `key` with the given element types, or a typed error; undefined when absent. */
function arrayOf(path: string, header: GgufHeader, key: string, elementTypes: readonly GgufValueType[]): GgufValue[] | undefined {
    const value = header.metadata.get(key);
    if (value === undefined) return undefined;
    const type = header.metadataTypes.get(key);
    if (!Array.isArray(value) || type?.type !== GgufValueType.ARRAY || !elementTypes.includes(type.elementType!)) {
        const got = type?.type === GgufValueType.ARRAY ? `array<${GgufValueType[type.elementType!]}>` : GgufValueType[type?.type ?? 0];
        throw corrupt(path, key, `must be an array of ${elementTypes.map((t) => GgufValueType[t]).join(" or ")}, got ${got}`);
    }
    return value;
}

function stringValue(path: string, header: GgufHeader, key: string): string | undefined {
    const value = header.metadata.get(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string" || header.metadataTypes.get(key)?.type !== GgufValueType.STRING) {
        throw corrupt(path, key, `must be a string, got ${Array.isArray(value) ? "an array" : typeof value}`);
    }
    return value;
}

/**
 * Checks every tokenizer key llama.cpp reads while loading the vocabulary.
 */
export function checkTokenizer(path: string, header: GgufHeader): void {
    const model = stringValue(path, header, "tokenizer.ggml.model");
    if (model === undefined) throw corrupt(path, "tokenizer.ggml.model", "is missing: the file has no tokenizer");
    const kind = TOKENIZER_MODELS.get(model);
    if (kind === undefined) {
        throw corrupt(
            path,
            "tokenizer.ggml.model",
            `${shown(model)} is not a tokenizer llama.cpp knows (${[...TOKENIZER_MODELS.keys()].join(", ")})`,
        );
    }
    if (!REWARD_MODEL_TOKENIZERS.includes(model)) {
        throw corrupt(
            path,
            "tokenizer.ggml.model",
            `${shown(model)} is not the tokenizer of a llama reward model (${REWARD_MODEL_TOKENIZERS.join(", ")})`,
        );
    }
    const pre = stringValue(path, header, "tokenizer.ggml.pre");
    if (kind.bpe && pre !== undefined && pre !== "" && !PRE_TOKENIZERS.has(pre)) {
        throw corrupt(path, "tokenizer.ggml.pre", `${shown(pre)} is not a pre-tokenizer llama.cpp knows`);
    }

    const tokens = arrayOf(path, header, "tokenizer.ggml.tokens", [GgufValueType.STRING]);
    if (tokens === undefined) throw corrupt(path, "tokenizer.ggml.tokens", "is missing: the file has no vocabulary");
    const n = tokens.length;
    if (n === 0) throw corrupt(path, "tokenizer.ggml.tokens", "is empty");
    if (n > 0x7fffffff) throw corrupt(path, "tokenizer.ggml.tokens", `has ${n} tokens, more than a token id can hold`);
    const texts = checkTokenTexts(path, tokens as string[]);
    if (kind.byteTokens) checkByteTokens(path, model, texts, kind.byteTokens);

    const scores = arrayOf(path, header, "tokenizer.ggml.scores", [GgufValueType.FLOAT32, GgufValueType.INT32]);
    if (scores !== undefined) {
        if (scores.length !== n) throw corrupt(path, "tokenizer.ggml.scores", `has ${scores.length} entries for ${n} tokens`);
        const bad = scores.findIndex((s) => typeof s !== "number" || !Number.isFinite(s));
        if (bad >= 0) throw corrupt(path, "tokenizer.ggml.scores", `[${bad}] is ${String(scores[bad])}, not a finite number`);
    }

    const types = arrayOf(path, header, "tokenizer.ggml.token_type", [GgufValueType.INT32]);
    if (types !== undefined) {
        if (types.length !== n) throw corrupt(path, "tokenizer.ggml.token_type", `has ${types.length} entries for ${n} tokens`);
        const bad = types.findIndex((t) => typeof t !== "number" || t < 0 || t > MAX_TOKEN_TYPE);
        if (bad >= 0) {
            throw corrupt(
                path,
                "tokenizer.ggml.token_type",
                `[${bad}] is ${String(types[bad])}, not a token type (0 to ${MAX_TOKEN_TYPE})`,
            );
        }
    }

    if (kind.bpe) checkMerges(path, header, texts, pre);

    for (const key of SPECIAL_TOKEN_KEYS) {
        const value = header.metadata.get(key);
        if (value === undefined) continue;
        const type = header.metadataTypes.get(key)?.type;
        const id = typeof value === "bigint" ? Number(value) : value;
        if (type === undefined || !INTEGER_TYPES.has(type) || typeof id !== "number" || id < 0 || id >= n) {
            throw corrupt(path, key, `is ${typeof value === "string" ? shown(value) : String(value)}, not a token id (0 to ${n - 1})`);
        }
    }
}

/**
 * llama.cpp maps every token text back to its id and asserts that no two
 * texts are equal (GGML_ASSERT(id_to_token.size() == token_to_id.size())).
 * It compares the texts as C strings, after renaming an empty text to
 * "[EMPTY_<id>]", so "ab\0x" and "ab" are the same token to it.
 */
function checkTokenTexts(path: string, tokens: string[]): Set<string> {
    const seen = new Map<string, number>();
    tokens.forEach((t, id) => {
        const c = asCString(t);
        const text = c === "" ? `[EMPTY_${id}]` : c;
        const first = seen.get(text);
        if (first !== undefined) {
            const how = c === t ? "" : " (up to its first NUL byte, where llama.cpp's copy of the text ends)";
            throw corrupt(path, "tokenizer.ggml.tokens", `[${id}] repeats the text of token ${first}, ${shown(text)}${how}`);
        }
        seen.set(text, id);
    });
    return new Set(seen.keys());
}

/**
 * An SPM-style tokenizer spells what its vocabulary cannot as single bytes
 * (llama_vocab::byte_to_token), looking up "<0xXX>" or else the byte itself
 * with unordered_map::at: a missing byte throws std::out_of_range out of
 * llama_tokenize, which nothing catches, and the process aborts on the first
 * text with that byte. Every byte must be spelled. (A byte from 0x80 up is
 * not valid UTF-8 on its own; only "<0xXX>" counts for those here.)
 */
function checkByteTokens(path: string, model: string, texts: Set<string>, spelling: "hex-or-char" | "hex"): void {
    for (let b = 0; b < 256; b++) {
        const hex = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
        if (texts.has(hex)) continue;
        if (spelling === "hex-or-char" && b > 0 && b < 0x80 && texts.has(String.fromCharCode(b))) continue;
        throw corrupt(
            path,
            "tokenizer.ggml.tokens",
            `has no token for the byte ${hex}, which a "${model}" tokenizer needs to spell any text (llama.cpp aborts on such text)`,
        );
    }
}

/**
 * A BPE vocabulary needs merges (llama.cpp refuses the file without them,
 * except for the kimi-k2 pre-tokenizer). Each merge is "left right": llama.cpp
 * splits it at the first space after the first byte, and a merge of texts
 * that are not tokens, or with no such space, can never apply: a corrupt list
 * (Hugging Face tokenizers refuse it too). A merge whose result is not a
 * token is left alone: llama.cpp falls back to bytes for it.
 */
function checkMerges(path: string, header: GgufHeader, texts: Set<string>, pre: string | undefined): void {
    const key = "tokenizer.ggml.merges";
    const merges = arrayOf(path, header, key, [GgufValueType.STRING]);
    if (merges === undefined) {
        if (pre === "kimi-k2") return;
        throw corrupt(path, key, "is missing: a BPE tokenizer needs its merges");
    }
    merges.forEach((m, i) => {
        const merge = asCString(m as string);
        const space = merge.indexOf(" ", 1);
        if (space < 0) throw corrupt(path, key, `[${i}] ${shown(merge)} is not a "left right" pair`);
        const left = merge.slice(0, space);
        const right = merge.slice(space + 1);
        for (const part of [left, right]) {
            if (!texts.has(part)) throw corrupt(path, key, `[${i}] ${shown(merge)} merges ${shown(part)}, which is not a token`);
        }
    });
}
