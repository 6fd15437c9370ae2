/**
 * The fuzz target: loads one (mutated) GGUF file in this process and, when it
 * loads, scores one conversation. The only acceptable outcomes are a number
 * or a RewardModelError with a code; anything else is reported as a finding.
 * The process dying is the finding the child-process runner watches for.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { RewardModel, RewardModelError } from "../../src/index.js";
import { tinyF16, tinyF32 } from "../support/fixtures.js";
import { parseLayout } from "./gguf-layout.js";
import { makeCase, writeCase, type FuzzBase, type FuzzCase } from "./gguf-mutations.js";
import { makeStructuredCase } from "./gguf-structured-mutations.js";

/** The two case generators: byte-level (gguf-mutations.ts) and field-level (gguf-structured-mutations.ts). */
export type FuzzFamily = "bytes" | "structured";
export const FUZZ_FAMILIES: readonly FuzzFamily[] = ["bytes", "structured"];

/** Case `index` of `seed` in `family`. */
export function buildCase(bases: readonly FuzzBase[], family: FuzzFamily, seed: number, index: number): FuzzCase {
    return family === "structured" ? makeStructuredCase(bases, seed, index) : makeCase(bases, seed, index);
}

export type FuzzOutcome =
    | { kind: "score"; value: number }
    | { kind: "rejected"; stage: "load" | "score"; code: string; message: string }
    | { kind: "bad-error"; stage: "load" | "score"; error: string };

/** The base models every case mutates: the tiny model in F16 (first, most used) and F32. */
export function loadFuzzBases(): FuzzBase[] {
    return [
        { name: "tiny-f16", layout: parseLayout(fs.readFileSync(tinyF16)) },
        { name: "tiny-f32", layout: parseLayout(fs.readFileSync(tinyF32)) },
    ];
}

const conversation = [
    { role: "user", content: "Is this file intact?" },
    { role: "assistant", content: "Probably not, but I will not crash." },
];

function classify(error: unknown, stage: "load" | "score"): FuzzOutcome {
    if (error instanceof RewardModelError && typeof error.code === "string" && error.code.startsWith("ERR_")) {
        return { kind: "rejected", stage, code: error.code, message: error.message.slice(0, 300) };
    }
    return { kind: "bad-error", stage, error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 500) : String(error) };
}

/** Loads `file` and scores one conversation; never throws. */
export async function runTarget(file: string): Promise<FuzzOutcome> {
    let model: RewardModel;
    try {
        model = await RewardModel.load(file, { contextSize: 256, batchSize: 256, parallel: 2, threads: 1 });
    } catch (error) {
        return classify(error, "load");
    }
    try {
        const value = await model.score(conversation);
        if (typeof value !== "number") return { kind: "bad-error", stage: "score", error: `score returned ${typeof value}` };
        return { kind: "score", value };
    } catch (error) {
        return classify(error, "score");
    } finally {
        await model.dispose();
    }
}

/** A scratch directory for case files, removed by the caller. */
export function makeScratchDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-fuzz-"));
}

/** Builds, writes and runs case `index` of `seed` in `family`; removes the file afterwards unless `keep`. */
export async function runCase(
    bases: readonly FuzzBase[],
    seed: number,
    index: number,
    dir: string,
    keep = false,
    family: FuzzFamily = "bytes",
): Promise<{ fuzzCase: FuzzCase; outcome: FuzzOutcome; file: string }> {
    const fuzzCase = buildCase(bases, family, seed, index);
    const file = path.join(dir, `${family}-seed-${seed}-case-${index}.gguf`);
    writeCase(fuzzCase, file);
    try {
        return { fuzzCase, outcome: await runTarget(file), file };
    } finally {
        if (!keep) fs.rmSync(file, { force: true });
    }
}
