/**
 * Field-level ("structure-aware") GGUF mutations: from a base model, case
 * `index` under `seed` rebuilds the file by structure (gguf-layout.ts) with
 * one field made wrong in a way a byte flip rarely reaches: strings of an
 * array made equal (also as C strings, through a NUL byte), empty, huge or
 * invalid UTF-8; arrays of the wrong element type or length; token types,
 * scores, merges and special-token ids out of range; per-layer arrays with
 * a bad layer; tensors with swapped or wrong shapes and types, offsets past
 * the end of the file or onto another tensor; metadata keys removed or
 * repeated; the vocabulary handed to another of llama.cpp's tokenizers. The byte-level engine is gguf-mutations.ts; both produce a
 * FuzzCase that run-fuzz.ts and gguf-fuzz-target.ts run the same way.
 */
import { GgmlType, GgufValueType, ggmlTensorByteSize, type GgufValue } from "../../src/gguf/gguf-types.js";
import { SPECIAL_TOKEN_KEYS } from "../../src/model/tokenizer-checks.js";
import { TOKENIZER_MODELS } from "../../src/model/tokenizer-names.js";
import { cloneLayout, layoutAlignment, serializeLayout, type GgufLayout, type KvEntry, type TensorEntry } from "./gguf-layout.js";
import type { FuzzBase, FuzzCase } from "./gguf-mutations.js";
import { Rng, mix32 } from "./prng.js";

const STRUCTURED_WEIGHTS = {
    "string-duplicate": 10,
    "string-nul": 8,
    "string-empty": 4,
    "string-huge": 2,
    "string-invalid-utf8": 5,
    "array-element-type": 6,
    "array-length": 6,
    "token-type-range": 4,
    "score-values": 4,
    "special-token-id": 8,
    "merge-corrupt": 6,
    "layer-array": 5,
    "tensor-shape-swap": 5,
    "tensor-wrong-shape": 5,
    "tensor-type-swap": 5,
    "tensor-offset": 4,
    "key-removed": 6,
    "key-repeated": 3,
    "tokenizer-model": 6,
} as const;

export type StructuredKind = keyof typeof STRUCTURED_WEIGHTS;
export const STRUCTURED_KINDS = Object.keys(STRUCTURED_WEIGHTS) as StructuredKind[];

/** Salt that keeps structured case k apart from byte case k of the same seed. */
const SALT = 0x5f3759df;

/** The string arrays and strings the loader reads. */
const STRING_ARRAYS = ["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "llama.classifier.output_labels"];
const STRINGS = ["general.architecture", "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.chat_template", "general.name"];
/** Keys llama.cpp or llama-reward needs to load a llama reward model. */
const NEEDED_KEYS = [
    "general.architecture",
    "llama.block_count",
    "llama.context_length",
    "llama.embedding_length",
    "llama.feed_forward_length",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.attention.layer_norm_rms_epsilon",
    "llama.rope.dimension_count",
    "llama.rope.freq_base",
    "llama.vocab_size",
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.chat_template",
    "llama.classifier.output_labels",
];
const LAYER_KEYS = [
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.feed_forward_length",
    "llama.attention.sliding_window_pattern",
    "llama.expert_used_count",
];

function findKv(layout: GgufLayout, key: string): KvEntry | undefined {
    return layout.kvs.find((kv) => kv.key === key);
}

function setKv(layout: GgufLayout, entry: KvEntry): void {
    const i = layout.kvs.findIndex((kv) => kv.key === entry.key);
    if (i >= 0) layout.kvs[i] = entry;
    else layout.kvs.push(entry);
}

function arrayKv(layout: GgufLayout, key: string): GgufValue[] | undefined {
    const v = findKv(layout, key)?.value;
    return Array.isArray(v) ? [...v] : undefined;
}

/** One of the string arrays the file has (the token list at least). */
function pickStringArray(rng: Rng, layout: GgufLayout): string {
    return rng.pick(STRING_ARRAYS.filter((k) => (arrayKv(layout, k)?.length ?? 0) > 1));
}

function tokenCount(layout: GgufLayout): number {
    return arrayKv(layout, "tokenizer.ggml.tokens")?.length ?? 0;
}

/** An index into an array of `n`: often the first 300 (bytes, specials), sometimes the end, else anywhere. */
function index(rng: Rng, n: number): number {
    const r = rng.int(10);
    if (r < 4) return rng.int(Math.min(n, 300));
    if (r < 5) return Math.max(0, n - 1 - rng.int(Math.min(n, 300)));
    return rng.int(n);
}

function shown(s: string): string {
    const t = JSON.stringify(s.length > 30 ? `${s.slice(0, 30)}…(${s.length})` : s);
    return t;
}

/** Encodes an array of strings, some given as raw bytes, as a KvEntry's raw value (element type, count, items). */
function rawStringArray(items: (string | Buffer)[]): Buffer {
    const parts: Buffer[] = [];
    const head = Buffer.alloc(12);
    head.writeUInt32LE(GgufValueType.STRING, 0);
    head.writeBigUInt64LE(BigInt(items.length), 4);
    parts.push(head);
    for (const item of items) {
        const bytes = typeof item === "string" ? Buffer.from(item, "utf8") : item;
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(bytes.length));
        parts.push(len, bytes);
    }
    return Buffer.concat(parts);
}

const INVALID_UTF8 = [
    Buffer.from([0xff]),
    Buffer.from([0xc3]),
    Buffer.from([0xe2, 0x82]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xc0, 0xaf]),
    Buffer.from([0x80, 0x80]),
];

/** Resizes a tensor's data to its shape and type; false when the shape has no valid size. */
function refit(t: TensorEntry): boolean {
    let size: number;
    try {
        size = ggmlTensorByteSize(t.type, t.dims.map(Number));
    } catch {
        return false;
    }
    if (!Number.isSafeInteger(size) || size > 64 * 1024 * 1024) return false;
    if (size !== t.data.length) {
        const data = Buffer.alloc(size);
        t.data.copy(data, 0, 0, Math.min(size, t.data.length));
        t.data = data;
    }
    return true;
}

type Mutator = (rng: Rng, layout: GgufLayout) => string;

const mutators: Record<StructuredKind, Mutator> = {
    "string-duplicate": (rng, l) => {
        const key = pickStringArray(rng, l);
        const items = arrayKv(l, key);
        if (!items || items.length < 2) return `${key} absent: no change`;
        const a = index(rng, items.length);
        let b = index(rng, items.length);
        if (b === a) b = (a + 1) % items.length;
        const mode = rng.pick(["equal", "equal", "nul-suffix", "nul-tail", "empty-rename"]);
        const other = items[b] as string;
        if (mode === "equal") items[a] = other;
        else if (mode === "nul-suffix") items[a] = `${other}\u0000`;
        else if (mode === "nul-tail") items[a] = `${other}\u0000${rng.pick(["x", "abc", "\u0000", "Ġ"])}`;
        else {
            items[a] = "";
            items[b] = `[EMPTY_${a}]`;
        }
        setKv(l, { key, type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: items });
        return `${key}[${a}] made equal to [${b}] ${shown(other)} (${mode})`;
    },
    "string-nul": (rng, l) => {
        if (rng.chance(0.6)) {
            const key = pickStringArray(rng, l);
            const items = arrayKv(l, key);
            if (!items || items.length === 0) return `${key} absent: no change`;
            const i = index(rng, items.length);
            const s = items[i] as string;
            const at = rng.int(s.length + 1);
            items[i] = rng.chance(0.5) ? `${s.slice(0, at)}\u0000${s.slice(at)}` : `${s.slice(0, at)}\u0000`;
            setKv(l, { key, type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: items });
            return `${key}[${i}] ${shown(s)} -> ${shown(items[i] as string)}`;
        }
        const key = rng.pick(STRINGS);
        const s = typeof findKv(l, key)?.value === "string" ? (findKv(l, key)!.value as string) : "";
        const at = rng.int(s.length + 1);
        const value = `${s.slice(0, at)}\u0000${s.slice(at)}`;
        setKv(l, { key, type: GgufValueType.STRING, value });
        return `${key} gets a NUL at ${at}`;
    },
    "string-empty": (rng, l) => {
        if (rng.chance(0.6)) {
            const key = pickStringArray(rng, l);
            const items = arrayKv(l, key);
            if (!items || items.length === 0) return `${key} absent: no change`;
            const n = rng.pick([1, 1, 2, 50]);
            const at: number[] = [];
            for (let k = 0; k < n; k++) {
                const i = index(rng, items.length);
                items[i] = "";
                at.push(i);
            }
            setKv(l, { key, type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: items });
            return `${key}[${at.slice(0, 5).join(", ")}${at.length > 5 ? ", …" : ""}] emptied`;
        }
        const key = rng.pick(STRINGS);
        setKv(l, { key, type: GgufValueType.STRING, value: "" });
        return `${key} = ""`;
    },
    "string-huge": (rng, l) => {
        const size = rng.pick([65_536, 300_000, 1_000_000]);
        const fill = rng.pick(["x", "Ġ", "{{ ", "\u0000"]);
        const value = fill.repeat(Math.ceil(size / fill.length));
        if (rng.chance(0.5)) {
            const key = pickStringArray(rng, l);
            const items = arrayKv(l, key);
            if (!items || items.length === 0) return `${key} absent: no change`;
            const i = index(rng, items.length);
            items[i] = value;
            setKv(l, { key, type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: items });
            return `${key}[${i}] = ${JSON.stringify(fill)} x ${size}`;
        }
        const key = rng.pick(STRINGS);
        setKv(l, { key, type: GgufValueType.STRING, value });
        return `${key} = ${JSON.stringify(fill)} x ${size}`;
    },
    "string-invalid-utf8": (rng, l) => {
        const key = pickStringArray(rng, l);
        const items = arrayKv(l, key) as string[] | undefined;
        if (!items || items.length === 0) return `${key} absent: no change`;
        const raw: (string | Buffer)[] = [...items];
        const n = rng.pick([1, 1, 2]);
        const what: string[] = [];
        for (let k = 0; k < n; k++) {
            const i = index(rng, items.length);
            const bad = rng.pick(INVALID_UTF8);
            const base = Buffer.from(items[i]!, "utf8");
            // sometimes two tokens differ only in invalid bytes: equal after UTF-8 decoding, different as bytes
            raw[i] = rng.chance(0.5) ? Buffer.concat([base, bad]) : Buffer.concat([bad, base]);
            what.push(`[${i}] + ${bad.toString("hex")}`);
        }
        const entry: KvEntry = {
            key,
            type: GgufValueType.ARRAY,
            elementType: GgufValueType.STRING,
            value: items,
            raw: rawStringArray(raw),
        };
        setKv(l, entry);
        return `${key} invalid UTF-8 ${what.join(", ")}`;
    },
    "array-element-type": (rng, l) => {
        const key = rng.pick([...STRING_ARRAYS, "tokenizer.ggml.token_type", "tokenizer.ggml.scores", "llama.attention.head_count"]);
        const items = arrayKv(l, key) ?? new Array<GgufValue>(tokenCount(l)).fill(0);
        const elementType = rng.pick([
            GgufValueType.INT32,
            GgufValueType.UINT32,
            GgufValueType.UINT8,
            GgufValueType.INT64,
            GgufValueType.FLOAT32,
            GgufValueType.FLOAT64,
            GgufValueType.BOOL,
            GgufValueType.STRING,
        ]);
        const value = items.map((v, i) =>
            elementType === GgufValueType.STRING ? String(v) : typeof v === "number" ? v : typeof v === "string" ? v.length : i,
        );
        setKv(l, { key, type: GgufValueType.ARRAY, elementType, value });
        return `${key} rewritten as array<${GgufValueType[elementType]}> of ${value.length}`;
    },
    "array-length": (rng, l) => {
        const key = rng.pick([...STRING_ARRAYS, "tokenizer.ggml.token_type", "tokenizer.ggml.scores"]);
        const existing = findKv(l, key);
        const items = arrayKv(l, key) ?? new Array<GgufValue>(tokenCount(l)).fill(0);
        const n = items.length;
        const target = rng.pick([0, 1, n - 1, n + 1, n >> 1, 2 * n, 256]);
        const value = Array.from({ length: Math.max(0, target) }, (_, i) => items[i % Math.max(1, n)] ?? 0);
        const elementType = existing?.elementType ?? GgufValueType.FLOAT32;
        setKv(l, { key, type: GgufValueType.ARRAY, elementType, value });
        return `${key} length ${n} -> ${value.length}`;
    },
    "token-type-range": (rng, l) => {
        const types = arrayKv(l, "tokenizer.ggml.token_type");
        if (!types) return "no token types: no change";
        const i = index(rng, types.length);
        const v = rng.pick([-1, 7, 8, 100, 255, 0x7fffffff, -0x80000000, 0]);
        types[i] = v;
        setKv(l, { key: "tokenizer.ggml.token_type", type: GgufValueType.ARRAY, elementType: GgufValueType.INT32, value: types });
        return `tokenizer.ggml.token_type[${i}] = ${v}`;
    },
    "score-values": (rng, l) => {
        const n = tokenCount(l);
        const elementType = rng.chance(0.8) ? GgufValueType.FLOAT32 : GgufValueType.INT32;
        const scores = new Array<number>(n).fill(0).map((_, i) => -i);
        const i = index(rng, n);
        const v =
            elementType === GgufValueType.FLOAT32
                ? rng.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3.4e38, -3.4e38, 0])
                : rng.pick([-0x80000000, 0x7fffffff, 0]);
        scores[i] = v;
        setKv(l, { key: "tokenizer.ggml.scores", type: GgufValueType.ARRAY, elementType, value: scores });
        return `tokenizer.ggml.scores (${GgufValueType[elementType]}) [${i}] = ${v}`;
    },
    "special-token-id": (rng, l) => {
        const key = rng.pick(SPECIAL_TOKEN_KEYS);
        const n = tokenCount(l);
        const v = rng.pick([n, n + 1, n - 1, 0, 0xffffffff, 0x7fffffff, 128000, 1 << 20]);
        const type = rng.pick([
            GgufValueType.UINT32,
            GgufValueType.UINT32,
            GgufValueType.INT32,
            GgufValueType.UINT64,
            GgufValueType.INT64,
            GgufValueType.UINT8,
            GgufValueType.STRING,
            GgufValueType.FLOAT32,
        ]);
        const value: GgufValue =
            type === GgufValueType.INT32
                ? v | 0
                : type === GgufValueType.UINT64 || type === GgufValueType.INT64
                  ? BigInt(v)
                  : type === GgufValueType.STRING
                    ? String(v)
                    : v;
        setKv(l, { key, type, value });
        return `${key} = ${String(value)} (${GgufValueType[type]}; ${n} tokens)`;
    },
    "merge-corrupt": (rng, l) => {
        const merges = arrayKv(l, "tokenizer.ggml.merges") as string[] | undefined;
        if (!merges || merges.length === 0) return "no merges: no change";
        const i = index(rng, merges.length);
        const m = merges[i]!;
        const space = m.indexOf(" ", 1);
        const [left, right] = space > 0 ? [m.slice(0, space), m.slice(space + 1)] : [m, ""];
        const v = rng.pick([
            `${left}${right}`,
            ` ${left} ${right}`,
            `${left} ${right} ${left}`,
            `${left}  ${right}`,
            `${left} `,
            ` ${right}`,
            " ",
            "",
            `${left}\u0000 ${right}`,
            `${left} ${right}\u0000x`,
            `qzxv ${right}`,
            `${left} qzxv`,
            merges[(i + 1) % merges.length]!,
        ]);
        merges[i] = v;
        setKv(l, { key: "tokenizer.ggml.merges", type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: merges });
        return `tokenizer.ggml.merges[${i}] ${shown(m)} -> ${shown(v)}`;
    },
    "layer-array": (rng, l) => {
        const key = rng.pick(LAYER_KEYS);
        const layers = Number(findKv(l, "llama.block_count")?.value ?? 1);
        const current = findKv(l, key)?.value;
        const base = typeof current === "number" ? current : 1;
        const length = rng.chance(0.7) ? layers : rng.pick([layers - 1, layers + 1, 0, 513]);
        const value = new Array<number>(Math.max(0, length)).fill(base);
        if (value.length > 0) value[rng.int(value.length)] = rng.pick([0, 1, 3, base * 2, 0xffffffff, base + 1]);
        setKv(l, { key, type: GgufValueType.ARRAY, elementType: GgufValueType.UINT32, value });
        return `${key} as a per-layer array [${value.join(", ")}] (${layers} layers)`;
    },
    "tensor-shape-swap": (rng, l) => {
        const a = rng.pick(l.tensors);
        if (rng.chance(0.5) && a.dims.length >= 2) {
            const before = a.dims.join(", ");
            a.dims = [...a.dims].reverse();
            return `tensor ${a.name} dims [${before}] reversed`;
        }
        const b = rng.pick(l.tensors);
        [a.dims, b.dims] = [b.dims, a.dims];
        const fits = refit(a) && refit(b);
        return `tensors ${a.name} and ${b.name} swapped shapes${fits ? "" : " (data left as is)"}`;
    },
    "tensor-wrong-shape": (rng, l) => {
        const t = rng.pick(l.tensors);
        const before = t.dims.join(", ");
        const k = rng.int(t.dims.length);
        const embd = BigInt(Number(findKv(l, "llama.embedding_length")?.value ?? 64));
        t.dims[k] = rng.pick([t.dims[k]! * 2n, t.dims[k]! / 2n, t.dims[k]! + 1n, embd, 1n, 0n]);
        if (rng.chance(0.2)) t.dims.push(rng.pick([1n, 2n]));
        const fits = refit(t);
        return `tensor ${t.name} [${before}] -> [${t.dims.join(", ")}]${fits ? "" : " (data left as is)"}`;
    },
    "tensor-type-swap": (rng, l) => {
        const t = rng.pick(l.tensors);
        const before = GgmlType[t.type] ?? String(t.type);
        t.type = rng.pick([GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K]);
        const fits = rng.chance(0.85) ? refit(t) : false;
        return `tensor ${t.name} type ${before} -> ${GgmlType[t.type]}${fits ? "" : " (data size left as is)"}`;
    },
    "tensor-offset": (rng, l) => {
        const t = rng.pick(l.tensors);
        const alignment = BigInt(layoutAlignment(l));
        const total = BigInt(l.tensors.reduce((s, x) => s + x.data.length + Number(alignment), 0));
        const other = rng.pick(l.tensors);
        const mode = rng.pick(["past-end", "at-end", "overlap", "far"]);
        const offsets: Record<string, bigint> = {
            "past-end": ((total + alignment) / alignment) * alignment,
            "at-end": (total / alignment) * alignment,
            overlap: 0n,
            far: 1n << 40n,
        };
        t.offsetOverride = offsets[mode]!;
        return `tensor ${t.name} offset -> ${t.offsetOverride} (${mode}${mode === "overlap" ? `, onto ${other.name}` : ""})`;
    },
    "key-removed": (rng, l) => {
        const key = rng.pick(NEEDED_KEYS);
        const before = l.kvs.length;
        l.kvs = l.kvs.filter((kv) => kv.key !== key);
        return `removed ${key}${l.kvs.length === before ? " (was absent)" : ""}`;
    },
    "tokenizer-model": (rng, l) => {
        // the same vocabulary read by another of llama.cpp's tokenizers (SPM, WPM, UGM, RWKV, ...)
        const model = rng.pick([...TOKENIZER_MODELS.keys()]);
        setKv(l, { key: "tokenizer.ggml.model", type: GgufValueType.STRING, value: model });
        let extra = "";
        if (rng.chance(0.4)) {
            // with byte tokens, so the byte check lets it through to the tokenizer
            const tokens = arrayKv(l, "tokenizer.ggml.tokens") as string[];
            for (let b = 0; b < 256; b++) tokens[b] = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
            setKv(l, { key: "tokenizer.ggml.tokens", type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: tokens });
            extra = " with <0xXX> byte tokens";
        }
        return `tokenizer.ggml.model = ${JSON.stringify(model)}${extra}`;
    },
    "key-repeated": (rng, l) => {
        const kv = rng.pick(l.kvs);
        const copy: KvEntry = { ...kv };
        if (rng.chance(0.5) && typeof kv.value === "number") {
            copy.value = kv.value + 1;
            delete copy.raw;
        }
        l.kvs.splice(rng.int(l.kvs.length + 1), 0, copy);
        return `repeated ${kv.key}${copy.value === kv.value ? "" : " with another value"}`;
    },
};

function drawHead<B>(rng: Rng, bases: readonly B[]): { base: B; kind: StructuredKind } {
    const base = rng.chance(0.5) ? bases[0]! : rng.pick(bases);
    return { base, kind: rng.weighted(STRUCTURED_WEIGHTS) };
}

/** The mutation kind of structured case `index` of `seed`, without building it. */
export function structuredCaseKind(seed: number, index: number): StructuredKind {
    return drawHead(new Rng(mix32(seed ^ SALT, index)), [0, 1]).kind;
}

/** Builds structured case `index` of `seed`: the same bytes every time. */
export function makeStructuredCase(bases: readonly FuzzBase[], seed: number, index: number): FuzzCase {
    const rng = new Rng(mix32(seed ^ SALT, index));
    const { base, kind } = drawHead(rng, bases);
    const layout = cloneLayout(base.layout);
    const mutation = mutators[kind](rng, layout);
    return { seed, index, base: base.name, kind, mutation, serialized: serializeLayout(layout) };
}
