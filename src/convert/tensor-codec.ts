/**
 * Element conversion for the converter: safetensors bytes (F32, F16, BF16)
 * to float32, and float32 to the ggml storage types the converter writes
 * (F32, F16, BF16, Q8_0). Rounding is to nearest even, as PyTorch and numpy
 * do in llama.cpp's converter. Works on row chunks, never whole tensors.
 */

import { f16ToFloat32, float32ArrayToBf16, float32ArrayToF16 } from "../gguf/float16.js";
import { GgmlType } from "../gguf/gguf-types.js";
import { quantizeQ8_0 } from "./q8-0.js";
import type { SafetensorsDtype } from "./safetensors.js";

/** The ggml type that stores a safetensors dtype unchanged. */
export const GGML_TYPE_OF_DTYPE: Readonly<Record<SafetensorsDtype, GgmlType>> = {
    F32: GgmlType.F32,
    F16: GgmlType.F16,
    BF16: GgmlType.BF16,
};

/** Source bytes (little-endian) → float32 values. */
export function decodeToFloat32(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    switch (dtype) {
        case "F32":
            return new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.byteLength));
        case "BF16": {
            const src = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
            const bits = new Uint32Array(src.length);
            for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
            return new Float32Array(bits.buffer);
        }
        case "F16": {
            const src = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
            const out = new Float32Array(src.length);
            for (let i = 0; i < src.length; i++) out[i] = f16ToFloat32(src[i]!);
            return out;
        }
    }
}

/** float32 values → bytes of ggml type `type` (F32, F16, BF16 or Q8_0). */
export function encodeFromFloat32(values: Float32Array, type: GgmlType): Uint8Array {
    switch (type) {
        case GgmlType.F32:
            return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
        case GgmlType.F16:
            return new Uint8Array(float32ArrayToF16(values).buffer);
        case GgmlType.BF16:
            return new Uint8Array(float32ArrayToBf16(values).buffer);
        case GgmlType.Q8_0:
            return quantizeQ8_0(values);
        default:
            throw new RangeError(`the converter cannot write ggml type ${GgmlType[type] ?? type}`);
    }
}

/** Converts a chunk of source bytes to bytes of `type`, copying when no conversion is needed. */
export function convertChunk(bytes: Uint8Array, dtype: SafetensorsDtype, type: GgmlType): Uint8Array {
    if (GGML_TYPE_OF_DTYPE[dtype] === type) return bytes;
    return encodeFromFloat32(decodeToFloat32(bytes, dtype), type);
}
