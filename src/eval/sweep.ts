/**
 * The quantization sweep: quantizes a reference GGUF to each requested type
 * into a temporary directory with `quantize()`, evaluates the reference and
 * every quantized file on the same data (preference pairs, or best-of-N
 * prompts), the reference first so each quantized model is compared with
 * it, and deletes the temporaries.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { quantize, quantizeTypeNames, type QuantizeProgress } from "../convert/quantize.js";
import { invalidArgument } from "../errors.js";
import { fileTypeFromName, fileTypeName } from "../model/file-types.js";
import { evaluate, type EvalModelSpec, type EvaluateOptions } from "./evaluate.js";
import type { BestOfNItem } from "./best-of-n-formats.js";
import type { BestOfNReport } from "./best-of-n-report.js";
import { evaluateBestOfN, type EvaluateBestOfNOptions } from "./evaluate-best-of-n.js";
import type { PreferencePair } from "./formats.js";
import type { EvalReport } from "./report.js";

/** How the sweep quantizes. */
export interface QuantizeStepOptions {
    /** Threads for quantizing. Default: os.availableParallelism(). */
    quantizeThreads?: number;
    /** Parent of the temporary directory. Default: os.tmpdir(). */
    tempDir?: string;
    onQuantize?: (type: string, progress: QuantizeProgress) => void;
}

export interface SweepOptions extends EvaluateOptions, QuantizeStepOptions {}

/** Checks and normalises the type names ("q4_k_m" -> "Q4_K_M"); unknown or duplicate types are rejected. */
export function sweepTypes(types: readonly string[]): string[] {
    if (!Array.isArray(types) || types.length === 0) {
        throw invalidArgument("the quantization sweep needs at least one type, e.g. Q8_0,Q4_K_M");
    }
    const valid = quantizeTypeNames();
    const names = types.map((t) => {
        const ftype = typeof t === "string" ? fileTypeFromName(t) : undefined;
        const name = ftype === undefined ? undefined : fileTypeName(ftype);
        if (name === undefined || !valid.includes(name)) {
            throw invalidArgument(`cannot quantize to ${JSON.stringify(t)}; valid types: ${valid.join(", ")}`);
        }
        return name;
    });
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) throw invalidArgument(`${duplicate} is listed twice`);
    return names;
}

/**
 * Quantizes `reference` to each of `types` in a temporary directory, runs
 * `evaluateModels` on the reference and the quantized files (reference
 * first), and removes the quantized files; they are reported by name, with
 * no path, since the files are gone when this returns.
 */
async function withQuantizedModels<R extends { models: { quantizedFrom?: string; path: string | null }[] }>(
    reference: string,
    types: readonly string[],
    options: QuantizeStepOptions,
    evaluateModels: (models: EvalModelSpec[]) => Promise<R>,
): Promise<R> {
    const names = sweepTypes(types);
    const dir = fs.mkdtempSync(path.join(options.tempDir ?? os.tmpdir(), "llama-reward-sweep-"));
    try {
        const base = path.basename(reference).replace(/\.gguf$/i, "");
        const models: EvalModelSpec[] = [{ model: reference, name: base }];
        for (const type of names) {
            const file = path.join(dir, `${base}.${type}.gguf`);
            await quantize(reference, file, type, {
                threads: options.quantizeThreads,
                onProgress: options.onQuantize && ((p) => options.onQuantize!(type, p)),
            });
            models.push({ model: file, name: `${base}.${type}`, quantizedFrom: reference });
        }
        const report = await evaluateModels(models);
        for (const m of report.models) if (m.quantizedFrom !== undefined) m.path = null;
        return report;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Quantizes `reference` to each of `types`, evaluates all of them on `pairs`, and removes the quantized files. */
export function quantizationSweep(
    reference: string,
    types: readonly string[],
    pairs: readonly PreferencePair[],
    options: SweepOptions = {},
): Promise<EvalReport> {
    return withQuantizedModels(reference, types, options, (models) => evaluate(models, pairs, options));
}

/** The same sweep on best-of-N prompts. */
export function quantizationSweepBestOfN(
    reference: string,
    types: readonly string[],
    items: readonly BestOfNItem[],
    options: QuantizeStepOptions & EvaluateBestOfNOptions = {},
): Promise<BestOfNReport> {
    return withQuantizedModels(reference, types, options, (models) => evaluateBestOfN(models, items, options));
}
