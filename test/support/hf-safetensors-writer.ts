/**
 * Test-side safetensors writer: tensors (float32 values, written as F32, F16
 * or BF16) into one `model.safetensors` or into shards with a
 * `model.safetensors.index.json`, byte-for-byte in the format's layout
 * (u64 header length, JSON header, packed data). Large tensors can be
 * produced row block by row block through a callback, so multi-GB test
 * checkpoints never sit in memory.
 */
import fs from "node:fs";
import path from "node:path";
import { float32ToBf16, float32ToF16 } from "../../src/gguf/float16.js";

export type HfDtype = "F32" | "F16" | "BF16";

export interface HfTensorSource {
    name: string;
    dtype: HfDtype;
    /** PyTorch order. */
    shape: number[];
    /** Fills values[0..n) with elements [start, start + n) of the tensor (row-major). */
    fill: (values: Float32Array, start: number) => void;
}

const ELEMENT_SIZE: Record<HfDtype, number> = { F32: 4, F16: 2, BF16: 2 };

function elementCount(shape: number[]): number {
    return shape.reduce((a, b) => a * b, 1);
}

function encode(values: Float32Array, dtype: HfDtype): Uint8Array {
    if (dtype === "F32") return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const out = new Uint16Array(values.length);
    const conv = dtype === "F16" ? float32ToF16 : float32ToBf16;
    for (let i = 0; i < values.length; i++) out[i] = conv(values[i]!);
    return new Uint8Array(out.buffer);
}

/** Writes one safetensors file holding `tensors`, in order. */
export function writeSafetensorsFile(file: string, tensors: HfTensorSource[], metadata: Record<string, string> = { format: "pt" }): void {
    const header: Record<string, unknown> = { __metadata__: metadata };
    let offset = 0;
    for (const t of tensors) {
        const bytes = elementCount(t.shape) * ELEMENT_SIZE[t.dtype];
        header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
        offset += bytes;
    }
    let json = Buffer.from(JSON.stringify(header), "utf8");
    const pad = (8 - (json.length % 8)) % 8; // the format pads the header with spaces to 8 bytes
    json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
    const fd = fs.openSync(file, "w");
    try {
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(json.length));
        fs.writeSync(fd, len);
        fs.writeSync(fd, json);
        const block = 1 << 22; // elements per write
        for (const t of tensors) {
            const n = elementCount(t.shape);
            const values = new Float32Array(Math.min(n, block));
            for (let start = 0; start < n; start += block) {
                const m = Math.min(block, n - start);
                const view = values.subarray(0, m);
                t.fill(view, start);
                fs.writeSync(fd, encode(view, t.dtype));
            }
        }
    } finally {
        fs.closeSync(fd);
    }
}

/**
 * Writes `tensors` into `dir` as `model.safetensors` (shards = 1) or as
 * `model-0000i-of-0000n.safetensors` shards plus the index (shards > 1),
 * splitting the list into `shards` contiguous groups.
 */
export function writeSafetensorsCheckpoint(dir: string, tensors: HfTensorSource[], shards = 1): void {
    if (shards <= 1) {
        writeSafetensorsFile(path.join(dir, "model.safetensors"), tensors);
        return;
    }
    const per = Math.ceil(tensors.length / shards);
    const weightMap: Record<string, string> = {};
    let total = 0;
    for (let s = 0; s < shards; s++) {
        const part = tensors.slice(s * per, (s + 1) * per);
        const name = `model-${String(s + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
        writeSafetensorsFile(path.join(dir, name), part);
        for (const t of part) {
            weightMap[t.name] = name;
            total += elementCount(t.shape) * ELEMENT_SIZE[t.dtype];
        }
    }
    fs.writeFileSync(
        path.join(dir, "model.safetensors.index.json"),
        JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
    );
}
