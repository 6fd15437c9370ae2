/**
 * The tiny model with a 4096-wide feed-forward block, for the weight
 * kernels' tests: its down projection's rows (4096 values) are longer than
 * one of the AVX-512 kernels' K chunks on any CPU (half of L1 over 8 rows:
 * 768 F32 or 1536 BF16 values with a 48 KiB L1), so the chunked path, whose
 * accumulators wait in memory between chunks, is what those products take.
 * The tiny model's own rows (64 and 128 values) fit in one chunk.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateTinyModels, TINY_MODEL_FILES } from "../../tools/models/generate-tiny-model.js";

export const WIDE_FEED_FORWARD = 4096;

/** Writes the wide model of one file type into a new temporary folder; returns its path (remove the folder when done). */
function writeWideTiny(kept: "f32" | "f16"): { dir: string; file: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-wide-"));
    generateTinyModels({ outDir: dir, feedForwardLength: WIDE_FEED_FORWARD, log: () => {} });
    fs.rmSync(path.join(dir, TINY_MODEL_FILES[kept === "f32" ? "f16" : "f32"]));
    return { dir, file: path.join(dir, TINY_MODEL_FILES[kept]) };
}

/** The wide F32 model (see writeWideTiny). */
export function writeWideTinyF32(): { dir: string; file: string } {
    return writeWideTiny("f32");
}

/** The wide F16 model (see writeWideTiny). */
export function writeWideTinyF16(): { dir: string; file: string } {
    return writeWideTiny("f16");
}
