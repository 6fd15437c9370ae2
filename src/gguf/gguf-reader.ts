/**
 * GGUF reader: parses the header (metadata and tensor table) of a GGUF v2/v3
 * file with small synchronous chunked reads and validates it against the
 * file size. It never reads tensor data (src/gguf/gguf-tensor-reader.ts
 * reads single tensors back).
 */

import * as fs from "node:fs";

import { RewardModelError } from "../errors.js";
import {
    GGUF_DEFAULT_ALIGNMENT,
    GGUF_MAGIC,
    GGUF_SCALAR_SIZE,
    GGUF_SUPPORTED_VERSIONS,
    GgufValueType,
    alignUp,
    ggmlTensorByteSize,
    ggmlTypeName,
    isKnownGgmlType,
    type GgufHeader,
    type GgufTensorInfo,
    type GgufValue,
    type GgufValueTypeInfo,
} from "./gguf-types.js";

const CHUNK_SIZE = 1 << 20;
/** ggml tensors have at most 4 dimensions. */
const MAX_DIMS = 4;
/** Smallest possible encodings, used to reject absurd counts before allocating. */
const MIN_KV_BYTES = 8 + 4 + 1; // key length, value type, 1-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8; // name length, n_dims, type, offset
/** Longest key or tensor name accepted (llama.cpp's own limit is far lower). */
const MAX_NAME_BYTES = 65535;

function corrupt(path: string, detail: string): RewardModelError {
    return new RewardModelError("ERR_CORRUPT_MODEL", `Corrupt GGUF file ${path}: ${detail}`);
}

/** Sequential little-endian reader over a file descriptor, refilled in chunks. */
class ChunkedReader {
    private buffer = Buffer.alloc(CHUNK_SIZE);
    private start = 0; // file offset of buffer[0]
    private length = 0; // valid bytes in buffer
    private cursor = 0; // read position inside buffer

    constructor(
        private readonly fd: number,
        private readonly path: string,
        readonly fileSize: number,
    ) {}

    /** Absolute file offset of the next byte to read. */
    get position(): number {
        return this.start + this.cursor;
    }

    get remaining(): number {
        return this.fileSize - this.position;
    }

    /** Makes `n` bytes available at the cursor or fails as a read past EOF. */
    private ensure(n: number, what: string): void {
        if (this.cursor + n <= this.length) return;
        if (n > this.remaining) {
            throw corrupt(this.path, `unexpected end of file reading ${what} at offset ${this.position} (file has ${this.fileSize} bytes)`);
        }
        const keep = this.length - this.cursor;
        const capacity = Math.max(CHUNK_SIZE, n);
        const next = capacity > this.buffer.length ? Buffer.alloc(capacity) : this.buffer;
        this.buffer.copy(next, 0, this.cursor, this.length);
        this.buffer = next;
        this.start += this.cursor;
        this.cursor = 0;
        this.length = keep;
        while (this.length < n) {
            const got = fs.readSync(this.fd, this.buffer, this.length, this.buffer.length - this.length, this.start + this.length);
            if (got === 0) {
                throw corrupt(this.path, `unexpected end of file reading ${what} at offset ${this.position}`);
            }
            this.length += got;
        }
    }

    u8(what: string): number {
        this.ensure(1, what);
        return this.buffer.readUInt8(this.cursor++);
    }

    i8(what: string): number {
        this.ensure(1, what);
        return this.buffer.readInt8(this.cursor++);
    }

    u16(what: string): number {
        this.ensure(2, what);
        const v = this.buffer.readUInt16LE(this.cursor);
        this.cursor += 2;
        return v;
    }

    i16(what: string): number {
        this.ensure(2, what);
        const v = this.buffer.readInt16LE(this.cursor);
        this.cursor += 2;
        return v;
    }

    u32(what: string): number {
        this.ensure(4, what);
        const v = this.buffer.readUInt32LE(this.cursor);
        this.cursor += 4;
        return v;
    }

    i32(what: string): number {
        this.ensure(4, what);
        const v = this.buffer.readInt32LE(this.cursor);
        this.cursor += 4;
        return v;
    }

    f32(what: string): number {
        this.ensure(4, what);
        const v = this.buffer.readFloatLE(this.cursor);
        this.cursor += 4;
        return v;
    }

    f64(what: string): number {
        this.ensure(8, what);
        const v = this.buffer.readDoubleLE(this.cursor);
        this.cursor += 8;
        return v;
    }

    u64(what: string): bigint {
        this.ensure(8, what);
        const v = this.buffer.readBigUInt64LE(this.cursor);
        this.cursor += 8;
        return v;
    }

    i64(what: string): bigint {
        this.ensure(8, what);
        const v = this.buffer.readBigInt64LE(this.cursor);
        this.cursor += 8;
        return v;
    }

    /** A u64 that must fit in `max` (and in a JS number) to be plausible. */
    count(what: string, max: number): number {
        const at = this.position;
        const v = this.u64(what);
        if (v > BigInt(max)) {
            throw corrupt(
                this.path,
                `${what} ${v} at offset ${at} is implausible: the file (${this.fileSize} bytes) cannot hold it (truncated or corrupt)`,
            );
        }
        return Number(v);
    }

    /** A GGUF string: u64 byte length, then UTF-8 bytes. */
    string(what: string, maxBytes = Number.MAX_SAFE_INTEGER): string {
        const n = this.count(`${what} length`, Math.min(maxBytes, this.remaining - 8));
        this.ensure(n, what);
        const s = this.buffer.toString("utf8", this.cursor, this.cursor + n);
        this.cursor += n;
        return s;
    }
}

function openForReading(path: string): { fd: number; fileSize: number } {
    if (typeof path !== "string" || path.length === 0) {
        throw new RewardModelError("ERR_MODEL_NOT_FOUND", `Model path must be a non-empty string, got ${JSON.stringify(path)}`);
    }
    let stat: fs.Stats;
    try {
        stat = fs.statSync(path);
    } catch (cause) {
        throw new RewardModelError("ERR_MODEL_NOT_FOUND", `Model file not found: ${path}`, { cause });
    }
    if (stat.isDirectory()) {
        throw new RewardModelError("ERR_MODEL_NOT_FOUND", `Model path is a directory, not a GGUF file: ${path}`);
    }
    if (!stat.isFile()) {
        throw new RewardModelError("ERR_MODEL_NOT_FOUND", `Model path is not a regular file: ${path}`);
    }
    try {
        return { fd: fs.openSync(path, "r"), fileSize: stat.size };
    } catch (cause) {
        throw new RewardModelError("ERR_MODEL_NOT_FOUND", `Model file cannot be opened: ${path} (${(cause as Error).message})`, { cause });
    }
}

function readScalar(r: ChunkedReader, type: GgufValueType, what: string): GgufValue {
    switch (type) {
        case GgufValueType.UINT8:
            return r.u8(what);
        case GgufValueType.INT8:
            return r.i8(what);
        case GgufValueType.UINT16:
            return r.u16(what);
        case GgufValueType.INT16:
            return r.i16(what);
        case GgufValueType.UINT32:
            return r.u32(what);
        case GgufValueType.INT32:
            return r.i32(what);
        case GgufValueType.FLOAT32:
            return r.f32(what);
        case GgufValueType.BOOL:
            return r.u8(what) !== 0;
        case GgufValueType.STRING:
            return r.string(what);
        case GgufValueType.UINT64:
            return r.u64(what);
        case GgufValueType.INT64:
            return r.i64(what);
        case GgufValueType.FLOAT64:
            return r.f64(what);
        default:
            throw new Error(`not a scalar type ${type}`);
    }
}

function checkValueType(path: string, type: number, what: string, at: number): asserts type is GgufValueType {
    if (!Number.isInteger(type) || type < 0 || type > GgufValueType.FLOAT64) {
        throw corrupt(path, `unknown metadata value type ${type} for ${what} at offset ${at}`);
    }
}

function readValue(r: ChunkedReader, path: string, type: GgufValueType, what: string, depth: number): GgufValue {
    if (type !== GgufValueType.ARRAY) return readScalar(r, type, what);
    return readArrayBody(r, path, readElementType(r, path, what), what, depth);
}

function readElementType(r: ChunkedReader, path: string, what: string): GgufValueType {
    const at = r.position;
    const elementType = r.u32(`${what} element type`);
    checkValueType(path, elementType, `${what} elements`, at);
    return elementType;
}

/** The part of an array after its element type: u64 count, then the elements. */
function readArrayBody(r: ChunkedReader, path: string, elementType: GgufValueType, what: string, depth: number): GgufValue[] {
    if (depth > 8) throw corrupt(path, `arrays nested too deeply in ${what}`);
    const minElementBytes =
        elementType === GgufValueType.STRING ? 8 : elementType === GgufValueType.ARRAY ? 12 : GGUF_SCALAR_SIZE[elementType]!;
    const n = r.count(`${what} element count`, Math.floor(r.remaining / minElementBytes));
    const values: GgufValue[] = new Array(n);
    for (let i = 0; i < n; i++) values[i] = readValue(r, path, elementType, what, depth + 1);
    return values;
}

/**
 * Reads and validates the header of the GGUF file at `path`: metadata, tensor
 * table, alignment, and the start of the data section. Every tensor must lie
 * inside the file.
 */
export function readGgufHeader(path: string): GgufHeader {
    const { fd, fileSize } = openForReading(path);
    try {
        return parseHeader(fd, path, fileSize);
    } finally {
        fs.closeSync(fd);
    }
}

function parseHeader(fd: number, path: string, fileSize: number): GgufHeader {
    if (fileSize < 8) {
        throw new RewardModelError("ERR_NOT_GGUF", `Not a GGUF file: ${path} (only ${fileSize} bytes)`);
    }
    const r = new ChunkedReader(fd, path, fileSize);
    const magic = r.u32("magic");
    if (magic !== GGUF_MAGIC) {
        throw new RewardModelError(
            "ERR_NOT_GGUF",
            `Not a GGUF file: ${path} (magic 0x${magic.toString(16).padStart(8, "0")}, expected "GGUF")`,
        );
    }
    const version = r.u32("version");
    if (!GGUF_SUPPORTED_VERSIONS.includes(version)) {
        const hint = version > 0xffff && (version & 0xffff) === 0 ? " (big-endian files are not supported)" : "";
        throw new RewardModelError(
            "ERR_NOT_GGUF",
            `Unsupported GGUF version ${version} in ${path}${hint}; versions ${GGUF_SUPPORTED_VERSIONS.join(" and ")} are supported`,
        );
    }

    const tensorCount = r.count("tensor count", Math.floor((fileSize - 24) / MIN_TENSOR_INFO_BYTES));
    const kvCount = r.count("metadata count", Math.floor((fileSize - 24) / MIN_KV_BYTES));

    const metadata = new Map<string, GgufValue>();
    const metadataTypes = new Map<string, GgufValueTypeInfo>();
    for (let i = 0; i < kvCount; i++) {
        const key = r.string(`metadata key #${i}`, MAX_NAME_BYTES);
        if (metadata.has(key)) throw corrupt(path, `duplicate metadata key "${key}"`);
        const at = r.position;
        const type = r.u32(`type of ${key}`);
        checkValueType(path, type, key, at);
        let elementType: GgufValueType | undefined;
        if (type === GgufValueType.ARRAY) {
            elementType = readElementType(r, path, key);
            metadata.set(key, readArrayBody(r, path, elementType, key, 0));
        } else {
            metadata.set(key, readScalar(r, type, key));
        }
        metadataTypes.set(key, elementType === undefined ? { type } : { type, elementType });
    }

    let alignment = GGUF_DEFAULT_ALIGNMENT;
    if (metadata.has("general.alignment")) {
        const a = metadata.get("general.alignment");
        if (
            metadataTypes.get("general.alignment")!.type !== GgufValueType.UINT32 ||
            typeof a !== "number" ||
            a === 0 ||
            (a & (a - 1)) !== 0
        ) {
            throw corrupt(path, `general.alignment must be a u32 power of two, got ${String(a)}`);
        }
        alignment = a;
    }

    const tensors: GgufTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
        const name = r.string(`tensor name #${i}`, MAX_NAME_BYTES);
        if (names.has(name)) throw corrupt(path, `duplicate tensor name "${name}"`);
        names.add(name);
        const nDims = r.u32(`dimension count of ${name}`);
        if (nDims > MAX_DIMS) throw corrupt(path, `tensor ${name} has ${nDims} dimensions (at most ${MAX_DIMS})`);
        const shape: number[] = [];
        let elements = 1;
        for (let d = 0; d < nDims; d++) {
            const ne = r.count(`dimension ${d} of ${name}`, Number.MAX_SAFE_INTEGER);
            shape.push(ne);
            elements *= ne;
        }
        if (!Number.isSafeInteger(elements)) throw corrupt(path, `tensor ${name} has an absurd shape [${shape.join(", ")}]`);
        const type = r.u32(`type of ${name}`);
        if (!isKnownGgmlType(type)) throw corrupt(path, `tensor ${name} has unknown ggml type ${type}`);
        const offset = r.count(`data offset of ${name}`, Number.MAX_SAFE_INTEGER);
        if (offset % alignment !== 0) {
            throw corrupt(path, `tensor ${name} data offset ${offset} is not a multiple of the alignment ${alignment}`);
        }
        let byteSize: number;
        try {
            byteSize = ggmlTensorByteSize(type, shape);
        } catch (e) {
            throw corrupt(path, `tensor ${name} [${shape.join(", ")}] ${ggmlTypeName(type)}: ${(e as Error).message}`);
        }
        tensors.push({ name, shape, type, offset, byteSize });
    }

    const dataOffset = alignUp(r.position, alignment);
    let expected = dataOffset;
    for (const t of tensors) expected = Math.max(expected, dataOffset + t.offset + t.byteSize);
    if (tensors.length > 0 && expected > fileSize) {
        throw new RewardModelError(
            "ERR_CORRUPT_MODEL",
            `GGUF file ${path} is truncated (expected ${expected} bytes, file has ${fileSize})`,
        );
    }
    return { version, metadata, metadataTypes, tensors, alignment, dataOffset, fileSize };
}
