/**
 * Independent float64 reference of transformers' LlamaForSequenceClassification,
 * working on the Hugging Face layout of the weights (names and shapes as in
 * the safetensors checkpoint). Written from the model's math, not from any
 * engine's code, and sharing nothing with llama-reference.ts next to it
 * (which reads the GGUF layout):
 *
 * - a Linear weight [out, in] is row-major: y[o] = Σ_i W[o*in + i] · x[i];
 * - RoPE is transformers' rotate_half form: each head's first half pairs with
 *   its second half, cos/sin = cat(freqs, freqs), q' = q·cos + rotate_half(q)·sin;
 * - inv_freq = 1 / base^(2i/d); "llama3" rope_scaling divides low frequencies
 *   by `factor` and blends the middle band smoothly (transformers'
 *   _compute_llama3_parameters);
 * - GQA repeats each KV head for n_head / n_kv_head query heads;
 * - the score head is applied to the last non-padding token;
 * - hfReferenceHiddenStates gives the final-norm hidden state at every position.
 */

export interface HfReferenceConfig {
    hidden_size: number;
    intermediate_size: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    num_key_value_heads: number;
    rms_norm_eps: number;
    rope_theta: number;
    vocab_size: number;
    pad_token_id?: number;
    head_dim?: number;
    rope_scaling?: {
        rope_type?: string;
        type?: string;
        factor: number;
        low_freq_factor: number;
        high_freq_factor: number;
        original_max_position_embeddings: number;
    } | null;
}

/** Weights by HF name; any array of the stored values (float32 or float64). */
export type HfWeights = ReadonlyMap<string, ArrayLike<number>>;

/** transformers' inv_freq for the config, in float64. */
export function hfInvFreq(config: HfReferenceConfig): Float64Array {
    const dim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
    const inv = new Float64Array(dim / 2);
    for (let i = 0; i < inv.length; i++) inv[i] = 1 / Math.pow(config.rope_theta, (2 * i) / dim);
    const s = config.rope_scaling;
    if (s === undefined || s === null || (s.rope_type ?? s.type) !== "llama3") return inv;
    const lowFreqWavelen = s.original_max_position_embeddings / s.low_freq_factor;
    const highFreqWavelen = s.original_max_position_embeddings / s.high_freq_factor;
    for (let i = 0; i < inv.length; i++) {
        const wavelen = (2 * Math.PI) / inv[i]!;
        if (wavelen > lowFreqWavelen) {
            inv[i] = inv[i]! / s.factor;
        } else if (wavelen >= highFreqWavelen) {
            const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
            inv[i] = (1 - smooth) * (inv[i]! / s.factor) + smooth * inv[i]!;
        }
    }
    return inv;
}

function get(weights: HfWeights, name: string): ArrayLike<number> {
    const w = weights.get(name);
    if (w === undefined) throw new Error(`hf reference: missing weight ${name}`);
    return w;
}

/** y = W x for a Linear weight W [nOut, nIn]. */
function linear(w: ArrayLike<number>, x: Float64Array, nIn: number, nOut: number): Float64Array {
    const y = new Float64Array(nOut);
    for (let o = 0; o < nOut; o++) {
        let s = 0;
        const row = o * nIn;
        for (let i = 0; i < nIn; i++) s += w[row + i]! * x[i]!;
        y[o] = s;
    }
    return y;
}

function rmsNorm(x: Float64Array, w: ArrayLike<number>, eps: number): Float64Array {
    let ss = 0;
    for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
    const r = 1 / Math.sqrt(ss / x.length + eps);
    const y = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) y[i] = w[i]! * (x[i]! * r);
    return y;
}

/** Applies rotate_half RoPE in place to `heads` heads of size `dim` stored back to back. */
function applyRope(v: Float64Array, heads: number, dim: number, cos: Float64Array, sin: Float64Array): void {
    const half = dim / 2;
    for (let h = 0; h < heads; h++) {
        const o = h * dim;
        for (let i = 0; i < half; i++) {
            const x1 = v[o + i]!;
            const x2 = v[o + half + i]!;
            // rotate_half(x) = cat(-x2, x1); cos/sin repeat freqs over both halves.
            v[o + i] = x1 * cos[i]! - x2 * sin[i]!;
            v[o + half + i] = x2 * cos[i]! + x1 * sin[i]!;
        }
    }
}

/** The final-RMSNorm hidden state of every position of `tokens` (LlamaModel's last_hidden_state), in float64. */
export function hfReferenceHiddenStates(config: HfReferenceConfig, weights: HfWeights, tokens: readonly number[]): Float64Array[] {
    const d = config.hidden_size;
    const nh = config.num_attention_heads;
    const nkv = config.num_key_value_heads;
    const hd = config.head_dim ?? d / nh;
    const ff = config.intermediate_size;
    const T = tokens.length;
    if (T === 0) throw new Error("hf reference: no tokens");
    const embed = get(weights, "model.embed_tokens.weight");
    const inv = hfInvFreq(config);

    let x: Float64Array[] = tokens.map((id) => {
        if (!Number.isInteger(id) || id < 0 || id >= config.vocab_size) throw new Error(`hf reference: token ${id} out of range`);
        const row = new Float64Array(d);
        for (let i = 0; i < d; i++) row[i] = embed[id * d + i]!;
        return row;
    });
    const cos: Float64Array[] = [];
    const sin: Float64Array[] = [];
    for (let p = 0; p < T; p++) {
        cos.push(Float64Array.from(inv, (f) => Math.cos(p * f)));
        sin.push(Float64Array.from(inv, (f) => Math.sin(p * f)));
    }

    for (let l = 0; l < config.num_hidden_layers; l++) {
        const p = `model.layers.${l}.`;
        const q: Float64Array[] = [];
        const k: Float64Array[] = [];
        const v: Float64Array[] = [];
        for (let t = 0; t < T; t++) {
            const h = rmsNorm(x[t]!, get(weights, `${p}input_layernorm.weight`), config.rms_norm_eps);
            const qt = linear(get(weights, `${p}self_attn.q_proj.weight`), h, d, nh * hd);
            const kt = linear(get(weights, `${p}self_attn.k_proj.weight`), h, d, nkv * hd);
            applyRope(qt, nh, hd, cos[t]!, sin[t]!);
            applyRope(kt, nkv, hd, cos[t]!, sin[t]!);
            q.push(qt);
            k.push(kt);
            v.push(linear(get(weights, `${p}self_attn.v_proj.weight`), h, d, nkv * hd));
        }
        const next: Float64Array[] = [];
        const scale = 1 / Math.sqrt(hd);
        for (let t = 0; t < T; t++) {
            const att = new Float64Array(nh * hd);
            for (let h = 0; h < nh; h++) {
                const kvh = Math.floor(h / (nh / nkv));
                const scores = new Float64Array(t + 1);
                let max = -Infinity;
                for (let s = 0; s <= t; s++) {
                    let dot = 0;
                    for (let j = 0; j < hd; j++) dot += q[t]![h * hd + j]! * k[s]![kvh * hd + j]!;
                    scores[s] = dot * scale;
                    max = Math.max(max, scores[s]!);
                }
                let sum = 0;
                for (let s = 0; s <= t; s++) {
                    scores[s] = Math.exp(scores[s]! - max);
                    sum += scores[s]!;
                }
                for (let s = 0; s <= t; s++) {
                    const w = scores[s]! / sum;
                    for (let j = 0; j < hd; j++) att[h * hd + j]! += w * v[s]![kvh * hd + j]!;
                }
            }
            const o = linear(get(weights, `${p}self_attn.o_proj.weight`), att, nh * hd, d);
            const r = Float64Array.from(x[t]!, (xi, i) => xi + o[i]!);
            const h2 = rmsNorm(r, get(weights, `${p}post_attention_layernorm.weight`), config.rms_norm_eps);
            const gate = linear(get(weights, `${p}mlp.gate_proj.weight`), h2, d, ff);
            const up = linear(get(weights, `${p}mlp.up_proj.weight`), h2, d, ff);
            for (let i = 0; i < ff; i++) gate[i] = (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!;
            const down = linear(get(weights, `${p}mlp.down_proj.weight`), gate, ff, d);
            next.push(Float64Array.from(r, (ri, i) => ri + down[i]!));
        }
        x = next;
    }
    return x.map((row) => rmsNorm(row, get(weights, "model.norm.weight"), config.rms_norm_eps));
}

/** The score head's outputs (one per label) for `tokens`, as transformers computes them. */
export function hfReferenceScores(config: HfReferenceConfig, weights: HfWeights, tokens: readonly number[]): number[] {
    const d = config.hidden_size;
    const hidden = hfReferenceHiddenStates(config, weights, tokens);
    // Pooling: the last token that is not the pad token (the last token when there is no padding).
    let last = tokens.length - 1;
    if (config.pad_token_id !== undefined) {
        const nonPad = tokens.map((id, i) => (id !== config.pad_token_id ? i : -1));
        last = Math.max(...nonPad);
        if (last < 0) last = 0; // argmax over all-zero indices
    }
    const hLast = hidden[last]!;
    const score = get(weights, "score.weight");
    const labels = score.length / d;
    return Array.from(linear(score, hLast, d, labels));
}
