/**
 * The GGUF mutation engine: from a base model, case `index` under `seed`
 * becomes one mutated file, always the same bytes. Mutations cover the
 * header, metadata and tensor-info bytes (bit flips, byte values), every
 * structural integer (counts, lengths, dimensions, types, offsets) set to
 * 0, 1, huge, negative-as-unsigned and off-by-one values, truncation at
 * structural boundaries and random offsets, duplicated and missing keys and
 * tensors, known keys with wrong value types, hyperparameters and tensor
 * shapes that disagree, tensor types, tokenizer arrays and reward heads
 * that disagree with classifier.output_labels.
 */
import * as fs from "node:fs";

import { GgmlType, GgufValueType, ggmlTensorByteSize, isKnownGgmlType, type GgufValue } from "../../src/gguf/gguf-types.js";
import {
    cloneLayout,
    serializeLayout,
    serializedSize,
    type GgufLayout,
    type KvEntry,
    type SerializedGguf,
    type TensorEntry,
} from "./gguf-layout.js";
import type { StructuredKind } from "./gguf-structured-mutations.js";
import { Rng } from "./prng.js";

export interface FuzzCase {
    seed: number;
    index: number;
    base: string;
    /** A byte-level kind (this file) or a field-level one (gguf-structured-mutations.ts). */
    kind: MutationKind | StructuredKind;
    /** Human-readable account of what was changed, for the death report. */
    mutation: string;
    serialized: SerializedGguf;
    /** Bytes to keep (truncation); undefined keeps the whole file. */
    length?: number;
}

export interface FuzzBase {
    name: string;
    layout: GgufLayout;
}

const MUTATION_WEIGHTS = {
    "bit-flip": 10,
    "byte-set": 6,
    "int-field": 14,
    "truncate-boundary": 5,
    "truncate-random": 3,
    "drop-kv": 6,
    "duplicate-kv": 3,
    "wrong-type": 10,
    hparam: 12,
    "tokenizer-array": 6,
    "drop-tensor": 3,
    "duplicate-tensor": 2,
    "rename-tensor": 3,
    "tensor-shape": 8,
    "tensor-type": 6,
    "tensor-offset": 3,
    "head-labels": 6,
    "chat-template": 2,
} as const;

export type MutationKind = keyof typeof MUTATION_WEIGHTS;
export const MUTATION_KINDS = Object.keys(MUTATION_WEIGHTS) as MutationKind[];

/** Hyperparameter keys and other small metadata llama.cpp reads. */
const HPARAM_KEYS = [
    "llama.vocab_size",
    "llama.context_length",
    "llama.embedding_length",
    "llama.block_count",
    "llama.feed_forward_length",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.rope.dimension_count",
    "llama.pooling_type",
    "general.file_type",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.seperator_token_id",
    "llama.attention.key_length",
    "llama.attention.value_length",
    "llama.expert_count",
    "llama.expert_used_count",
    "llama.rope.freq_base",
    "llama.attention.layer_norm_rms_epsilon",
    "general.alignment",
    "llama.classifier.output_labels",
    "llama.rope.scaling.factor",
    "llama.attention.sliding_window",
    "llama.interleave_moe_layer_step",
    "llama.rope.scaling.type",
] as const;

const WRONG_TYPE_KEYS = [
    ...HPARAM_KEYS,
    "general.architecture",
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.scores",
    "tokenizer.chat_template",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_eos_token",
    "general.name",
] as const;

const U32_SPECIALS = [0n, 1n, 2n, 3n, 0xffffffffn, 0xfffffffen, 0x7fffffffn, 0x80000000n, 65536n, 1000000n];
const U64_SPECIALS = [0n, 1n, 0xffffffffffffffffn, 0x8000000000000000n, 0x7fffffffffffffffn, 0xffffffffn, 0x100000000n, 1n << 40n];
const FLOAT_SPECIALS = [0, -1, 1e-30, 1e30, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1];

const TENSOR_TYPES = [
    GgmlType.F32,
    GgmlType.F16,
    GgmlType.BF16,
    GgmlType.Q8_0,
    GgmlType.Q4_0,
    GgmlType.Q4_1,
    GgmlType.Q5_0,
    GgmlType.Q4_K,
    GgmlType.Q6_K,
    GgmlType.Q2_K,
    GgmlType.IQ2_XXS,
    GgmlType.IQ4_NL,
    GgmlType.TQ1_0,
    GgmlType.MXFP4,
    GgmlType.I8,
    GgmlType.I16,
    GgmlType.I32,
    GgmlType.I64,
    GgmlType.F64,
    GgmlType.Q8_K,
    GgmlType.Q8_1,
];
const UNKNOWN_TENSOR_TYPES = [4, 5, 31, 36, 38, 43, 100, 0xffffffff];

function big(v: GgufValue): bigint | undefined {
    if (typeof v === "bigint") return v;
    if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
    if (typeof v === "boolean") return v ? 1n : 0n;
    return undefined;
}

function hex(v: bigint): string {
    return v > 9999n ? `0x${v.toString(16)}` : v.toString();
}

/** An integer worth trying in a field whose current value is `orig`. */
function specialInt(rng: Rng, orig: bigint, size: 4 | 8): bigint {
    const mask = size === 4 ? 0xffffffffn : 0xffffffffffffffffn;
    const roll = rng.int(10);
    if (roll < 2) return (orig + 1n) & mask;
    if (roll < 4) return (orig - 1n) & mask;
    if (roll < 5) return (orig * 2n) & mask;
    return rng.pick(size === 4 ? U32_SPECIALS : U64_SPECIALS);
}

function setKv(layout: GgufLayout, entry: KvEntry): void {
    const i = layout.kvs.findIndex((kv) => kv.key === entry.key);
    if (i >= 0) layout.kvs[i] = entry;
    else layout.kvs.push(entry);
}

function findKv(layout: GgufLayout, key: string): KvEntry | undefined {
    return layout.kvs.find((kv) => kv.key === key);
}

function embd(layout: GgufLayout): number {
    const v = findKv(layout, "llama.embedding_length")?.value;
    return typeof v === "number" ? v : 64;
}

/** Resizes a tensor's data to fit its (new) shape and type; false when no valid size exists. */
function refit(t: TensorEntry): boolean {
    let size: number;
    try {
        if (!isKnownGgmlType(t.type)) return false;
        const shape = t.dims.map(Number);
        if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return false;
        size = ggmlTensorByteSize(t.type, shape);
    } catch {
        return false;
    }
    if (!Number.isSafeInteger(size) || size > 256 * 1024 * 1024) return false;
    if (size !== t.data.length) {
        const data = Buffer.alloc(size);
        t.data.copy(data, 0, 0, Math.min(size, t.data.length));
        t.data = data;
    }
    return true;
}

function describeValue(v: GgufValue): string {
    if (Array.isArray(v)) return `[${v.length} items${v.length > 0 ? `, first ${describeValue(v[0]!)}` : ""}]`;
    if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…(${v.length} chars)` : v);
    if (typeof v === "bigint") return hex(v);
    return String(v);
}

/** A value of `type` resembling `orig`, for wrong-type rewrites. */
function valueOfType(rng: Rng, type: GgufValueType, orig: GgufValue): GgufValue {
    const n = big(orig) ?? (Array.isArray(orig) ? BigInt(orig.length) : 64n);
    switch (type) {
        case GgufValueType.STRING:
            return rng.pick([String(n), "", "llama", "\u0000x"]);
        case GgufValueType.BOOL:
            return rng.chance(0.5);
        case GgufValueType.FLOAT32:
        case GgufValueType.FLOAT64:
            return rng.pick([Number(n), 0.5, Number.NaN]);
        case GgufValueType.UINT64:
        case GgufValueType.INT64:
            return rng.pick([n, 0xffffffffffffffffn, 0n]);
        case GgufValueType.INT32:
        case GgufValueType.INT8:
        case GgufValueType.INT16:
            return rng.pick([-1, 0, Number(n & 0x7fn)]);
        default:
            return Number(n & 0xffn);
    }
}

type Mutator = (rng: Rng, layout: GgufLayout) => string;

const layoutMutators: Partial<Record<MutationKind, Mutator>> = {
    "drop-kv": (rng, layout) => {
        const known = layout.kvs.filter((kv) => (WRONG_TYPE_KEYS as readonly string[]).includes(kv.key));
        const victim = rng.chance(0.8) && known.length > 0 ? rng.pick(known) : rng.pick(layout.kvs);
        layout.kvs = layout.kvs.filter((kv) => kv !== victim);
        return `removed metadata key ${victim.key}`;
    },
    "duplicate-kv": (rng, layout) => {
        const victim = rng.pick(layout.kvs.filter((kv) => !kv.key.startsWith("tokenizer.ggml.t") && kv.key !== "tokenizer.ggml.merges"));
        const copy: KvEntry = { ...victim };
        let how = "same value";
        if (rng.chance(0.5) && big(victim.value) !== undefined && victim.type !== GgufValueType.ARRAY) {
            copy.value = rng.pick([0, 1, 2, 3]);
            delete copy.raw;
            how = `value ${describeValue(copy.value)}`;
        }
        layout.kvs.splice(rng.int(layout.kvs.length + 1), 0, copy);
        return `duplicated metadata key ${victim.key} (${how})`;
    },
    "wrong-type": (rng, layout) => {
        const key = rng.pick(WRONG_TYPE_KEYS);
        const orig = findKv(layout, key)?.value ?? 64;
        const types = [
            GgufValueType.STRING,
            GgufValueType.BOOL,
            GgufValueType.FLOAT32,
            GgufValueType.UINT64,
            GgufValueType.INT32,
            GgufValueType.UINT8,
            GgufValueType.INT16,
            GgufValueType.FLOAT64,
            GgufValueType.ARRAY,
            GgufValueType.ARRAY,
            GgufValueType.UINT32,
        ];
        const type = rng.pick(types);
        if (type === GgufValueType.ARRAY) {
            const elementType = rng.pick([
                GgufValueType.INT32,
                GgufValueType.STRING,
                GgufValueType.FLOAT32,
                GgufValueType.UINT8,
                GgufValueType.UINT64,
                GgufValueType.BOOL,
                GgufValueType.ARRAY,
            ]);
            const length = Array.isArray(orig) && rng.chance(0.6) ? orig.length : rng.pick([0, 1, 2, 3, 40]);
            const value: GgufValue[] =
                elementType === GgufValueType.ARRAY
                    ? []
                    : Array.from({ length }, (_, i) => valueOfType(rng, elementType, Array.isArray(orig) ? (orig[i] ?? i) : orig));
            setKv(layout, { key, type, elementType: elementType === GgufValueType.ARRAY ? GgufValueType.INT32 : elementType, value });
            return `${key} rewritten as array<${GgufValueType[elementType]}> of ${length}`;
        }
        const value = valueOfType(rng, type, orig);
        setKv(layout, { key, type, value });
        return `${key} rewritten as ${GgufValueType[type]} ${describeValue(value)}`;
    },
    hparam: (rng, layout) => {
        const key = rng.pick(HPARAM_KEYS);
        const existing = findKv(layout, key);
        if (key === "llama.rope.freq_base" || key === "llama.attention.layer_norm_rms_epsilon" || key === "llama.rope.scaling.factor") {
            const value = rng.pick(FLOAT_SPECIALS);
            setKv(layout, { key, type: GgufValueType.FLOAT32, value });
            return `${key} = ${value}`;
        }
        if (key === "llama.classifier.output_labels") {
            const n = rng.pick([0, 2, 3, 8, 1000]);
            setKv(layout, {
                key,
                type: GgufValueType.ARRAY,
                elementType: GgufValueType.STRING,
                value: Array.from({ length: n }, (_, i) => `L${i}`),
            });
            return `${key} has ${n} labels`;
        }
        if (key === "llama.rope.scaling.type") {
            const value = rng.pick(["yarn", "linear", "longrope", "none", "bogus", ""]);
            setKv(layout, { key, type: GgufValueType.STRING, value });
            return `${key} = ${JSON.stringify(value)}`;
        }
        const orig = big(existing?.value ?? 0) ?? 0n;
        const signed = rng.chance(0.2);
        let value = specialInt(rng, orig, 4);
        if (key.endsWith("_token_id") && rng.chance(0.4)) value = BigInt(rng.pick([128256, 128257, 1 << 20, 0xffffffff]));
        const type = signed ? GgufValueType.INT32 : existing?.type === GgufValueType.UINT64 ? GgufValueType.UINT64 : GgufValueType.UINT32;
        const stored = signed ? Number(BigInt.asIntN(32, value)) : value;
        setKv(layout, { key, type, value: stored });
        return `${key} = ${hex(value)}${signed ? " (as i32)" : ""}${existing ? "" : " (added)"}`;
    },
    "tokenizer-array": (rng, layout) => {
        const key = rng.pick(["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.scores"]);
        const kv = findKv(layout, key);
        const tokens = findKv(layout, "tokenizer.ggml.tokens")?.value as GgufValue[];
        if (key === "tokenizer.ggml.scores" || kv === undefined) {
            const n = rng.pick([0, 1, 100, tokens.length - 1, tokens.length, tokens.length + 1]);
            setKv(layout, {
                key,
                type: GgufValueType.ARRAY,
                elementType: GgufValueType.FLOAT32,
                value: new Array(n).fill(rng.pick([0, -1, Number.NaN])),
            });
            return `${key} set to ${n} floats (${tokens.length} tokens)`;
        }
        const items = [...(kv.value as GgufValue[])];
        const mode = rng.pick(["shorten", "lengthen", "empty", "element", "element", "element", "swap"]);
        let what: string;
        if (mode === "shorten") {
            const n = rng.pick([1, 2, 256, items.length >> 1, items.length - 1, 128000, 128009]);
            items.length = Math.min(n, items.length);
            what = `shortened to ${items.length}`;
        } else if (mode === "lengthen") {
            const n = rng.pick([1, 2, 1000]);
            for (let i = 0; i < n; i++) items.push(items[rng.int(items.length)]!);
            what = `lengthened by ${n}`;
        } else if (mode === "empty") {
            items.length = 0;
            what = "emptied";
        } else if (mode === "swap") {
            const a = rng.int(items.length);
            const b = rng.chance(0.5) ? rng.int(256) : rng.int(items.length);
            [items[a], items[b]] = [items[b]!, items[a]!];
            what = `elements ${a} and ${b} swapped`;
        } else {
            const at = rng.chance(0.4)
                ? rng.int(Math.min(256, items.length))
                : rng.chance(0.3)
                  ? 128000 + rng.int(256)
                  : rng.int(items.length);
            let v: GgufValue;
            if (key === "tokenizer.ggml.token_type") v = rng.pick([0, 2, 3, 4, 5, 6, 7, 100, 255, -1, 0x7fffffff]);
            else if (key === "tokenizer.ggml.merges") v = rng.pick(["", " ", "a", "a b c", "Ġ Ġ", "\u0000 x", "x".repeat(5000)]);
            else v = rng.pick(["", " ", "<|eot_id|>", "<|begin_of_text|>", "x".repeat(70000), "\u0000", "\ud800", "Ā", String(items[0])]);
            items[at] = v;
            what = `element ${at} = ${describeValue(v)}`;
        }
        setKv(layout, { key, type: GgufValueType.ARRAY, elementType: kv.elementType ?? GgufValueType.STRING, value: items });
        return `${key} ${what}`;
    },
    "drop-tensor": (rng, layout) => {
        const victim = rng.pick(layout.tensors);
        layout.tensors = layout.tensors.filter((t) => t !== victim);
        return `removed tensor ${victim.name}`;
    },
    "duplicate-tensor": (rng, layout) => {
        const victim = rng.pick(layout.tensors);
        layout.tensors.splice(rng.int(layout.tensors.length + 1), 0, { ...victim, dims: [...victim.dims] });
        return `duplicated tensor ${victim.name}`;
    },
    "rename-tensor": (rng, layout) => {
        const t = rng.pick(layout.tensors);
        const old = t.name;
        t.name = rng.pick([
            "",
            "blk.7.attn_q.weight",
            "blk.2.attn_norm.weight",
            "output.weight",
            "cls.output.bias",
            "cls.output.weight",
            "token_embd.weight",
            `${old}\u0000`,
            "x".repeat(300),
            old.replace("blk.0", "blk.1"),
            old.toUpperCase(),
            "blk.4294967295.attn_q.weight",
            "blk.-1.ffn_up.weight",
            "rope_freqs.weight",
        ]);
        return `renamed tensor ${old} to ${describeValue(t.name)}`;
    },
    "tensor-shape": (rng, layout) => {
        const t = rng.chance(0.2)
            ? (layout.tensors.find((x) => x.name === "cls.output.weight") ?? rng.pick(layout.tensors))
            : rng.pick(layout.tensors);
        const before = `[${t.dims.join(", ")}]`;
        const mode = rng.pick(["dim", "dim", "swap", "append1", "append2", "drop", "zero", "hparam"]);
        const k = rng.int(t.dims.length);
        if (mode === "dim") t.dims[k] = BigInt(Math.max(0, Number(t.dims[k]!) + rng.pick([-1, 1, 32, -32])));
        else if (mode === "swap" && t.dims.length > 1) t.dims.reverse();
        else if (mode === "append1") t.dims.push(1n);
        else if (mode === "append2") t.dims.push(2n);
        else if (mode === "drop" && t.dims.length > 1) t.dims.pop();
        else if (mode === "zero") t.dims[k] = 0n;
        else t.dims[k] = BigInt(rng.pick([1, 16, 32, 48, 64, 128, 256]));
        const fits = refit(t);
        return `tensor ${t.name} shape ${before} -> [${t.dims.join(", ")}]${fits ? "" : " (data left as is)"}`;
    },
    "tensor-type": (rng, layout) => {
        const t = rng.pick(layout.tensors);
        const before = t.type;
        if (rng.chance(0.2)) {
            t.type = rng.pick(UNKNOWN_TENSOR_TYPES);
        } else {
            t.type = rng.pick(TENSOR_TYPES);
            if (rng.chance(0.8)) refit(t);
        }
        return `tensor ${t.name} type ${GgmlType[before] ?? before} -> ${GgmlType[t.type] ?? t.type} (${t.data.length} bytes)`;
    },
    "tensor-offset": (rng, layout) => {
        const t = rng.pick(layout.tensors);
        const other = rng.pick(layout.tensors);
        const value = rng.pick([0n, 1n, 31n, 32n, 0xffffffffffffffffn, 0x7fffffffffffffe0n, 1n << 40n, -32n & 0xffffffffffffffffn]);
        t.offsetOverride = rng.chance(0.3) ? 0n : value;
        return `tensor ${t.name} offset = ${hex(t.offsetOverride)}${other === t ? "" : ""}`;
    },
    "head-labels": (rng, layout) => {
        const labels = rng.pick([0, 1, 2, 3, 5]);
        const cols = rng.pick([0, 1, 2, 3, 5, labels]);
        const n = embd(layout);
        const rows = rng.chance(0.8) ? n : rng.pick([n - 1, n + 1, 1, 2 * n]);
        if (labels === 0 && rng.chance(0.5)) layout.kvs = layout.kvs.filter((kv) => kv.key !== "llama.classifier.output_labels");
        else
            setKv(layout, {
                key: "llama.classifier.output_labels",
                type: GgufValueType.ARRAY,
                elementType: GgufValueType.STRING,
                value: Array.from({ length: labels }, (_, i) => `label${i}`),
            });
        const head = layout.tensors.find((t) => t.name === "cls.output.weight");
        if (head) {
            head.dims = cols === 1 && rng.chance(0.5) ? [BigInt(rows)] : [BigInt(rows), BigInt(cols)];
            refit(head);
        }
        let bias = "";
        if (rng.chance(0.4)) {
            const b = rng.pick([0, 1, 2, 3, labels, cols]);
            const dims = rng.chance(0.8) ? [BigInt(b)] : [BigInt(b), 2n];
            const t: TensorEntry = { name: "cls.output.bias", dims, type: GgmlType.F32, data: Buffer.alloc(0) };
            refit(t);
            layout.tensors = layout.tensors.filter((x) => x.name !== "cls.output.bias");
            layout.tensors.push(t);
            bias = `, bias [${dims.join(", ")}]`;
        }
        return `${labels} labels, head [${head?.dims.join(", ") ?? "none"}]${bias}`;
    },
    "chat-template": (rng, layout) => {
        const value = rng.pick([
            "",
            "{{",
            "{% for %}",
            "{{ raise_exception('no') }}",
            "{{ messages[99]['content'] }}",
            "{% for m in messages %}{{ m.content }}{% endfor %}",
            "{{ bos_token * 100 }}",
            "{{ 1 / 0 }}",
            "{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}",
            "\u0000",
            "{{ undefined_var.x.y }}",
            "{% for m in messages %}{{ '<|eot_id|>' * 3 + m['content'] }}{% endfor %}",
        ]);
        setKv(layout, { key: "tokenizer.chat_template", type: GgufValueType.STRING, value });
        return `tokenizer.chat_template = ${describeValue(value)}`;
    },
};

function pickRegion(rng: Rng, s: SerializedGguf): [number, number, string] {
    const r = rng.int(10);
    if (r < 2) return [0, 24, "fixed header"];
    if (r < 5 && s.smallKvRegions.length > 0) {
        const [a, b] = rng.pick(s.smallKvRegions);
        return [a, b, "small metadata"];
    }
    if (r < 8) return [s.tensorInfoRegion[0], s.tensorInfoRegion[1], "tensor info"];
    return [s.metadataRegion[0], s.metadataRegion[1], "metadata"];
}

function describeOffset(s: SerializedGguf, at: number): string {
    let label = "start";
    for (const b of s.boundaries) if (b.at <= at) label = b.label;
    return `${at} (${label})`;
}

function byteMutation(rng: Rng, kind: MutationKind, s: SerializedGguf): { text: string; length?: number } {
    const header = s.header;
    switch (kind) {
        case "bit-flip": {
            const [a, b, name] = pickRegion(rng, s);
            const n = rng.pick([1, 1, 1, 2, 4, 8]);
            const where: string[] = [];
            for (let i = 0; i < n; i++) {
                const at = rng.range(a, Math.max(a, b - 1));
                const bit = rng.int(8);
                header[at]! ^= 1 << bit;
                where.push(`${describeOffset(s, at)} bit ${bit}`);
            }
            return { text: `${n} bit flip(s) in ${name}: ${where.join("; ")}` };
        }
        case "byte-set": {
            const [a, b, name] = pickRegion(rng, s);
            const n = rng.pick([1, 2, 4]);
            const where: string[] = [];
            for (let i = 0; i < n; i++) {
                const at = rng.range(a, Math.max(a, b - 1));
                const v = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x01, rng.int(256)]);
                header[at] = v;
                where.push(`${describeOffset(s, at)} = 0x${v.toString(16)}`);
            }
            return { text: `${n} byte(s) set in ${name}: ${where.join("; ")}` };
        }
        case "int-field": {
            const f = rng.pick(s.fields);
            const orig = f.size === 4 ? BigInt(header.readUInt32LE(f.at)) : header.readBigUInt64LE(f.at);
            const v = specialInt(rng, orig, f.size);
            if (f.size === 4) header.writeUInt32LE(Number(v), f.at);
            else header.writeBigUInt64LE(v, f.at);
            return { text: `${f.label}: ${hex(orig)} -> ${hex(v)}` };
        }
        case "truncate-boundary": {
            const b = rng.chance(0.7) ? rng.pick(s.boundaries.filter((x) => x.at <= header.length)) : rng.pick(s.boundaries);
            const length = Math.max(0, b.at + rng.pick([-1, 0, 0, 1]));
            return { text: `truncated to ${length} bytes (${b.label})`, length };
        }
        default: {
            const total = serializedSize(s);
            const length = rng.chance(0.7) ? rng.int(header.length) : rng.int(total);
            return { text: `truncated to ${length} bytes (${describeOffset(s, length)})`, length };
        }
    }
}

/** The first draws of a case: its base model and mutation kind. */
function drawHead<B>(rng: Rng, bases: readonly B[]): { base: B; kind: MutationKind } {
    const base = rng.chance(0.75) ? bases[0]! : rng.pick(bases);
    return { base, kind: rng.weighted(MUTATION_WEIGHTS) };
}

/** The mutation kind of case `index` of `seed`, without building the case. */
export function caseKind(seed: number, index: number): MutationKind {
    return drawHead(Rng.forCase(seed, index), [0, 1]).kind;
}

/** Builds case `index` of `seed`: the same bytes every time. */
export function makeCase(bases: readonly FuzzBase[], seed: number, index: number): FuzzCase {
    const rng = Rng.forCase(seed, index);
    const { base, kind } = drawHead(rng, bases);
    const layout = cloneLayout(base.layout);
    const mutator = layoutMutators[kind];
    if (mutator) {
        const mutation = mutator(rng, layout);
        return { seed, index, base: base.name, kind, mutation, serialized: serializeLayout(layout) };
    }
    const serialized = serializeLayout(layout); // a fresh header buffer: editing it leaves the base intact
    const m = byteMutation(rng, kind, serialized);
    return m.length === undefined
        ? { seed, index, base: base.name, kind, mutation: m.text, serialized }
        : { seed, index, base: base.name, kind, mutation: m.text, serialized, length: m.length };
}

/** Writes the case's bytes to `file`. */
export function writeCase(c: FuzzCase, file: string): void {
    const fd = fs.openSync(file, "w");
    try {
        let left = c.length ?? Number.MAX_SAFE_INTEGER;
        for (const chunk of [c.serialized.header, ...c.serialized.data]) {
            if (left <= 0) break;
            const part = chunk.length <= left ? chunk : chunk.subarray(0, left);
            let done = 0;
            while (done < part.length) done += fs.writeSync(fd, part, done, part.length - done);
            left -= part.length;
        }
    } finally {
        fs.closeSync(fd);
    }
}

export function describeCase(c: FuzzCase): string {
    return `seed ${c.seed} case ${c.index} [${c.base}] ${c.kind}: ${c.mutation}`;
}
