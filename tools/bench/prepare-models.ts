/**
 * Makes sure the cached benchmark models exist in .bench/, generating what is
 * missing or stale: the F32, BF16 and F16 reward models (generator, the same
 * draws), Q8_0 and Q4_K_M (the addon's quantize, from the F16), and each
 * type's head-less copy for node-llama-cpp. A file counts as current when its
 * header carries this generator's version.
 */
import fs from "node:fs";
import os from "node:os";
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { loadAddon } from "../../src/addon/load-addon.js";
import { fileTypes } from "../../src/model/file-types.js";
import { cacheDir, headlessModelPath, rewardModelPath, vocabPath, type BenchType } from "./bench-paths.js";
import { BENCH_MODEL_GENERATOR_VERSION, BENCH_MODEL_VERSION_KEY } from "./bench-model-spec.js";
import { generateBenchModel, type GeneratedWeightType } from "./generate-bench-model.js";
import { writeHeadlessCopy } from "./headless-copy.js";
import { ProgressBar } from "../../src/cli/progress-bar.js";

/** llama_ftype of the quantized types, made from the F16 file. */
const QUANTIZED_FTYPES = { q8_0: fileTypes.Q8_0, q4_k_m: fileTypes.Q4_K_M } as const;

export interface BenchModelFiles {
    type: BenchType;
    reward: string;
    headless: string;
}

function isCurrent(file: string): boolean {
    if (!fs.existsSync(file)) return false;
    try {
        return readGgufHeader(file).metadata.get(BENCH_MODEL_VERSION_KEY) === BENCH_MODEL_GENERATOR_VERSION;
    } catch {
        return false;
    }
}

function gib(file: string): string {
    return `${(fs.statSync(file).size / 2 ** 30).toFixed(2)} GiB`;
}

function ensureGenerated(type: GeneratedWeightType): string {
    const out = rewardModelPath(type);
    if (isCurrent(out)) return out;
    if (!fs.existsSync(vocabPath)) throw new Error(`the Llama-3 vocab ${vocabPath} is missing; run \`npm run build:native\` first`);
    const size = type === "f32" ? "~5 GB" : "~2.5 GB";
    const progress = new ProgressBar(`generating ${type.toUpperCase()} benchmark model (${size}, once)`, 0, { plainLines: true });
    generateBenchModel(out, type, vocabPath, (done, total) => {
        progress.setTotal(total);
        progress.update(done, `${(done / 2 ** 30).toFixed(2)} GiB`);
    });
    progress.finish(`wrote ${out} (${gib(out)})`);
    return out;
}

async function ensureQuantized(type: keyof typeof QUANTIZED_FTYPES, f16: string): Promise<string> {
    const out = rewardModelPath(type);
    if (isCurrent(out)) return out;
    const tmp = `${out}.tmp`;
    const progress = new ProgressBar(`quantizing to ${type.toUpperCase()} (once)`, 0, { plainLines: true });
    try {
        await loadAddon().quantize(
            f16,
            tmp,
            { ftype: QUANTIZED_FTYPES[type], threads: os.availableParallelism() },
            (done, total, tensor) => {
                progress.setTotal(total);
                progress.update(done, tensor);
            },
        );
        fs.renameSync(tmp, out);
    } catch (error) {
        fs.rmSync(tmp, { force: true });
        throw error;
    }
    progress.finish(`wrote ${out} (${gib(out)})`);
    return out;
}

function ensureHeadless(type: BenchType, reward: string): string {
    const out = headlessModelPath(type);
    if (isCurrent(out) && fs.statSync(out).mtimeMs >= fs.statSync(reward).mtimeMs) return out;
    const progress = new ProgressBar(`writing head-less ${type} copy for node-llama-cpp (once)`, 0, { plainLines: true });
    writeHeadlessCopy(reward, out, (done, total) => {
        progress.setTotal(total);
        progress.update(done);
    });
    progress.finish(`wrote ${out} (${gib(out)})`);
    return out;
}

/** Ensures the files of every requested type, in order. */
export async function prepareBenchModels(types: BenchType[]): Promise<BenchModelFiles[]> {
    fs.mkdirSync(cacheDir, { recursive: true });
    const f16 = ensureGenerated("f16");
    const files: BenchModelFiles[] = [];
    for (const type of types) {
        const reward = type === "q8_0" || type === "q4_k_m" ? await ensureQuantized(type, f16) : ensureGenerated(type);
        files.push({ type, reward, headless: ensureHeadless(type, reward) });
    }
    return files;
}
