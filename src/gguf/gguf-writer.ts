/**
 * Streaming GGUF v3 writer. Metadata and the tensor table are collected in
 * memory (they are small); tensor data goes straight to a file descriptor in
 * declaration order, so models larger than memory can be written. Everything
 * is written to `<outPath>.tmp` and renamed over `outPath` only by finish(),
 * so a failed or aborted write never leaves a partial file at `outPath`.
 *
 * Usage: addKv…/addTensorInfo… → writeHeader() → writeTensorData() for each
 * tensor in order (one call, or several chunks that add up to its size) →
 * finish(). On failure call abort().
 */

import * as fs from "node:fs";

import { RewardModelError, invalidArgument } from "../errors.js";
import {
    GGUF_DEFAULT_ALIGNMENT,
    GGUF_MAGIC,
    GGUF_WRITE_VERSION,
    GgufValueType,
    alignUp,
    ggmlTensorByteSize,
    ggmlTypeName,
    isKnownGgmlType,
    type GgmlType,
    type GgufValue,
} from "./gguf-types.js";

/** Little-endian byte accumulator for the header. */
class ByteSink {
    private chunks: Buffer[] = [];
    private current = Buffer.alloc(1 << 16);
    private used = 0;
    private total = 0;

    get length(): number {
        return this.total;
    }

    private reserve(n: number): Buffer {
        if (this.used + n > this.current.length) {
            this.chunks.push(this.current.subarray(0, this.used));
            this.current = Buffer.alloc(Math.max(1 << 16, n));
            this.used = 0;
        }
        return this.current;
    }

    private advance(n: number): void {
        this.used += n;
        this.total += n;
    }

    u8(v: number): void {
        this.reserve(1).writeUInt8(v, this.used);
        this.advance(1);
    }
    i8(v: number): void {
        this.reserve(1).writeInt8(v, this.used);
        this.advance(1);
    }
    u16(v: number): void {
        this.reserve(2).writeUInt16LE(v, this.used);
        this.advance(2);
    }
    i16(v: number): void {
        this.reserve(2).writeInt16LE(v, this.used);
        this.advance(2);
    }
    u32(v: number): void {
        this.reserve(4).writeUInt32LE(v, this.used);
        this.advance(4);
    }
    i32(v: number): void {
        this.reserve(4).writeInt32LE(v, this.used);
        this.advance(4);
    }
    f32(v: number): void {
        this.reserve(4).writeFloatLE(v, this.used);
        this.advance(4);
    }
    f64(v: number): void {
        this.reserve(8).writeDoubleLE(v, this.used);
        this.advance(8);
    }
    u64(v: bigint): void {
        this.reserve(8).writeBigUInt64LE(v, this.used);
        this.advance(8);
    }
    i64(v: bigint): void {
        this.reserve(8).writeBigInt64LE(v, this.used);
        this.advance(8);
    }

    string(s: string): void {
        const bytes = Buffer.from(s, "utf8");
        this.u64(BigInt(bytes.length));
        this.bytes(bytes);
    }

    bytes(b: Uint8Array): void {
        this.reserve(b.length).set(b, this.used);
        this.advance(b.length);
    }

    zeros(n: number): void {
        this.reserve(n).fill(0, this.used, this.used + n);
        this.advance(n);
    }

    toBuffer(): Buffer {
        return Buffer.concat([...this.chunks, this.current.subarray(0, this.used)]);
    }
}

interface PendingTensor {
    readonly name: string;
    readonly shape: number[];
    readonly type: GgmlType;
    readonly offset: number;
    readonly byteSize: number;
}

type WriterState = "collecting" | "data" | "finished" | "aborted";

function misuse(message: string): RewardModelError {
    return invalidArgument(`GgufWriter: ${message}`);
}

function asBigInt(value: GgufValue, what: string): bigint {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
    throw misuse(`${what} must be a bigint or a safe integer, got ${String(value)}`);
}

function asNumber(value: GgufValue, what: string): number {
    if (typeof value === "number") return value;
    if (typeof value === "bigint") return Number(value);
    throw misuse(`${what} must be a number, got ${typeof value}`);
}

export interface GgufWriterOptions {
    /** Tensor data alignment; written as general.alignment when not 32. */
    alignment?: number;
}

export class GgufWriter {
    readonly outPath: string;
    readonly tmpPath: string;
    readonly alignment: number;

    private readonly kv = new ByteSink();
    private readonly keys = new Set<string>();
    private kvCount = 0;
    private readonly tensors: PendingTensor[] = [];
    private dataSize = 0; // running size of the data section (aligned offsets)
    private state: WriterState = "collecting";
    private fd: number | undefined;
    private filePos = 0;
    private dataStart = 0;
    private tensorIndex = 0; // tensor being written
    private tensorWritten = 0; // bytes of it written so far

    constructor(outPath: string, options: GgufWriterOptions = {}) {
        this.outPath = outPath;
        this.tmpPath = `${outPath}.tmp`;
        this.alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
        if (!Number.isInteger(this.alignment) || this.alignment <= 0 || (this.alignment & (this.alignment - 1)) !== 0) {
            throw misuse(`alignment must be a power of two, got ${this.alignment}`);
        }
        if (this.alignment !== GGUF_DEFAULT_ALIGNMENT) this.addU32("general.alignment", this.alignment);
    }

    // ---- metadata ---------------------------------------------------------

    /**
     * Adds a metadata entry. For arrays pass `elementType`; `value` must then
     * be an array whose elements match it. 64-bit integers accept bigint or
     * safe-integer numbers.
     */
    addKv(key: string, type: GgufValueType, value: GgufValue, elementType?: GgufValueType): this {
        this.expectState("collecting", "addKv");
        if (this.keys.has(key)) throw misuse(`duplicate metadata key ${key}`);
        if (type === GgufValueType.ARRAY && elementType === undefined) throw misuse(`array ${key} needs an element type`);
        this.keys.add(key);
        this.kv.string(key);
        this.kv.u32(type);
        this.writeValue(type, value, key, elementType);
        this.kvCount++;
        return this;
    }

    addString(key: string, value: string): this {
        return this.addKv(key, GgufValueType.STRING, value);
    }
    addU32(key: string, value: number): this {
        return this.addKv(key, GgufValueType.UINT32, value);
    }
    addI32(key: string, value: number): this {
        return this.addKv(key, GgufValueType.INT32, value);
    }
    addU64(key: string, value: bigint | number): this {
        return this.addKv(key, GgufValueType.UINT64, value);
    }
    addF32(key: string, value: number): this {
        return this.addKv(key, GgufValueType.FLOAT32, value);
    }
    addF64(key: string, value: number): this {
        return this.addKv(key, GgufValueType.FLOAT64, value);
    }
    addBool(key: string, value: boolean): this {
        return this.addKv(key, GgufValueType.BOOL, value);
    }
    addStringArray(key: string, values: readonly string[]): this {
        return this.addKv(key, GgufValueType.ARRAY, [...values], GgufValueType.STRING);
    }
    addI32Array(key: string, values: readonly number[]): this {
        return this.addKv(key, GgufValueType.ARRAY, [...values], GgufValueType.INT32);
    }
    addU32Array(key: string, values: readonly number[]): this {
        return this.addKv(key, GgufValueType.ARRAY, [...values], GgufValueType.UINT32);
    }
    addF32Array(key: string, values: readonly number[]): this {
        return this.addKv(key, GgufValueType.ARRAY, [...values], GgufValueType.FLOAT32);
    }

    private writeValue(type: GgufValueType, value: GgufValue, what: string, elementType?: GgufValueType): void {
        const k = this.kv;
        switch (type) {
            case GgufValueType.UINT8:
                k.u8(asNumber(value, what));
                return;
            case GgufValueType.INT8:
                k.i8(asNumber(value, what));
                return;
            case GgufValueType.UINT16:
                k.u16(asNumber(value, what));
                return;
            case GgufValueType.INT16:
                k.i16(asNumber(value, what));
                return;
            case GgufValueType.UINT32:
                k.u32(asNumber(value, what));
                return;
            case GgufValueType.INT32:
                k.i32(asNumber(value, what));
                return;
            case GgufValueType.FLOAT32:
                k.f32(asNumber(value, what));
                return;
            case GgufValueType.FLOAT64:
                k.f64(asNumber(value, what));
                return;
            case GgufValueType.UINT64:
                k.u64(asBigInt(value, what));
                return;
            case GgufValueType.INT64:
                k.i64(asBigInt(value, what));
                return;
            case GgufValueType.BOOL:
                if (typeof value !== "boolean") throw misuse(`${what} must be a boolean`);
                k.u8(value ? 1 : 0);
                return;
            case GgufValueType.STRING:
                if (typeof value !== "string") throw misuse(`${what} must be a string`);
                k.string(value);
                return;
            case GgufValueType.ARRAY: {
                if (!Array.isArray(value)) throw misuse(`${what} must be an array`);
                if (elementType === undefined) throw misuse(`${what} needs an element type`);
                if (elementType === GgufValueType.ARRAY) throw misuse(`${what}: nested arrays are not supported`);
                k.u32(elementType);
                k.u64(BigInt(value.length));
                for (const v of value) this.writeValue(elementType, v, what);
                return;
            }
            default:
                throw misuse(`${what}: unknown value type ${String(type)}`);
        }
    }

    // ---- tensor table -----------------------------------------------------

    /** Declares a tensor (ggml ne order shape). Data must later be written in declaration order. */
    addTensorInfo(name: string, shape: readonly number[], type: GgmlType): this {
        this.expectState("collecting", "addTensorInfo");
        if (this.tensors.some((t) => t.name === name)) throw misuse(`duplicate tensor ${name}`);
        if (!isKnownGgmlType(type)) throw misuse(`tensor ${name}: unknown ggml type ${String(type)}`);
        if (shape.length < 1 || shape.length > 4 || shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
            throw misuse(`tensor ${name}: bad shape [${shape.join(", ")}]`);
        }
        let byteSize: number;
        try {
            byteSize = ggmlTensorByteSize(type, shape);
        } catch (e) {
            throw misuse(`tensor ${name} (${ggmlTypeName(type)}): ${(e as Error).message}`);
        }
        const offset = alignUp(this.dataSize, this.alignment);
        this.tensors.push({ name, shape: [...shape], type, offset, byteSize });
        this.dataSize = offset + byteSize;
        return this;
    }

    /** Total file size once finished. Valid after writeHeader(). */
    get expectedFileSize(): number {
        return this.dataStart + alignUp(this.dataSize, this.alignment);
    }

    // ---- writing ----------------------------------------------------------

    /** Opens `<outPath>.tmp` and writes the header, the metadata and the tensor table. */
    writeHeader(): void {
        this.expectState("collecting", "writeHeader");
        const head = new ByteSink();
        head.u32(GGUF_MAGIC);
        head.u32(GGUF_WRITE_VERSION);
        head.u64(BigInt(this.tensors.length));
        head.u64(BigInt(this.kvCount));
        head.bytes(this.kv.toBuffer());
        for (const t of this.tensors) {
            head.string(t.name);
            head.u32(t.shape.length);
            for (const d of t.shape) head.u64(BigInt(d));
            head.u32(t.type);
            head.u64(BigInt(t.offset));
        }
        head.zeros(alignUp(head.length, this.alignment) - head.length);
        this.dataStart = head.length;

        try {
            this.fd = fs.openSync(this.tmpPath, "w");
        } catch (cause) {
            throw new RewardModelError("ERR_CONVERT_FAILED", `Cannot create ${this.tmpPath}: ${(cause as Error).message}`, { cause });
        }
        this.state = "data";
        this.write(head.toBuffer());
    }

    /**
     * Appends data of tensor `name`, which must be the next tensor in
     * declaration order. The data may come in several chunks; a tensor is
     * complete once its byte size has been written, and no chunk may overrun it.
     */
    writeTensorData(name: string, data: Uint8Array): void {
        this.expectState("data", "writeTensorData");
        let t = this.tensors[this.tensorIndex];
        if (t !== undefined && this.tensorWritten === t.byteSize) {
            this.tensorIndex++;
            this.tensorWritten = 0;
            t = this.tensors[this.tensorIndex];
        }
        if (t === undefined) throw misuse(`tensor ${name} written after all tensors were complete`);
        if (t.name !== name) {
            throw misuse(
                this.tensorWritten > 0
                    ? `tensor ${t.name} is incomplete (${this.tensorWritten} of ${t.byteSize} bytes) when data for ${name} arrived`
                    : `expected data for tensor ${t.name}, got ${name} (tensors must be written in declaration order)`,
            );
        }
        if (this.tensorWritten + data.byteLength > t.byteSize) {
            throw misuse(`tensor ${name} needs ${t.byteSize} bytes, got ${this.tensorWritten + data.byteLength}`);
        }
        if (this.tensorWritten === 0) this.padTo(this.dataStart + t.offset);
        this.write(data);
        this.tensorWritten += data.byteLength;
    }

    /** Checks every tensor is complete, pads the file, closes it and renames it to `outPath`. */
    finish(): void {
        this.expectState("data", "finish");
        const last = this.tensors.length - 1;
        const complete = this.tensors.length === 0 || (this.tensorIndex === last && this.tensorWritten === this.tensors[last]!.byteSize);
        if (!complete) {
            const t = this.tensors[this.tensorIndex]!;
            const missing = this.tensorWritten === t.byteSize ? this.tensors[this.tensorIndex + 1]! : t;
            throw misuse(`finish() before tensor ${missing.name} was written`);
        }
        this.padTo(this.expectedFileSize);
        try {
            fs.fsyncSync(this.fd!);
            fs.closeSync(this.fd!);
            this.fd = undefined;
            fs.renameSync(this.tmpPath, this.outPath);
        } catch (cause) {
            throw new RewardModelError("ERR_CONVERT_FAILED", `Cannot finish ${this.outPath}: ${(cause as Error).message}`, { cause });
        }
        this.state = "finished";
    }

    /** Closes and deletes the temporary file. Safe to call at any time, and more than once. */
    abort(): void {
        if (this.state === "finished") return;
        this.state = "aborted";
        if (this.fd !== undefined) {
            try {
                fs.closeSync(this.fd);
            } catch {
                /* already closed */
            }
            this.fd = undefined;
        }
        fs.rmSync(this.tmpPath, { force: true });
    }

    private padTo(position: number): void {
        if (position > this.filePos) this.write(new Uint8Array(position - this.filePos));
    }

    private write(data: Uint8Array): void {
        let done = 0;
        try {
            while (done < data.byteLength) {
                done += fs.writeSync(this.fd!, data, done, data.byteLength - done, this.filePos + done);
            }
        } catch (cause) {
            throw new RewardModelError("ERR_CONVERT_FAILED", `Cannot write ${this.tmpPath}: ${(cause as Error).message}`, { cause });
        }
        this.filePos += data.byteLength;
    }

    private expectState(state: WriterState, what: string): void {
        if (this.state !== state) throw misuse(`${what}() is not allowed when the writer is ${this.state}`);
    }
}
