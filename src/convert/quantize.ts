/**
 * `quantize()`: requantizes a GGUF reward model through llama.cpp's
 * llama_model_quantize, run off the JS thread by the addon. The input is
 * validated as a reward model first; the result goes to a temporary file
 * next to the output, is checked (readable, reward head still F32) and
 * only then renamed into place.
 */

import * as fs from "node:fs";
import os from "node:os";
import * as path from "node:path";

import { RewardModelError, fromNativeError, invalidArgument, withCallerStack } from "../errors.js";
import { fileTypeFromName, fileTypeName, fileTypes } from "../model/file-types.js";
import { GgmlType, ggmlTypeName } from "../gguf/gguf-types.js";
import { inspectRewardModelFile } from "../model/model-file.js";
import { loadAddon } from "../addon/load-addon.js";

/** Types llama.cpp only produces with an importance matrix, which this API does not take. */
const NEEDS_IMATRIX = ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_S", "IQ1_M", "Q2_K_S"];

export interface QuantizeProgress {
    /** Tensors done so far (the one named included), and in all. */
    done: number;
    total: number;
    tensor: string;
}

export interface QuantizeOptions {
    /** CPU threads. Default: os.availableParallelism(). */
    threads?: number;
    onProgress?: (progress: QuantizeProgress) => void;
}

export interface QuantizeResult {
    path: string;
    /** The llama_ftype name, e.g. "Q4_K_M". */
    type: string;
    sizeBytes: number;
}

/** The type names quantize() accepts. */
export function quantizeTypeNames(): string[] {
    return Object.keys(fileTypes).filter((name) => !NEEDS_IMATRIX.includes(name));
}

function resolveType(type: string): number {
    if (typeof type !== "string") throw invalidArgument(`quantize: the type must be a string such as "Q4_K_M"`);
    const ftype = fileTypeFromName(type);
    const name = type.trim().toUpperCase();
    if (ftype === undefined || NEEDS_IMATRIX.includes(name)) {
        const why = ftype === undefined ? "is not a known type" : "needs an importance matrix, which llama-reward quantize does not take";
        throw invalidArgument(`quantize: ${JSON.stringify(type)} ${why}; valid types: ${quantizeTypeNames().join(", ")}`);
    }
    return ftype;
}

/** Quantizes the GGUF reward model `input` to `output` with llama_ftype `type` (e.g. "Q4_K_M"). */
export function quantize(input: string, output: string, type: string, options: QuantizeOptions = {}): Promise<QuantizeResult> {
    return withCallerStack(() => quantizeImpl(input, output, type, options));
}

async function quantizeImpl(input: string, output: string, type: string, options: QuantizeOptions): Promise<QuantizeResult> {
    const ftype = resolveType(type);
    if (typeof output !== "string" || output === "") throw invalidArgument("quantize: the output path must be a non-empty string");
    const threads = options.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1)
        throw invalidArgument(`quantize: threads must be a positive integer, got ${String(threads)}`);
    if (options.onProgress !== undefined && typeof options.onProgress !== "function")
        throw invalidArgument("quantize: onProgress must be a function");

    inspectRewardModelFile(input); // ERR_MODEL_NOT_FOUND, ERR_NOT_GGUF, ERR_CORRUPT_MODEL, ERR_NO_REWARD_HEAD, ...
    if (path.resolve(input) === path.resolve(output)) throw invalidArgument("quantize: the output must be a different file from the input");
    const dir = path.dirname(path.resolve(output));
    if (!fs.existsSync(dir)) throw new RewardModelError("ERR_QUANTIZE_FAILED", `quantize: the output directory ${dir} does not exist`);

    const addon = loadAddon();
    const tmp = `${output}.tmp`;
    try {
        const onProgress = options.onProgress;
        await addon.quantize(input, tmp, { ftype, threads }, onProgress && ((done, total, tensor) => onProgress({ done, total, tensor })));
        checkOutput(tmp, ftype);
        fs.renameSync(tmp, output);
    } catch (error) {
        fs.rmSync(tmp, { force: true });
        throw fromNativeError(error, "ERR_QUANTIZE_FAILED", `quantize ${input} to ${fileTypeName(ftype)}`);
    }
    return { path: output, type: fileTypeName(ftype), sizeBytes: fs.statSync(output).size };
}

/** The written file must be a valid reward model whose head stayed F32. */
function checkOutput(file: string, ftype: number): void {
    const { header } = inspectRewardModelFile(file);
    for (const t of header.tensors) {
        if (t.name.startsWith("cls.output.") && t.type !== GgmlType.F32) {
            throw new RewardModelError(
                "ERR_QUANTIZE_FAILED",
                `quantize to ${fileTypeName(ftype)} stored the reward head ${t.name} as ${ggmlTypeName(t.type)}, not F32 ` +
                    "(the llama.cpp patch in native/patches is not applied?)",
            );
        }
    }
}
