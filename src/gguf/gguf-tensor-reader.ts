/**
 * Reads single tensors of a GGUF file back as float64 (F32, F16, BF16, F64,
 * Q8_0): the package reads a reward head this way (train-head's --init), and
 * the tests, the reference forward pass (test/reference/) and the benchmark's
 * node-llama-cpp worker read weights. The header comes from
 * src/gguf/gguf-reader.ts.
 */
import fs from "node:fs";
import { RewardModelError, invalidArgument } from "../errors.js";
import { bf16ToFloat32, f16ToFloat32 } from "./float16.js";
import { GGML_TYPE_LAYOUT, GgmlType, ggmlTypeName, type GgufHeader, type GgufTensorInfo } from "./gguf-types.js";

/**
 * Reads tensor `name` of the file described by `header` and dequantizes it to
 * float64, in storage order (ne[0] fastest). Supports F32, F16, BF16, Q8_0 and F64.
 */
export function readTensorAsFloat64(path: string, header: GgufHeader, name: string): Float64Array {
    const info = header.tensors.find((t) => t.name === name);
    if (info === undefined) {
        throw invalidArgument(`Tensor ${name} not found in ${path}`);
    }
    const fd = fs.openSync(path, "r");
    let raw: Buffer;
    try {
        raw = Buffer.alloc(info.byteSize);
        let done = 0;
        while (done < info.byteSize) {
            const got = fs.readSync(fd, raw, done, info.byteSize - done, header.dataOffset + info.offset + done);
            if (got === 0) throw new RewardModelError("ERR_CORRUPT_MODEL", `${path}: unexpected end of file reading tensor ${name}`);
            done += got;
        }
    } finally {
        fs.closeSync(fd);
    }
    return dequantize(raw, info, path);
}

/** Dequantizes raw tensor bytes to float64. */
export function dequantize(raw: Uint8Array, info: Pick<GgufTensorInfo, "name" | "shape" | "type">, path = "<memory>"): Float64Array {
    let n = 1;
    for (const d of info.shape) n *= d;
    const out = new Float64Array(n);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    switch (info.type) {
        case GgmlType.F32:
            for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
            return out;
        case GgmlType.F64:
            for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
            return out;
        case GgmlType.F16:
            for (let i = 0; i < n; i++) out[i] = f16ToFloat32(view.getUint16(i * 2, true));
            return out;
        case GgmlType.BF16:
            for (let i = 0; i < n; i++) out[i] = bf16ToFloat32(view.getUint16(i * 2, true));
            return out;
        case GgmlType.Q8_0: {
            // Block of 32: an f16 scale d, then 32 signed bytes q; value = d * q.
            const { blockSize, typeSize } = GGML_TYPE_LAYOUT[GgmlType.Q8_0];
            for (let b = 0; b < n / blockSize; b++) {
                const base = b * typeSize;
                const d = f16ToFloat32(view.getUint16(base, true));
                for (let j = 0; j < blockSize; j++) out[b * blockSize + j] = d * view.getInt8(base + 2 + j);
            }
            return out;
        }
        default:
            throw new RewardModelError(
                "ERR_INVALID_OPTION",
                `Tensor ${info.name} in ${path} has type ${ggmlTypeName(info.type)}; only F32, F16, BF16, F64 and Q8_0 can be read as float64`,
            );
    }
}
