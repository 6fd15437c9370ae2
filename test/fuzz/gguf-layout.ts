/**
 * An editable view of a GGUF file for the fuzzer: metadata entries (kept as
 * their original bytes until edited), the tensor table, and each tensor's
 * data. serializeLayout() writes it back and records where every structural
 * integer field and boundary landed, so byte-level mutations can aim at them.
 */
import { GGUF_DEFAULT_ALIGNMENT, GgufValueType, alignUp, ggmlTensorByteSize, type GgufValue } from "../../src/gguf/gguf-types.js";

export interface KvEntry {
    key: string;
    type: GgufValueType;
    elementType?: GgufValueType;
    value: GgufValue;
    /** Encoded value (after the type tag) as read; dropped when the entry is edited. */
    raw?: Buffer;
}

export interface TensorEntry {
    name: string;
    dims: bigint[];
    type: number;
    data: Buffer;
    /** Written instead of the computed data offset. */
    offsetOverride?: bigint;
}

export interface GgufLayout {
    version: number;
    kvs: KvEntry[];
    tensors: TensorEntry[];
}

/** An integer field of the serialized header. */
export interface HeaderField {
    at: number;
    size: 4 | 8;
    label: string;
}

export interface SerializedGguf {
    /** Everything before the tensor data, padded to the alignment. */
    header: Buffer;
    /** Tensor data (with alignment padding), in file order. */
    data: Buffer[];
    fields: HeaderField[];
    /** Offsets where a structure ends (candidates for truncation). */
    boundaries: { at: number; label: string }[];
    /** [start, end) of the metadata and tensor-info regions. */
    metadataRegion: [number, number];
    tensorInfoRegion: [number, number];
    /** Value regions of the small (non-tokenizer) metadata entries. */
    smallKvRegions: [number, number][];
}

// ---- reading --------------------------------------------------------------

class Cursor {
    constructor(
        readonly buf: Buffer,
        public at = 0,
    ) {}
    u32(): number {
        const v = this.buf.readUInt32LE(this.at);
        this.at += 4;
        return v;
    }
    u64(): bigint {
        const v = this.buf.readBigUInt64LE(this.at);
        this.at += 8;
        return v;
    }
    str(): string {
        const n = Number(this.u64());
        const s = this.buf.toString("utf8", this.at, this.at + n);
        this.at += n;
        return s;
    }
    scalar(type: GgufValueType): GgufValue {
        const b = this.buf;
        const at = this.at;
        switch (type) {
            case GgufValueType.UINT8:
                this.at += 1;
                return b.readUInt8(at);
            case GgufValueType.INT8:
                this.at += 1;
                return b.readInt8(at);
            case GgufValueType.UINT16:
                this.at += 2;
                return b.readUInt16LE(at);
            case GgufValueType.INT16:
                this.at += 2;
                return b.readInt16LE(at);
            case GgufValueType.UINT32:
                this.at += 4;
                return b.readUInt32LE(at);
            case GgufValueType.INT32:
                this.at += 4;
                return b.readInt32LE(at);
            case GgufValueType.FLOAT32:
                this.at += 4;
                return b.readFloatLE(at);
            case GgufValueType.BOOL:
                this.at += 1;
                return b.readUInt8(at) !== 0;
            case GgufValueType.STRING:
                return this.str();
            case GgufValueType.UINT64:
                this.at += 8;
                return b.readBigUInt64LE(at);
            case GgufValueType.INT64:
                this.at += 8;
                return b.readBigInt64LE(at);
            case GgufValueType.FLOAT64:
                this.at += 8;
                return b.readDoubleLE(at);
            default:
                throw new Error(`gguf-layout: unexpected value type ${type}`);
        }
    }
}

/** Parses a well-formed GGUF file held in memory (the fuzzer's base model). */
export function parseLayout(file: Buffer): GgufLayout {
    const c = new Cursor(file, 4);
    const version = c.u32();
    const nTensors = Number(c.u64());
    const nKv = Number(c.u64());
    const kvs: KvEntry[] = [];
    let alignment = GGUF_DEFAULT_ALIGNMENT;
    for (let i = 0; i < nKv; i++) {
        const key = c.str();
        const type = c.u32() as GgufValueType;
        const start = c.at;
        let value: GgufValue;
        let elementType: GgufValueType | undefined;
        if (type === GgufValueType.ARRAY) {
            elementType = c.u32() as GgufValueType;
            const n = Number(c.u64());
            const items: GgufValue[] = new Array(n);
            for (let k = 0; k < n; k++) items[k] = c.scalar(elementType);
            value = items;
        } else {
            value = c.scalar(type);
        }
        if (key === "general.alignment" && typeof value === "number") alignment = value;
        kvs.push(
            elementType === undefined
                ? { key, type, value, raw: file.subarray(start, c.at) }
                : { key, type, elementType, value, raw: file.subarray(start, c.at) },
        );
    }
    const infos: { name: string; dims: bigint[]; type: number; offset: bigint }[] = [];
    for (let i = 0; i < nTensors; i++) {
        const name = c.str();
        const nDims = c.u32();
        const dims: bigint[] = [];
        for (let d = 0; d < nDims; d++) dims.push(c.u64());
        const type = c.u32();
        infos.push({ name, dims, type, offset: c.u64() });
    }
    const dataStart = alignUp(c.at, alignment);
    const tensors = infos.map((t) => {
        const size = ggmlTensorByteSize(t.type, t.dims.map(Number));
        const begin = dataStart + Number(t.offset);
        return { name: t.name, dims: t.dims, type: t.type, data: file.subarray(begin, begin + size) };
    });
    return { version, kvs, tensors };
}

/** A deep enough copy for mutation: entries are copied, tensor data buffers shared. */
export function cloneLayout(layout: GgufLayout): GgufLayout {
    return {
        version: layout.version,
        kvs: layout.kvs.map((kv) => ({ ...kv })),
        tensors: layout.tensors.map((t) => ({ ...t, dims: [...t.dims] })),
    };
}

export function layoutAlignment(layout: GgufLayout): number {
    const a = layout.kvs.find((kv) => kv.key === "general.alignment")?.value;
    return typeof a === "number" && a > 0 && (a & (a - 1)) === 0 ? a : GGUF_DEFAULT_ALIGNMENT;
}

// ---- writing --------------------------------------------------------------

class Sink {
    private chunks: Buffer[] = [];
    length = 0;
    readonly fields: HeaderField[] = [];
    push(b: Buffer): void {
        this.chunks.push(b);
        this.length += b.length;
    }
    u32(v: number, label?: string): void {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(v >>> 0);
        if (label !== undefined) this.fields.push({ at: this.length, size: 4, label });
        this.push(b);
    }
    u64(v: bigint, label?: string): void {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt.asUintN(64, v));
        if (label !== undefined) this.fields.push({ at: this.length, size: 8, label });
        this.push(b);
    }
    str(s: string, label?: string): void {
        const bytes = Buffer.from(s, "utf8");
        this.u64(BigInt(bytes.length), label);
        this.push(bytes);
    }
    value(type: GgufValueType, v: GgufValue, label: string, elementType?: GgufValueType): void {
        if (type === GgufValueType.ARRAY) {
            const items = Array.isArray(v) ? v : [v];
            this.u32(elementType ?? GgufValueType.INT32, `${label} element type`);
            this.u64(BigInt(items.length), `${label} element count`);
            items.forEach((item, k) => this.value(elementType ?? GgufValueType.INT32, item, k < 4 ? `${label}[${k}]` : "", undefined));
            return;
        }
        const b = Buffer.alloc(8);
        const num = typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : typeof v === "boolean" ? Number(v) : 0;
        const big = typeof v === "bigint" ? v : BigInt(Math.trunc(Number.isFinite(num) ? num : 0));
        switch (type) {
            case GgufValueType.UINT8:
            case GgufValueType.INT8:
            case GgufValueType.BOOL:
                b.writeUInt8(Number(BigInt.asUintN(8, big)));
                this.push(b.subarray(0, 1));
                return;
            case GgufValueType.UINT16:
            case GgufValueType.INT16:
                b.writeUInt16LE(Number(BigInt.asUintN(16, big)));
                this.push(b.subarray(0, 2));
                return;
            case GgufValueType.UINT32:
            case GgufValueType.INT32:
                if (label) this.fields.push({ at: this.length, size: 4, label });
                b.writeUInt32LE(Number(BigInt.asUintN(32, big)));
                this.push(b.subarray(0, 4));
                return;
            case GgufValueType.FLOAT32:
                b.writeFloatLE(num);
                this.push(b.subarray(0, 4));
                return;
            case GgufValueType.UINT64:
            case GgufValueType.INT64:
                if (label) this.fields.push({ at: this.length, size: 8, label });
                b.writeBigUInt64LE(BigInt.asUintN(64, big));
                this.push(b);
                return;
            case GgufValueType.FLOAT64:
                b.writeDoubleLE(num);
                this.push(b);
                return;
            case GgufValueType.STRING:
                this.str(typeof v === "string" ? v : String(v), label ? `${label} length` : undefined);
                return;
            default: {
                // an out-of-range type tag: write 4 arbitrary bytes
                this.push(Buffer.alloc(4));
                return;
            }
        }
    }
    concat(): Buffer {
        return Buffer.concat(this.chunks, this.length);
    }
}

const TOKENIZER_PREFIX = "tokenizer.ggml.";

/** Writes the layout as a GGUF file (header and data separately). */
export function serializeLayout(layout: GgufLayout): SerializedGguf {
    const s = new Sink();
    const boundaries: { at: number; label: string }[] = [];
    const smallKvRegions: [number, number][] = [];
    s.push(Buffer.from("GGUF", "latin1"));
    s.u32(layout.version, "version");
    s.u64(BigInt(layout.tensors.length), "tensor count");
    s.u64(BigInt(layout.kvs.length), "metadata count");
    boundaries.push({ at: s.length, label: "end of fixed header" });
    const metadataStart = s.length;
    for (const kv of layout.kvs) {
        s.str(kv.key, `key length of ${kv.key}`);
        s.u32(kv.type, `type of ${kv.key}`);
        const start = s.length;
        if (kv.raw !== undefined) {
            if (kv.type === GgufValueType.ARRAY) {
                s.fields.push({ at: s.length, size: 4, label: `${kv.key} element type` });
                s.fields.push({ at: s.length + 4, size: 8, label: `${kv.key} element count` });
                if (kv.elementType === GgufValueType.STRING) s.fields.push({ at: s.length + 12, size: 8, label: `${kv.key}[0] length` });
            } else if (kv.type === GgufValueType.STRING) {
                s.fields.push({ at: s.length, size: 8, label: `${kv.key} length` });
            } else if (kv.raw.length === 4 || kv.raw.length === 8) {
                s.fields.push({ at: s.length, size: kv.raw.length, label: `value of ${kv.key}` });
            }
            s.push(kv.raw);
        } else {
            s.value(kv.type, kv.value, kv.key, kv.elementType);
        }
        if (!kv.key.startsWith(TOKENIZER_PREFIX)) smallKvRegions.push([start - 12 - Buffer.byteLength(kv.key), s.length]);
        boundaries.push({ at: s.length, label: `after ${kv.key}` });
    }
    const tensorInfoStart = s.length;
    const alignment = layoutAlignment(layout);
    let offset = 0;
    const offsets: number[] = [];
    for (const t of layout.tensors) {
        offset = alignUp(offset, alignment);
        offsets.push(offset);
        offset += t.data.length;
    }
    layout.tensors.forEach((t, i) => {
        s.str(t.name, `name length of tensor ${t.name}`);
        s.u32(t.dims.length, `dimension count of ${t.name}`);
        t.dims.forEach((d, k) => s.u64(d, `dim ${k} of ${t.name}`));
        s.u32(t.type, `type of ${t.name}`);
        s.u64(t.offsetOverride ?? BigInt(offsets[i]!), `offset of ${t.name}`);
        boundaries.push({ at: s.length, label: `after tensor info ${t.name}` });
    });
    const tensorInfoEnd = s.length;
    const padded = alignUp(s.length, alignment);
    if (padded > s.length) s.push(Buffer.alloc(padded - s.length));
    const header = s.concat();
    const data: Buffer[] = [];
    let at = header.length;
    let pos = 0;
    layout.tensors.forEach((t, i) => {
        const o = offsets[i]!;
        if (o > pos) {
            data.push(Buffer.alloc(o - pos));
            at += o - pos;
            pos = o;
        }
        boundaries.push({ at, label: `start of data of ${t.name}` });
        data.push(t.data);
        at += t.data.length;
        pos += t.data.length;
    });
    boundaries.push({ at, label: "end of file" });
    return {
        header,
        data,
        fields: s.fields.filter((f) => f.label !== ""),
        boundaries,
        metadataRegion: [metadataStart, tensorInfoStart],
        tensorInfoRegion: [tensorInfoStart, tensorInfoEnd],
        smallKvRegions,
    };
}

export function serializedSize(s: SerializedGguf): number {
    return s.header.length + s.data.reduce((n, b) => n + b.length, 0);
}
