/**
 * Turns a tiny Hugging Face reward checkpoint (hf-checkpoint.ts) into a tiny
 * LlamaForCausalLM: the same decoder and tokenizer, no score head, and an LM
 * head: lm_head.weight [vocab, hidden] of deterministic values exact in BF16,
 * or tied to embed_tokens (tie_word_embeddings, no lm_head.weight). Random
 * weights: its logits mean nothing.
 */
import fs from "node:fs";
import path from "node:path";
import type { HfCheckpoint } from "./hf-checkpoint.js";
import { type HfDtype, type HfTensorSource, writeSafetensorsCheckpoint } from "./hf-safetensors-writer.js";

export function writeCausalLmCheckpoint(base: HfCheckpoint, dir: string, options: { tied: boolean; dtype: HfDtype }): HfCheckpoint {
    const { config } = base;
    const hidden = config.hidden_size;
    const vocab = config.vocab_size;
    const weights = new Map([...base.weights].filter(([name]) => name !== "score.weight"));
    if (!options.tied) {
        // k / 512 with |k| <= 127: exact in BF16 and F16, so the reference sees what the file stores
        const lmHead = new Float32Array(vocab * hidden);
        let h = 0x2545f491;
        for (let i = 0; i < lmHead.length; i++) {
            h = (Math.imul(h, 1103515245) + 12345) >>> 0;
            lmHead[i] = ((h >>> 16) % 255) / 512 - 127 / 512;
        }
        weights.set("lm_head.weight", lmHead);
    }
    const causal: HfCheckpoint["config"] = {
        ...config,
        _name_or_path: `tiny-causal-lm${options.tied ? "-tied" : ""} (random weights)`,
        architectures: ["LlamaForCausalLM"],
        tie_word_embeddings: options.tied,
    };
    delete causal.id2label;
    delete causal.label2id;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(causal, null, 2));
    for (const file of ["tokenizer.json", "tokenizer_config.json"]) fs.copyFileSync(path.join(base.dir, file), path.join(dir, file));
    const shape = (name: string, data: Float32Array) =>
        data.length === hidden ? [hidden] : name === "lm_head.weight" || name === "model.embed_tokens.weight" ? [vocab, hidden] : undefined;
    const sources: HfTensorSource[] = [...weights].map(([name, data]) => ({
        name,
        dtype: options.dtype,
        shape: shape(name, data) ?? matrixShape(name, data.length, config),
        fill: (values, start) => values.set(data.subarray(start, start + values.length)),
    }));
    writeSafetensorsCheckpoint(dir, sources, 1);
    return { dir, config: causal, weights };
}

/** The PyTorch shape of a decoder matrix of the tiny checkpoints. */
function matrixShape(name: string, length: number, c: HfCheckpoint["config"]): number[] {
    const hidden = c.hidden_size;
    if (name.endsWith("down_proj.weight")) return [hidden, length / hidden];
    return [length / hidden, hidden];
}
