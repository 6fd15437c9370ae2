/**
 * Fuzzing of the converter's Hugging Face inputs: a small valid
 * LlamaForSequenceClassification checkpoint (261-token byte-level BPE
 * vocabulary, one layer) is described as plain objects (config.json,
 * tokenizer.json, tokenizer_config.json, the safetensors header) and raw
 * bytes; case `index` of `seed` mutates one of them (JSON values replaced by
 * hostile ones, keys dropped, text truncated or bit-flipped, safetensors
 * header fields and lengths changed) and writes the directory. convert()
 * must then succeed or reject with a RewardModelError; a converted file must
 * in turn load and score, or be rejected with a code.
 */
import * as fs from "node:fs";
import * as path from "node:path";

import { convert } from "../../src/convert/convert.js";
import { RewardModel, RewardModelError } from "../../src/index.js";
import { llama3PreTokenizer } from "../support/hf-tokenizer-json.js";
import { Rng } from "./prng.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface HfCheckpointParts {
    config: { [key: string]: Json };
    tokenizer: { [key: string]: Json };
    tokenizerConfig: { [key: string]: Json };
    /** safetensors header (tensor entries and __metadata__) and the data that follows it. */
    header: { [key: string]: Json };
    data: Buffer;
}

const HIDDEN = 32;
const FF = 64;
const VOCAB = 261;
const BOS = 256;
const EOT = 260;
const TEMPLATE =
    "{% for m in messages %}{% if loop.first %}{{ bos_token }}{% endif %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}";

/** Byte-level BPE alphabet: the 256 byte-to-unicode characters GPT-2 tokenizers use. */
function byteAlphabet(): string[] {
    const bs: number[] = [];
    for (let b = 33; b <= 126; b++) bs.push(b);
    for (let b = 161; b <= 172; b++) bs.push(b);
    for (let b = 174; b <= 255; b++) bs.push(b);
    const cs = [...bs];
    let n = 0;
    for (let b = 0; b < 256; b++) {
        if (!bs.includes(b)) {
            bs.push(b);
            cs.push(256 + n);
            n++;
        }
    }
    return cs.map((c) => String.fromCodePoint(c));
}

/** The valid small checkpoint every case starts from. */
export function baseCheckpoint(): HfCheckpointParts {
    const alphabet = byteAlphabet();
    const vocab: { [key: string]: Json } = {};
    alphabet.forEach((ch, i) => {
        vocab[ch] = i;
    });
    const specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];
    const tokenizer: { [key: string]: Json } = {
        version: "1.0",
        added_tokens: specials.map((content, i) => ({
            id: 256 + i,
            content,
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
            special: true,
        })),
        normalizer: null,
        pre_tokenizer: llama3PreTokenizer(),
        post_processor: {
            type: "TemplateProcessing",
            single: [{ SpecialToken: { id: specials[0]!, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
            special_tokens: { [specials[0]!]: { id: specials[0]!, ids: [BOS], tokens: [specials[0]!] } },
        },
        decoder: { type: "ByteLevel" },
        model: { type: "BPE", vocab, merges: ["Ġ t", "h e", "i n"] },
    };
    const config: { [key: string]: Json } = {
        architectures: ["LlamaForSequenceClassification"],
        model_type: "llama",
        hidden_size: HIDDEN,
        intermediate_size: FF,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        vocab_size: VOCAB,
        max_position_embeddings: 512,
        rms_norm_eps: 1e-5,
        rope_theta: 10000,
        bos_token_id: BOS,
        eos_token_id: EOT,
        torch_dtype: "float32",
        id2label: { 0: "LABEL_0" },
    };
    const tokenizerConfig: { [key: string]: Json } = { bos_token: specials[0]!, eos_token: specials[4]!, chat_template: TEMPLATE };
    const shapes: [string, number[]][] = [
        ["model.embed_tokens.weight", [VOCAB, HIDDEN]],
        ["model.layers.0.input_layernorm.weight", [HIDDEN]],
        ["model.layers.0.self_attn.q_proj.weight", [HIDDEN, HIDDEN]],
        ["model.layers.0.self_attn.k_proj.weight", [HIDDEN / 2, HIDDEN]],
        ["model.layers.0.self_attn.v_proj.weight", [HIDDEN / 2, HIDDEN]],
        ["model.layers.0.self_attn.o_proj.weight", [HIDDEN, HIDDEN]],
        ["model.layers.0.post_attention_layernorm.weight", [HIDDEN]],
        ["model.layers.0.mlp.gate_proj.weight", [FF, HIDDEN]],
        ["model.layers.0.mlp.up_proj.weight", [FF, HIDDEN]],
        ["model.layers.0.mlp.down_proj.weight", [HIDDEN, FF]],
        ["model.norm.weight", [HIDDEN]],
        ["score.weight", [1, HIDDEN]],
    ];
    const header: { [key: string]: Json } = { __metadata__: { format: "pt" } };
    const rng = new Rng(0x4f);
    const chunks: Buffer[] = [];
    let offset = 0;
    for (const [name, shape] of shapes) {
        const n = shape.reduce((a, b) => a * b, 1);
        const values = new Float32Array(n);
        const isNorm = shape.length === 1;
        for (let i = 0; i < n; i++) values[i] = isNorm ? 1 : (rng.float() - 0.5) * 0.5;
        const bytes = Buffer.from(values.buffer);
        header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + bytes.length] };
        chunks.push(bytes);
        offset += bytes.length;
    }
    return { config, tokenizer, tokenizerConfig, header, data: Buffer.concat(chunks) };
}

function clone<T extends Json>(v: T): T {
    return JSON.parse(JSON.stringify(v)) as T;
}

const HOSTILE: Json[] = [
    null,
    true,
    false,
    0,
    -1,
    1,
    2,
    1.5,
    1e308,
    -1e308,
    9007199254740991,
    2 ** 53 + 2,
    2147483648,
    4294967296,
    1e9,
    "",
    "1",
    "llama",
    "\u0000",
    "\ud800",
    "x".repeat(10000),
    [],
    [1],
    ["a"],
    {},
    { a: 1 },
    [[[[]]]],
];

/** Every path to a value inside a JSON object (up to `limit`), objects and arrays included. */
function paths(root: Json, limit = 2000): (string | number)[][] {
    const out: (string | number)[][] = [];
    const walk = (v: Json, p: (string | number)[]): void => {
        if (out.length >= limit) return;
        if (p.length > 0) out.push(p);
        if (Array.isArray(v)) v.slice(0, 8).forEach((x, i) => walk(x, [...p, i]));
        else if (v !== null && typeof v === "object") {
            const keys = Object.keys(v);
            // big maps (the vocabulary): a few keys only
            for (const k of keys.length > 40 ? keys.slice(0, 6) : keys) walk(v[k]!, [...p, k]);
        }
    };
    walk(root, []);
    return out;
}

function setAt(root: Json, p: (string | number)[], value: Json | undefined): void {
    let v = root as { [k: string]: Json } | Json[];
    for (let i = 0; i < p.length - 1; i++) v = (v as { [k: string]: Json })[p[i] as string] as { [k: string]: Json };
    const last = p[p.length - 1]!;
    if (value === undefined) {
        if (Array.isArray(v)) v.splice(Number(last), 1);
        else delete (v as { [k: string]: Json })[last as string];
    } else {
        (v as { [k: string]: Json })[last as string] = value;
    }
}

/** Mutates one value of `root` in place; returns a description. */
function mutateJson(rng: Rng, root: Json, name: string): string {
    const all = paths(root);
    const p = rng.pick(all);
    const where = `${name}:${p.join(".")}`;
    const roll = rng.int(10);
    if (roll < 2) {
        setAt(root, p, undefined);
        return `${where} removed`;
    }
    const value = rng.pick(HOSTILE);
    setAt(root, p, clone(value));
    return `${where} = ${JSON.stringify(value).slice(0, 40)}`;
}

export type HfFile = "config.json" | "tokenizer.json" | "tokenizer_config.json" | "model.safetensors";

export interface HfCase {
    index: number;
    mutation: string;
    files: Map<HfFile, Buffer>;
}

function safetensorsBytes(header: Json, data: Buffer, lengthOverride?: bigint): Buffer {
    const json = Buffer.from(JSON.stringify(header), "utf8");
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
    return Buffer.concat([len, json, data]);
}

/** Case `index` of `seed`: the same files every time. */
export function makeHfCase(seed: number, index: number): HfCase {
    const rng = Rng.forCase(seed ^ 0x4846, index);
    const parts = baseCheckpoint();
    const target = rng.weighted({ config: 4, tokenizer: 3, tokenizerConfig: 1, safetensors: 4, text: 2 } as const);
    let mutation: string;
    let lengthOverride: bigint | undefined;
    let textEdit: ((files: Map<HfFile, Buffer>) => void) | undefined;
    if (target === "config") {
        mutation = mutateJson(rng, parts.config, "config.json");
        if (rng.chance(0.3)) mutation += `; ${mutateJson(rng, parts.config, "config.json")}`;
    } else if (target === "tokenizer") {
        mutation = mutateJson(rng, parts.tokenizer, "tokenizer.json");
    } else if (target === "tokenizerConfig") {
        mutation = mutateJson(rng, parts.tokenizerConfig, "tokenizer_config.json");
    } else if (target === "safetensors") {
        if (rng.chance(0.25)) {
            lengthOverride = rng.pick([
                0n,
                1n,
                2n,
                0xffffffffffffffffn,
                100000001n,
                BigInt(JSON.stringify(parts.header).length - 1),
                BigInt(JSON.stringify(parts.header).length + 1),
            ]);
            mutation = `safetensors header length = ${lengthOverride}`;
        } else {
            mutation = mutateJson(rng, parts.header, "safetensors header");
        }
    } else {
        const file = rng.pick<HfFile>(["config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"]);
        const mode = rng.pick(["truncate", "flip", "empty", "deep", "bom"]);
        mutation = `${file} text: ${mode}`;
        textEdit = (files) => {
            const b = Buffer.from(files.get(file)!);
            if (mode === "truncate") files.set(file, b.subarray(0, rng.int(b.length)));
            else if (mode === "flip") {
                for (let i = 0; i < 4; i++) b[rng.int(Math.min(b.length, 4096))]! ^= 1 << rng.int(8);
                files.set(file, b);
            } else if (mode === "empty") files.set(file, Buffer.alloc(0));
            else if (mode === "deep") files.set(file, Buffer.from(`${"[".repeat(200000)}${"]".repeat(200000)}`));
            else files.set(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]));
        };
    }
    const files = new Map<HfFile, Buffer>([
        ["config.json", Buffer.from(JSON.stringify(parts.config))],
        ["tokenizer.json", Buffer.from(JSON.stringify(parts.tokenizer))],
        ["tokenizer_config.json", Buffer.from(JSON.stringify(parts.tokenizerConfig))],
        ["model.safetensors", safetensorsBytes(parts.header, parts.data, lengthOverride)],
    ]);
    textEdit?.(files);
    return { index, mutation, files };
}

export type HfOutcome =
    | { kind: "converted"; load: "score" | string }
    | { kind: "rejected"; code: string }
    | { kind: "bad-error"; error: string };

/** Writes the case into `dir`, converts it, and loads and scores what converted. Never throws. */
export async function runHfCase(c: HfCase, dir: string): Promise<HfOutcome> {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of c.files) fs.writeFileSync(path.join(dir, name), bytes);
    const out = path.join(dir, "out.gguf");
    try {
        await convert(dir, out, { outType: c.index % 3 === 0 ? "f16" : "f32" });
    } catch (error) {
        if (error instanceof RewardModelError) return { kind: "rejected", code: error.code };
        return { kind: "bad-error", error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 300) : String(error) };
    }
    try {
        const model = await RewardModel.load(out, { contextSize: 256, parallel: 1, threads: 1 });
        try {
            const value = await model.score([
                { role: "user", content: "hi" },
                { role: "assistant", content: "hello there" },
            ]);
            return typeof value === "number" ? { kind: "converted", load: "score" } : { kind: "bad-error", error: "score is not a number" };
        } finally {
            await model.dispose();
        }
    } catch (error) {
        if (error instanceof RewardModelError) return { kind: "converted", load: error.code };
        return {
            kind: "bad-error",
            error: `converted file: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.slice(0, 300),
        };
    }
}
