/**
 * src/model/tokenizer-checks.ts on small in-memory headers, without the
 * addon: a valid byte-level BPE vocabulary passes, and each corruption
 * llama.cpp's vocabulary loader asserts or throws on is ERR_CORRUPT_MODEL
 * naming its key. test/fuzz/gguf-regressions.test.ts shows the same on real
 * files against llama.cpp itself.
 */
import { describe, expect, it } from "vitest";
import { RewardModelError } from "../../src/errors.js";
import { GgufValueType, type GgufHeader, type GgufValue, type GgufValueTypeInfo } from "../../src/gguf/gguf-types.js";
import { asCString, checkTokenizer } from "../../src/model/tokenizer-checks.js";

type Entry = [GgufValue, GgufValueTypeInfo];

const S = { type: GgufValueType.STRING };
const strings = { type: GgufValueType.ARRAY, elementType: GgufValueType.STRING };
const ints = { type: GgufValueType.ARRAY, elementType: GgufValueType.INT32 };
const floats = { type: GgufValueType.ARRAY, elementType: GgufValueType.FLOAT32 };
const U32 = { type: GgufValueType.UINT32 };

/** A tiny byte-level BPE vocabulary: a, b, ab, Ġ, Ġab, <s>. */
function vocab(): Record<string, Entry> {
    return {
        "tokenizer.ggml.model": ["gpt2", S],
        "tokenizer.ggml.pre": ["llama-bpe", S],
        "tokenizer.ggml.tokens": [["a", "b", "ab", "Ġ", "Ġab", "<s>"], strings],
        "tokenizer.ggml.token_type": [[1, 1, 1, 1, 1, 3], ints],
        "tokenizer.ggml.merges": [["a b", "Ġ ab"], strings],
        "tokenizer.ggml.bos_token_id": [5, U32],
        "tokenizer.ggml.eos_token_id": [5, U32],
    };
}

function header(entries: Record<string, Entry | undefined>): GgufHeader {
    const metadata = new Map<string, GgufValue>();
    const metadataTypes = new Map<string, GgufValueTypeInfo>();
    for (const [key, entry] of Object.entries(entries)) {
        if (!entry) continue;
        metadata.set(key, entry[0]);
        metadataTypes.set(key, entry[1]);
    }
    return { version: 3, metadata, metadataTypes, tensors: [], alignment: 32, dataOffset: 0, fileSize: 0 };
}

function rejection(entries: Record<string, Entry | undefined>): RewardModelError {
    try {
        checkTokenizer("m.gguf", header(entries));
    } catch (error) {
        expect(error).toBeInstanceOf(RewardModelError);
        expect((error as RewardModelError).code).toBe("ERR_CORRUPT_MODEL");
        return error as RewardModelError;
    }
    throw new Error("the vocabulary was accepted");
}

function withTokens(tokens: string[]): Record<string, Entry> {
    return { ...vocab(), "tokenizer.ggml.tokens": [tokens, strings] };
}

describe("checkTokenizer", () => {
    it("accepts a valid vocabulary, with or without the optional arrays", () => {
        expect(() => checkTokenizer("m.gguf", header(vocab()))).not.toThrow();
        const bare = { ...vocab(), "tokenizer.ggml.token_type": undefined, "tokenizer.ggml.bos_token_id": undefined };
        expect(() => checkTokenizer("m.gguf", header(bare))).not.toThrow();
        const scored = { ...vocab(), "tokenizer.ggml.scores": [[0, -1, -2, -3, -4, 0], floats] as Entry };
        expect(() => checkTokenizer("m.gguf", header(scored))).not.toThrow();
    });

    it("compares token texts as C strings, as llama.cpp does", () => {
        expect(asCString("ab\u0000x")).toBe("ab");
        expect(asCString("ab")).toBe("ab");
        const e = rejection(withTokens(["a", "b", "ab", "Ġ", "Ġab", "ab\u0000"]));
        expect(e.message).toMatch(/^m\.gguf: tokenizer\.ggml\.tokens \[5\] repeats the text of token 2, "ab" \(up to its first NUL byte/);
        expect(rejection(withTokens(["a", "b", "ab", "a", "Ġab", "<s>"])).message).toMatch(/\[3\] repeats the text of token 0/);
        // an empty text is "[EMPTY_<id>]" to llama.cpp, and so is one that starts with NUL
        expect(rejection(withTokens(["a", "b", "ab", "\u0000z", "[EMPTY_3]", "<s>"])).message).toMatch(/\[EMPTY_3\]/);
        expect(() => checkTokenizer("m.gguf", header(withTokens(["a", "b", "ab", "", "", "<s>"])))).toThrow(/merges/); // two empties differ, "Ġ" gone
    });

    it("names the key of each corruption", () => {
        const cases: [string, Record<string, Entry | undefined>][] = [
            ["tokenizer.ggml.model", { ...vocab(), "tokenizer.ggml.model": ["gpt3", S] }],
            ["tokenizer.ggml.model", { ...vocab(), "tokenizer.ggml.model": undefined }],
            ["tokenizer.ggml.pre", { ...vocab(), "tokenizer.ggml.pre": ["llama-bpf", S] }],
            ["tokenizer.ggml.tokens", { ...vocab(), "tokenizer.ggml.tokens": [[1, 2, 3], ints] }],
            ["tokenizer.ggml.tokens", { ...vocab(), "tokenizer.ggml.tokens": [[], strings] }],
            ["tokenizer.ggml.token_type", { ...vocab(), "tokenizer.ggml.token_type": [[1, 1, 1, 1, 7, 3], ints] }],
            ["tokenizer.ggml.token_type", { ...vocab(), "tokenizer.ggml.token_type": [[1, 1, 1, 1, 1], ints] }],
            ["tokenizer.ggml.token_type", { ...vocab(), "tokenizer.ggml.token_type": [[1, 1, 1, 1, 1, 3], floats] }],
            ["tokenizer.ggml.scores", { ...vocab(), "tokenizer.ggml.scores": [[0, 0, Number.NaN, 0, 0, 0], floats] }],
            ["tokenizer.ggml.scores", { ...vocab(), "tokenizer.ggml.scores": [[0, 0, 0, 0, 0, 0, 0], floats] }],
            ["tokenizer.ggml.merges", { ...vocab(), "tokenizer.ggml.merges": undefined }],
            ["tokenizer.ggml.merges", { ...vocab(), "tokenizer.ggml.merges": [["ab"], strings] }],
            ["tokenizer.ggml.merges", { ...vocab(), "tokenizer.ggml.merges": [["a c"], strings] }],
            ["tokenizer.ggml.bos_token_id", { ...vocab(), "tokenizer.ggml.bos_token_id": [6, U32] }],
            ["tokenizer.ggml.eos_token_id", { ...vocab(), "tokenizer.ggml.eos_token_id": [-1, { type: GgufValueType.INT32 }] }],
            ["tokenizer.ggml.padding_token_id", { ...vocab(), "tokenizer.ggml.padding_token_id": ["1", S] }],
        ];
        for (const [key, entries] of cases) expect(rejection(entries).message, key).toContain(`m.gguf: ${key} `);
    });

    it("needs every byte spelled in an SPM vocabulary, as <0xXX> or (below 0x80) the byte itself", () => {
        const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
        const spm = (tokens: string[]): Record<string, Entry> => ({
            "tokenizer.ggml.model": ["llama", S],
            "tokenizer.ggml.tokens": [tokens, strings],
        });
        expect(() => checkTokenizer("m.gguf", header(spm([...bytes, "▁a"])))).not.toThrow();
        const withChar = [...bytes];
        withChar[0x41] = "A";
        expect(() => checkTokenizer("m.gguf", header(spm(withChar)))).not.toThrow();
        const missingHigh = bytes.filter((t) => t !== "<0xE2>");
        expect(rejection(spm(missingHigh)).message).toMatch(/tokenizer\.ggml\.tokens has no token for the byte <0xE2>/);
        expect(rejection(spm(bytes.filter((t) => t !== "<0x00>"))).message).toMatch(/<0x00>/);
    });

    it("needs no merges for the kimi-k2 pre-tokenizer", () => {
        const kimi = { ...vocab(), "tokenizer.ggml.pre": ["kimi-k2", S] as Entry, "tokenizer.ggml.merges": undefined };
        expect(() => checkTokenizer("m.gguf", header(kimi))).not.toThrow();
    });

    it("runs only the tokenizers of llama reward models (gpt2, llama), not llama.cpp's others", () => {
        for (const model of ["no_vocab", "none", "bert", "t5", "rwkv", "plamo2", "gemma4", "whitespace", "hybriddna"]) {
            expect(rejection({ ...vocab(), "tokenizer.ggml.model": [model, S] }).message, model).toMatch(
                /tokenizer\.ggml\.model ".*" is not the tokenizer of a llama reward model/,
            );
        }
    });
});
