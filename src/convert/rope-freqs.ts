/**
 * The `rope_freqs.weight` tensor for Llama 3.1-style "llama3" RoPE scaling:
 * one factor per rotated pair, by which llama.cpp divides that pair's
 * frequency. The values follow llama.cpp's converter, which evaluates the
 * formula on float32 PyTorch tensors; every step here is rounded to float32
 * the way those tensor operations round, so the factors match bit for bit.
 */

import type { Llama3RopeScaling } from "./hf-config.js";

const f = Math.fround;

/**
 * Factors for a head of `headDim` dimensions (headDim / 2 values):
 * 1 for high frequencies, `factor` for low ones, and a smooth blend between.
 */
export function llama3RopeFactors(headDim: number, ropeTheta: number, scaling: Llama3RopeScaling): Float32Array {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldContext } = scaling;
    // These three are Python floats (double) in the reference computation.
    const lowFreqWavelen = oldContext / lowFreqFactor;
    const highFreqWavelen = oldContext / highFreqFactor;
    const factorSpan = f(highFreqFactor - lowFreqFactor);
    const twoPi = f(2 * Math.PI);
    const base = f(ropeTheta);

    const out = new Float32Array(headDim / 2);
    for (let i = 0; i < out.length; i++) {
        // freqs = 1.0 / (base ** (arange(0, dim, 2) / dim)); a scalar divided by a
        // tensor is the tensor's reciprocal times the scalar.
        const exponent = f((2 * i) / headDim);
        const freq = f(1 / f(Math.pow(base, exponent)));
        const wavelen = f(f(1 / freq) * twoPi);
        if (wavelen < highFreqWavelen) {
            out[i] = 1;
        } else if (wavelen > lowFreqWavelen) {
            out[i] = factor;
        } else {
            const ratio = f(f(1 / wavelen) * f(oldContext));
            const smooth = f(f(ratio - f(lowFreqFactor)) / factorSpan);
            out[i] = f(1 / f(f(f(1 - smooth) / f(factor)) + smooth));
        }
    }
    return out;
}
