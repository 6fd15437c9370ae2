/**
 * Shared setup of the converter tests: a temporary directory, the Llama-3
 * vocabulary, and the two tiny HF checkpoints (GRM-like Llama-3 in BF16 with
 * a [PAD] token; Llama-3.1-like in sharded F32 with llama3 RoPE scaling and
 * two labels). Random weights: the rewards mean nothing.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { requireFile, vocabFile } from "./fixtures.js";
import { readLlama3Vocab, writeHfCheckpoint, type HfCheckpoint } from "./hf-checkpoint.js";
import type { Llama3Vocab } from "./hf-tokenizer-json.js";

export function makeWorkDir(tag: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `llama-reward-${tag}-`));
}

export function loadVocab(): Llama3Vocab {
    return readLlama3Vocab(requireFile(vocabFile));
}

/** GRM-llama3-8B-distill-like: BF16, one safetensors file, [PAD] at 128256 (vocab 128257), one label. */
export function writeLlama3Checkpoint(work: string, vocab: Llama3Vocab): HfCheckpoint {
    return writeHfCheckpoint({
        dir: path.join(work, "hf-llama3"),
        style: "llama3",
        dtype: "BF16",
        shards: 1,
        mergesFormat: "string",
        labels: ["LABEL_0"],
        seed: 0x1a3,
        vocab,
    });
}

/** Skywork-Reward-Llama-3.1-like: F32 in 3 shards with an index, llama3 rope_scaling, two labels. */
export function writeLlama31Checkpoint(work: string, vocab: Llama3Vocab): HfCheckpoint {
    return writeHfCheckpoint({
        dir: path.join(work, "hf-llama31"),
        style: "llama3.1",
        dtype: "F32",
        shards: 3,
        mergesFormat: "pair",
        labels: ["helpful", "harmless"],
        seed: 0x31b,
        vocab,
    });
}

/** Paths at `out` that a failed conversion must not leave behind. */
export function leftovers(out: string): string[] {
    return [out, `${out}.tmp`].filter((p) => fs.existsSync(p));
}
