/**
 * ggml's Q8_0 quantization, bit-exact with its reference implementation:
 * blocks of 32 values stored as an f16 scale d = max|x| / 127 followed by 32
 * signed bytes round(x / d), rounding halves away from zero. All arithmetic
 * is float32, as in C.
 */

import { float32ToF16 } from "../gguf/float16.js";

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

const f = Math.fround;

/** C's roundf: nearest integer, halves away from zero. */
function roundHalfAway(v: number): number {
    return v >= 0 ? Math.floor(v + 0.5) : -Math.floor(-v + 0.5);
}

/** Quantizes `values` (a multiple of 32 long) into Q8_0 blocks. */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
    if (values.length % Q8_0_BLOCK !== 0) throw new RangeError(`Q8_0 needs a multiple of ${Q8_0_BLOCK} values, got ${values.length}`);
    const blocks = values.length / Q8_0_BLOCK;
    const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
    const view = new DataView(out.buffer);
    const qs = new Int8Array(out.buffer);
    for (let b = 0; b < blocks; b++) {
        const base = b * Q8_0_BLOCK;
        let amax = 0;
        for (let j = 0; j < Q8_0_BLOCK; j++) {
            const a = Math.abs(values[base + j]!);
            if (a > amax) amax = a;
        }
        const d = f(amax / 127);
        const id = d !== 0 ? f(1 / d) : 0;
        const at = b * Q8_0_BLOCK_BYTES;
        view.setUint16(at, float32ToF16(d), true);
        for (let j = 0; j < Q8_0_BLOCK; j++) qs[at + 2 + j] = roundHalfAway(f(values[base + j]! * id));
    }
    return out;
}
