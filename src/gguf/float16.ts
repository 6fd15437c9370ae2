/**
 * Half-precision conversions: IEEE binary16 (ggml F16) and bfloat16 (ggml BF16)
 * to and from float32, rounding to nearest, ties to even. Values given as JS
 * numbers are first rounded to float32, as a float32 tensor would hold them.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bit pattern of `value` rounded to float32. */
export function float32Bits(value: number): number {
    f32[0] = value;
    return u32[0]!;
}

/** The float32 with the given bit pattern. */
export function float32FromBits(bits: number): number {
    u32[0] = bits >>> 0;
    return f32[0]!;
}

/** float32 → binary16 bits, round to nearest even; overflow gives ±Inf, NaN stays NaN. */
export function float32ToF16(value: number): number {
    const x = float32Bits(value);
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;

    if (exp === 0xff) {
        // Inf stays Inf; NaN keeps its top payload bits and is forced quiet.
        return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
    }

    const e = exp - 127 + 15; // exponent re-biased for binary16
    if (e >= 31) return sign | 0x7c00;

    if (e <= 0) {
        // Result is subnormal (or zero): value = half * 2^-24.
        if (e < -10) return sign;
        const m = mant | 0x800000; // implicit leading one
        const shift = 14 - e;
        let half = m >>> shift;
        const rem = m & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
        return sign | half; // a carry into bit 10 yields the smallest normal, as it should
    }

    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry may reach Inf, correctly
    return sign | half;
}

/** binary16 bits → its (exact) float32 value. */
export function f16ToFloat32(h: number): number {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) return sign * mant * 2 ** -24;
    if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
    return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 → bfloat16 bits, round to nearest even; NaN stays NaN. */
export function float32ToBf16(value: number): number {
    const x = float32Bits(value);
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) {
        return ((x >>> 16) | 0x40) & 0xffff;
    }
    const roundingBias = 0x7fff + ((x >>> 16) & 1);
    return ((x + roundingBias) >>> 16) & 0xffff;
}

/** bfloat16 bits → its (exact) float32 value. */
export function bf16ToFloat32(b: number): number {
    return float32FromBits((b & 0xffff) << 16);
}

/** Converts a whole float32 array to binary16 bits. */
export function float32ArrayToF16(values: ArrayLike<number>): Uint16Array {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = float32ToF16(values[i]!);
    return out;
}

/** Converts a whole float32 array to bfloat16 bits. */
export function float32ArrayToBf16(values: ArrayLike<number>): Uint16Array {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = float32ToBf16(values[i]!);
    return out;
}
