/**
 * Independent float64 reference forward pass of a llama-architecture GGUF
 * reward model, written from the math (not from any engine's code). It is the
 * parity oracle for the native engine:
 *
 *   reward = W_cls · rmsnorm_final(decoder(tokens))[last token] (+ b_cls)
 *
 * Conventions (as GGUF stores llama):
 * - a weight with ggml shape [in, out] holds `out` rows of `in` contiguous
 *   values, so y[o] = Σ_i W[o*in + i] · x[i];
 * - Q and K are stored permuted for llama.cpp's "normal" RoPE, which rotates
 *   adjacent pairs (x[2i], x[2i+1]) of each head by pos · base^(-2i/n_rot)
 *   (divided by rope_freqs[i] when the file has llama3 rope scaling);
 * - GQA: query head h reads kv head floor(h / (n_head / n_head_kv)).
 *
 * All arithmetic is float64 on weights dequantized by readTensorAsFloat64.
 */

import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { readTensorAsFloat64 } from "../../src/gguf/gguf-tensor-reader.js";
import type { GgufHeader } from "../../src/gguf/gguf-types.js";

export interface ReferenceLayer {
    attnNorm: Float64Array;
    wq: Float64Array;
    wk: Float64Array;
    wv: Float64Array;
    wo: Float64Array;
    ffnNorm: Float64Array;
    wGate: Float64Array;
    wUp: Float64Array;
    wDown: Float64Array;
}

export interface ReferenceModel {
    nVocab: number;
    nEmbd: number;
    nLayer: number;
    nFf: number;
    nHead: number;
    nHeadKv: number;
    headDim: number;
    nRot: number;
    ropeBase: number;
    eps: number;
    nLabels: number;
    tokenEmbd: Float64Array;
    layers: ReferenceLayer[];
    outputNorm: Float64Array;
    clsWeight: Float64Array;
    clsBias: Float64Array | undefined;
    /** llama3 rope scaling factors, one per rotated pair, or undefined. */
    ropeFreqs: Float64Array | undefined;
}

function num(header: GgufHeader, key: string, fallback?: number): number {
    const v = header.metadata.get(key);
    if (typeof v === "number") return v;
    if (typeof v === "bigint") return Number(v);
    if (fallback !== undefined) return fallback;
    throw new Error(`reference: ${key} missing`);
}

/** Reads every weight of the llama GGUF at `path` into float64 arrays. */
export function loadReferenceModel(path: string): ReferenceModel {
    const header = readGgufHeader(path);
    const arch = header.metadata.get("general.architecture");
    if (arch !== "llama") throw new Error(`reference: architecture ${String(arch)} is not llama`);
    const names = new Set(header.tensors.map((t) => t.name));
    const tensor = (name: string): Float64Array => readTensorAsFloat64(path, header, name);
    const optional = (name: string): Float64Array | undefined => (names.has(name) ? tensor(name) : undefined);

    const nEmbd = num(header, "llama.embedding_length");
    const nHead = num(header, "llama.attention.head_count");
    const headDim = nEmbd / nHead;
    const nLayer = num(header, "llama.block_count");
    const cls = header.tensors.find((t) => t.name === "cls.output.weight");
    if (cls === undefined) throw new Error("reference: no cls.output.weight");
    const embd = header.tensors.find((t) => t.name === "token_embd.weight")!;

    const layers: ReferenceLayer[] = [];
    for (let l = 0; l < nLayer; l++) {
        const p = `blk.${l}.`;
        layers.push({
            attnNorm: tensor(`${p}attn_norm.weight`),
            wq: tensor(`${p}attn_q.weight`),
            wk: tensor(`${p}attn_k.weight`),
            wv: tensor(`${p}attn_v.weight`),
            wo: tensor(`${p}attn_output.weight`),
            ffnNorm: tensor(`${p}ffn_norm.weight`),
            wGate: tensor(`${p}ffn_gate.weight`),
            wUp: tensor(`${p}ffn_up.weight`),
            wDown: tensor(`${p}ffn_down.weight`),
        });
    }
    return {
        nVocab: embd.shape[1]!,
        nEmbd,
        nLayer,
        nFf: num(header, "llama.feed_forward_length"),
        nHead,
        nHeadKv: num(header, "llama.attention.head_count_kv", nHead),
        headDim,
        nRot: num(header, "llama.rope.dimension_count", headDim),
        ropeBase: num(header, "llama.rope.freq_base", 10000),
        eps: num(header, "llama.attention.layer_norm_rms_epsilon"),
        nLabels: cls.shape[1] ?? 1,
        tokenEmbd: tensor("token_embd.weight"),
        layers,
        outputNorm: tensor("output_norm.weight"),
        clsWeight: tensor("cls.output.weight"),
        clsBias: optional("cls.output.bias"),
        ropeFreqs: optional("rope_freqs.weight"),
    };
}

/** out = W x for W with ggml shape [nIn, nOut]. */
function matVec(w: Float64Array, x: Float64Array, xOff: number, nIn: number, nOut: number, out: Float64Array, outOff: number): void {
    for (let o = 0; o < nOut; o++) {
        let s = 0;
        const row = o * nIn;
        for (let i = 0; i < nIn; i++) s += w[row + i]! * x[xOff + i]!;
        out[outOff + o] = s;
    }
}

/** out = x / sqrt(mean(x²) + eps) * w, for one row of length n. */
function rmsNorm(x: Float64Array, xOff: number, w: Float64Array, eps: number, n: number, out: Float64Array, outOff: number): void {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[xOff + i]! * x[xOff + i]!;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) out[outOff + i] = x[xOff + i]! * inv * w[i]!;
}

/** Rotates adjacent pairs of each head of the row at `off` (nHeads heads of headDim) for position pos. */
function rope(
    x: Float64Array,
    off: number,
    nHeads: number,
    headDim: number,
    cos: Float64Array,
    sin: Float64Array,
    cosOff: number,
    nPairs: number,
): void {
    for (let h = 0; h < nHeads; h++) {
        const base = off + h * headDim;
        for (let i = 0; i < nPairs; i++) {
            const a = x[base + 2 * i]!;
            const b = x[base + 2 * i + 1]!;
            const c = cos[cosOff + i]!;
            const s = sin[cosOff + i]!;
            x[base + 2 * i] = a * c - b * s;
            x[base + 2 * i + 1] = a * s + b * c;
        }
    }
}

/** Final-normed hidden state of the last token: rmsnorm_final(decoder(tokens))[T-1]. */
export function referenceLastHidden(model: ReferenceModel, tokens: readonly number[]): Float64Array {
    return referenceHiddenAt(model, tokens, [tokens.length - 1])[0]!;
}

/**
 * Final-normed hidden states at any token positions of one forward pass:
 * rmsnorm_final(decoder(tokens))[p] for each p. The decoder is causal, so the
 * state at p is the last-token state of tokens[0..p].
 */
export function referenceHiddenAt(model: ReferenceModel, tokens: readonly number[], positions: readonly number[]): Float64Array[] {
    const m = model;
    const T = tokens.length;
    if (T === 0) throw new Error("reference: no tokens");
    const d = m.nEmbd;
    const dKv = m.nHeadKv * m.headDim;
    const group = m.nHead / m.nHeadKv;
    const nPairs = m.nRot / 2;

    // Residual stream, T rows of d.
    const x = new Float64Array(T * d);
    for (let t = 0; t < T; t++) {
        const id = tokens[t]!;
        if (!Number.isInteger(id) || id < 0 || id >= m.nVocab) throw new Error(`reference: token ${id} out of range`);
        x.set(m.tokenEmbd.subarray(id * d, (id + 1) * d), t * d);
    }

    // RoPE tables: angle(pos, i) = pos * base^(-2i/n_rot) / freqs[i].
    const cos = new Float64Array(T * nPairs);
    const sin = new Float64Array(T * nPairs);
    for (let i = 0; i < nPairs; i++) {
        let freq = Math.pow(m.ropeBase, (-2 * i) / m.nRot);
        if (m.ropeFreqs !== undefined) freq /= m.ropeFreqs[i]!;
        for (let pos = 0; pos < T; pos++) {
            const angle = pos * freq;
            cos[pos * nPairs + i] = Math.cos(angle);
            sin[pos * nPairs + i] = Math.sin(angle);
        }
    }

    const xn = new Float64Array(T * d);
    const q = new Float64Array(T * d);
    const k = new Float64Array(T * dKv);
    const v = new Float64Array(T * dKv);
    const att = new Float64Array(T * d);
    const proj = new Float64Array(d);
    const gate = new Float64Array(m.nFf);
    const up = new Float64Array(m.nFf);
    const scores = new Float64Array(T);
    const scale = 1 / Math.sqrt(m.headDim);

    for (const L of m.layers) {
        // Attention block.
        for (let t = 0; t < T; t++) {
            rmsNorm(x, t * d, L.attnNorm, m.eps, d, xn, t * d);
            matVec(L.wq, xn, t * d, d, d, q, t * d);
            matVec(L.wk, xn, t * d, d, dKv, k, t * dKv);
            matVec(L.wv, xn, t * d, d, dKv, v, t * dKv);
            rope(q, t * d, m.nHead, m.headDim, cos, sin, t * nPairs, nPairs);
            rope(k, t * dKv, m.nHeadKv, m.headDim, cos, sin, t * nPairs, nPairs);
        }
        att.fill(0);
        for (let h = 0; h < m.nHead; h++) {
            const kvOff = Math.floor(h / group) * m.headDim;
            const qOff = h * m.headDim;
            for (let t = 0; t < T; t++) {
                // Causal: query t sees keys 0..t.
                let max = -Infinity;
                for (let s = 0; s <= t; s++) {
                    let dot = 0;
                    for (let j = 0; j < m.headDim; j++) dot += q[t * d + qOff + j]! * k[s * dKv + kvOff + j]!;
                    dot *= scale;
                    scores[s] = dot;
                    if (dot > max) max = dot;
                }
                let sum = 0;
                for (let s = 0; s <= t; s++) {
                    const e = Math.exp(scores[s]! - max);
                    scores[s] = e;
                    sum += e;
                }
                const out = t * d + qOff;
                for (let s = 0; s <= t; s++) {
                    const p = scores[s]! / sum;
                    for (let j = 0; j < m.headDim; j++) att[out + j]! += p * v[s * dKv + kvOff + j]!;
                }
            }
        }
        for (let t = 0; t < T; t++) {
            matVec(L.wo, att, t * d, d, d, proj, 0);
            for (let i = 0; i < d; i++) x[t * d + i]! += proj[i]!;
        }

        // SwiGLU feed-forward block: down(silu(gate·x) * (up·x)).
        for (let t = 0; t < T; t++) {
            rmsNorm(x, t * d, L.ffnNorm, m.eps, d, xn, t * d);
            matVec(L.wGate, xn, t * d, d, m.nFf, gate, 0);
            matVec(L.wUp, xn, t * d, d, m.nFf, up, 0);
            for (let i = 0; i < m.nFf; i++) {
                const g = gate[i]!;
                gate[i] = (g / (1 + Math.exp(-g))) * up[i]!;
            }
            matVec(L.wDown, gate, 0, m.nFf, d, proj, 0);
            for (let i = 0; i < d; i++) x[t * d + i]! += proj[i]!;
        }
    }

    return positions.map((p) => {
        if (!Number.isInteger(p) || p < 0 || p >= T) throw new Error(`reference: position ${p} outside ${T} tokens`);
        const h = new Float64Array(d);
        rmsNorm(x, p * d, m.outputNorm, m.eps, d, h, 0);
        return h;
    });
}

/** Rewards (one per label) for `tokens`: cls.output.weight · h_last (+ cls.output.bias). */
export function referenceRewards(model: ReferenceModel, tokens: readonly number[]): number[] {
    return referenceHeadOf(model, referenceLastHidden(model, tokens));
}

/** The head's values (one per label) at each of `positions`, from one forward pass. */
export function referenceRewardsAt(model: ReferenceModel, tokens: readonly number[], positions: readonly number[]): number[][] {
    return referenceHiddenAt(model, tokens, positions).map((h) => referenceHeadOf(model, h));
}

/** cls.output.weight · h (+ cls.output.bias). */
export function referenceHeadOf(model: ReferenceModel, h: Float64Array): number[] {
    const out = new Float64Array(model.nLabels);
    matVec(model.clsWeight, h, 0, model.nEmbd, model.nLabels, out, 0);
    if (model.clsBias !== undefined) for (let i = 0; i < model.nLabels; i++) out[i]! += model.clsBias[i]!;
    return Array.from(out);
}
