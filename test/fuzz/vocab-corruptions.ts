/**
 * Corruptions of the tokenizer metadata of the tiny model, each with the key
 * llama-reward must name when it rejects the file, and what llama.cpp itself
 * does with the file when nothing checks it first (measured by loading it in
 * an isolated engine with the test-only LLAMA_REWARD_TEST_ONLY_SKIP_FILE_CHECKS):
 * "abort" kills the process, "refuses" is an error llama.cpp throws and
 * catches, "accepts" loads. Used by gguf-regressions.test.ts.
 */
import { GgufValueType, type GgufValue } from "../../src/gguf/gguf-types.js";
import type { GgufLayout, KvEntry } from "./gguf-layout.js";

export interface VocabCorruption {
    title: string;
    /** The metadata key the ERR_CORRUPT_MODEL message must start with (after the path). */
    key: string;
    /** What llama.cpp does with the file unchecked. */
    llamaCpp: "abort" | "refuses" | "accepts";
    edit: (layout: GgufLayout) => void;
}

export function setKv(layout: GgufLayout, key: string, type: GgufValueType, value: GgufValue, elementType?: GgufValueType): void {
    const entry: KvEntry = elementType === undefined ? { key, type, value } : { key, type, value, elementType };
    const i = layout.kvs.findIndex((kv) => kv.key === key);
    if (i >= 0) layout.kvs[i] = entry;
    else layout.kvs.push(entry);
}

function arrayOf(layout: GgufLayout, key: string): GgufValue[] {
    const kv = layout.kvs.find((x) => x.key === key);
    if (!kv || !Array.isArray(kv.value)) throw new Error(`the base model has no array ${key}`);
    return [...kv.value];
}

function editTokens(layout: GgufLayout, change: (tokens: string[]) => void): void {
    const tokens = arrayOf(layout, "tokenizer.ggml.tokens") as string[];
    change(tokens);
    setKv(layout, "tokenizer.ggml.tokens", GgufValueType.ARRAY, tokens, GgufValueType.STRING);
}

/** A token whose text minus its last character is also a token: one byte set to 0 makes them equal as C strings. */
function prefixPair(tokens: string[]): { id: number; prefix: string } {
    const ids = new Set(tokens);
    for (let id = 1000; id < tokens.length; id++) {
        const t = tokens[id]!;
        if (t.length >= 3 && /^[a-z]+$/.test(t) && ids.has(t.slice(0, -1))) return { id, prefix: t.slice(0, -1) };
    }
    throw new Error("no token with a prefix token");
}

export const vocabCorruptions: VocabCorruption[] = [
    {
        title: "the issue's mutation: one byte of a token set to NUL, so it equals another token as a C string",
        key: "tokenizer.ggml.tokens",
        llamaCpp: "abort",
        edit: (l) =>
            editTokens(l, (tokens) => {
                const { id, prefix } = prefixPair(tokens);
                tokens[id] = `${prefix}\u0000`;
            }),
    },
    {
        title: "a token whose text starts with NUL next to a token spelled [EMPTY_<id>]",
        key: "tokenizer.ggml.tokens",
        llamaCpp: "abort",
        edit: (l) =>
            editTokens(l, (tokens) => {
                tokens[2000] = "\u0000abc";
                tokens[2001] = "[EMPTY_2000]";
            }),
    },
    {
        title: "two token texts equal outright",
        key: "tokenizer.ggml.tokens",
        llamaCpp: "abort",
        edit: (l) =>
            editTokens(l, (tokens) => {
                tokens[5] = tokens[6]!;
            }),
    },
    {
        title: 'an SPM vocabulary (tokenizer.ggml.model "llama") without byte tokens: tokenizing aborts',
        key: "tokenizer.ggml.tokens",
        llamaCpp: "abort",
        edit: (l) => setKv(l, "tokenizer.ggml.model", GgufValueType.STRING, "llama"),
    },
    {
        title: "a token type out of range (100)",
        key: "tokenizer.ggml.token_type",
        llamaCpp: "accepts",
        edit: (l) => {
            const types = arrayOf(l, "tokenizer.ggml.token_type");
            types[10] = 100;
            setKv(l, "tokenizer.ggml.token_type", GgufValueType.ARRAY, types, GgufValueType.INT32);
        },
    },
    {
        title: "token types stored as UINT8",
        key: "tokenizer.ggml.token_type",
        llamaCpp: "refuses",
        edit: (l) => {
            const types = arrayOf(l, "tokenizer.ggml.token_type");
            setKv(l, "tokenizer.ggml.token_type", GgufValueType.ARRAY, types, GgufValueType.UINT8);
        },
    },
    {
        title: "a NaN score",
        key: "tokenizer.ggml.scores",
        llamaCpp: "accepts",
        edit: (l) => {
            const n = arrayOf(l, "tokenizer.ggml.tokens").length;
            const scores = new Array<number>(n).fill(0);
            scores[7] = Number.NaN;
            setKv(l, "tokenizer.ggml.scores", GgufValueType.ARRAY, scores, GgufValueType.FLOAT32);
        },
    },
    {
        title: "one score fewer than tokens",
        key: "tokenizer.ggml.scores",
        llamaCpp: "refuses",
        edit: (l) => {
            const n = arrayOf(l, "tokenizer.ggml.tokens").length;
            setKv(l, "tokenizer.ggml.scores", GgufValueType.ARRAY, new Array<number>(n - 1).fill(0), GgufValueType.FLOAT32);
        },
    },
    {
        title: "token types one fewer than tokens",
        key: "tokenizer.ggml.token_type",
        llamaCpp: "refuses",
        edit: (l) => {
            const types = arrayOf(l, "tokenizer.ggml.token_type");
            types.pop();
            setKv(l, "tokenizer.ggml.token_type", GgufValueType.ARRAY, types, GgufValueType.INT32);
        },
    },
    {
        title: "a merge of a text that is not a token",
        key: "tokenizer.ggml.merges",
        llamaCpp: "accepts",
        edit: (l) => {
            const merges = arrayOf(l, "tokenizer.ggml.merges");
            merges[0] = "qzxv jwpk";
            setKv(l, "tokenizer.ggml.merges", GgufValueType.ARRAY, merges, GgufValueType.STRING);
        },
    },
    {
        title: 'a merge that is not a "left right" pair',
        key: "tokenizer.ggml.merges",
        llamaCpp: "accepts",
        edit: (l) => {
            const merges = arrayOf(l, "tokenizer.ggml.merges");
            merges[3] = "Ġthe";
            setKv(l, "tokenizer.ggml.merges", GgufValueType.ARRAY, merges, GgufValueType.STRING);
        },
    },
    {
        title: "no merges in a BPE vocabulary",
        key: "tokenizer.ggml.merges",
        llamaCpp: "refuses",
        edit: (l) => {
            l.kvs = l.kvs.filter((kv) => kv.key !== "tokenizer.ggml.merges");
        },
    },
    {
        title: "bos_token_id past the vocabulary",
        key: "tokenizer.ggml.bos_token_id",
        llamaCpp: "accepts",
        edit: (l) => setKv(l, "tokenizer.ggml.bos_token_id", GgufValueType.UINT32, arrayOf(l, "tokenizer.ggml.tokens").length + 5),
    },
    {
        title: "eos_token_id -1 as INT32",
        key: "tokenizer.ggml.eos_token_id",
        llamaCpp: "refuses",
        edit: (l) => setKv(l, "tokenizer.ggml.eos_token_id", GgufValueType.INT32, -1),
    },
    {
        title: "padding_token_id past the vocabulary",
        key: "tokenizer.ggml.padding_token_id",
        llamaCpp: "accepts",
        edit: (l) => setKv(l, "tokenizer.ggml.padding_token_id", GgufValueType.UINT32, 0xfffffff0),
    },
    {
        title: "an unknown pre-tokenizer",
        key: "tokenizer.ggml.pre",
        llamaCpp: "refuses",
        edit: (l) => setKv(l, "tokenizer.ggml.pre", GgufValueType.STRING, "llama-bpf"),
    },
    {
        title: "an unknown tokenizer model",
        key: "tokenizer.ggml.model",
        llamaCpp: "refuses",
        edit: (l) => setKv(l, "tokenizer.ggml.model", GgufValueType.STRING, "gpt3"),
    },
    {
        title: "no vocabulary (tokenizer.ggml.model none): the first score aborts",
        key: "tokenizer.ggml.model",
        llamaCpp: "abort",
        edit: (l) => setKv(l, "tokenizer.ggml.model", GgufValueType.STRING, "none"),
    },
    {
        title: "the token list stored as INT32",
        key: "tokenizer.ggml.tokens",
        llamaCpp: "refuses",
        edit: (l) => {
            const n = arrayOf(l, "tokenizer.ggml.tokens").length;
            setKv(l, "tokenizer.ggml.tokens", GgufValueType.ARRAY, new Array<number>(n).fill(1), GgufValueType.INT32);
        },
    },
];
