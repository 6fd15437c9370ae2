/**
 * One-off measurement, kept out of `npm test`: peak memory of converting a
 * checkpoint with Llama-3-8B layer shapes (hidden 4096, intermediate 14336,
 * 32 heads, 8 KV heads, vocab 128256, BF16) but only 2 layers (~2 GB), to F16.
 * The conversion runs in the CLI under /usr/bin/time -v; its max RSS is
 * printed next to the largest tensor's size. Then the F16 file is quantized
 * to Q4_K_M the same way (llama_model_quantize's own peak). Everything is
 * deleted after.
 *
 *   npx tsc -p tsconfig.json && node dist/tools/convert-memory.js [work dir]
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { requireFile, root, vocabFile } from "../test/support/fixtures.js";
import { writeTokenizerFiles } from "../test/support/hf-checkpoint.js";
import { type HfTensorSource, writeSafetensorsCheckpoint } from "../test/support/hf-safetensors-writer.js";
import { readLlama3Vocab } from "../test/support/hf-tokenizer-json.js";

const SIZES = { hidden: 4096, intermediate: 14336, heads: 32, kvHeads: 8, layers: 2, vocab: 128256 };

/** Cheap deterministic values in [-scale, scale): random enough for a memory test. */
function lcgFill(seed: number, scale: number): (values: Float32Array, start: number) => void {
    return (values, start) => {
        let x = (seed ^ Math.imul(start, 0x9e3779b1)) >>> 0;
        for (let i = 0; i < values.length; i++) {
            x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
            values[i] = (x / 4294967296 - 0.5) * 2 * scale;
        }
    };
}

function tensors(): HfTensorSource[] {
    const s = SIZES;
    const hd = s.hidden / s.heads;
    const out: HfTensorSource[] = [];
    let seed = 1;
    const add = (name: string, shape: number[], scale = 0.02) => out.push({ name, dtype: "BF16", shape, fill: lcgFill(seed++, scale) });
    add("model.embed_tokens.weight", [s.vocab, s.hidden]);
    for (let l = 0; l < s.layers; l++) {
        const p = `model.layers.${l}.`;
        add(`${p}input_layernorm.weight`, [s.hidden], 1);
        add(`${p}self_attn.q_proj.weight`, [s.heads * hd, s.hidden]);
        add(`${p}self_attn.k_proj.weight`, [s.kvHeads * hd, s.hidden]);
        add(`${p}self_attn.v_proj.weight`, [s.kvHeads * hd, s.hidden]);
        add(`${p}self_attn.o_proj.weight`, [s.hidden, s.heads * hd]);
        add(`${p}post_attention_layernorm.weight`, [s.hidden], 1);
        add(`${p}mlp.gate_proj.weight`, [s.intermediate, s.hidden]);
        add(`${p}mlp.up_proj.weight`, [s.intermediate, s.hidden]);
        add(`${p}mlp.down_proj.weight`, [s.hidden, s.intermediate]);
    }
    add("model.norm.weight", [s.hidden], 1);
    add("score.weight", [1, s.hidden]);
    return out;
}

function main(): void {
    const work = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-memory-"));
    const dir = path.join(work, "hf-8b-layers");
    const out = path.join(work, "8b-layers-f16.gguf");
    const q4 = path.join(work, "8b-layers-q4_k_m.gguf");
    fs.mkdirSync(dir, { recursive: true });
    try {
        const s = SIZES;
        fs.writeFileSync(
            path.join(dir, "config.json"),
            JSON.stringify({
                architectures: ["LlamaForSequenceClassification"],
                model_type: "llama",
                hidden_size: s.hidden,
                intermediate_size: s.intermediate,
                num_hidden_layers: s.layers,
                num_attention_heads: s.heads,
                num_key_value_heads: s.kvHeads,
                vocab_size: s.vocab,
                max_position_embeddings: 8192,
                rope_theta: 500000,
                rms_norm_eps: 1e-5,
                torch_dtype: "bfloat16",
                id2label: { 0: "LABEL_0" },
                bos_token_id: 128000,
                eos_token_id: 128009,
            }),
        );
        writeTokenizerFiles(dir, readLlama3Vocab(requireFile(vocabFile)), "llama3.1", "pair");
        let t = Date.now();
        const list = tensors();
        writeSafetensorsCheckpoint(dir, list, 1);
        const checkpointBytes = fs.statSync(path.join(dir, "model.safetensors")).size;
        console.log(`checkpoint: ${(checkpointBytes / 2 ** 30).toFixed(2)} GiB written in ${((Date.now() - t) / 1000).toFixed(1)} s`);

        const largest = Math.max(...list.map((x) => x.shape.reduce((a, b) => a * b, 1) * 2));
        t = Date.now();
        const cli = path.join(root, "dist", "src", "cli", "main.js");
        const run = spawnSync("/usr/bin/time", ["-v", process.execPath, cli, "convert", dir, "-o", out, "--outtype", "f16"], {
            encoding: "utf8",
        });
        const seconds = (Date.now() - t) / 1000;
        if (run.status !== 0) throw new Error(`convert failed:\n${run.stderr}`);
        const rssKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr)?.[1]);
        const outBytes = fs.statSync(out).size;
        console.log(
            `converted to F16: ${(outBytes / 2 ** 30).toFixed(2)} GiB in ${seconds.toFixed(1)} s ` +
                `(${(checkpointBytes / 2 ** 20 / seconds).toFixed(0)} MiB/s of checkpoint)`,
        );
        console.log(
            `peak RSS ${(rssKiB / 1024).toFixed(0)} MiB; largest tensor (token_embd, BF16) ${(largest / 2 ** 20).toFixed(0)} MiB ` +
                `→ peak RSS = ${((rssKiB * 1024) / largest).toFixed(2)} × largest tensor`,
        );

        t = Date.now();
        const quant = spawnSync("/usr/bin/time", ["-v", process.execPath, cli, "quantize", out, q4, "Q4_K_M"], { encoding: "utf8" });
        if (quant.status !== 0) throw new Error(`quantize failed:\n${quant.stderr}`);
        const qRssKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(quant.stderr)?.[1]);
        console.log(
            `quantized to Q4_K_M: ${(fs.statSync(q4).size / 2 ** 30).toFixed(2)} GiB in ${((Date.now() - t) / 1000).toFixed(1)} s, ` +
                `peak RSS ${(qRssKiB / 1024).toFixed(0)} MiB (= ${((qRssKiB * 1024) / (largest * 2)).toFixed(2)} × the largest tensor as F32)`,
        );
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
