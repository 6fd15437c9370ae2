/**
 * Scores conversations in a fresh Node process under a given environment,
 * for the tests of llama-reward's weight kernels: each kernel is chosen once
 * per process (from the CPU and LLAMA_REWARD_* switches), so comparing two
 * kernels takes two processes. Each named set of load options (e.g. flash
 * attention off, whose tiled kernel has batch effects of its own, and the
 * defaults) loads the model once and scores every case in one batch, then
 * the first few alone.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { expect } from "vitest";
import { type ChatMessage, RewardModel } from "../../src/index.js";
import { loadReferenceModel, referenceRewards } from "../reference/llama-reference.js";
import { requireFile, root } from "./fixtures.js";

export interface KernelScores {
    /** Every case in one scoreBatch. */
    batched: number[];
    /** The first `alone` cases, one score() each. */
    alone: number[];
}

export interface KernelChildResult<S extends string> {
    /** addonInfo()[kernelField] in the child. */
    kernel: string | number;
    /** The addon's product counter for the kernel after scoring (-1 when the addon lacks it). */
    products: number;
    /** The addon's counters named in KernelChildOptions.counters after scoring (-1 for one the addon lacks). */
    counters: Record<string, number>;
    /** The scores under each set of load options. */
    scores: Record<S, KernelScores>;
}

export interface KernelChildOptions<S extends string> {
    /** Load options (contextSize 2048 added) by name; the model is loaded once per entry, in this order. */
    settings: Record<S, Record<string, unknown>>;
    /** The addonInfo() field naming the kernel, e.g. "bf16Kernel" (or "computeAlignment", the compute buffer's). */
    kernelField: "bf16Kernel" | "f32Kernel" | "f16Kernel" | "computeAlignment";
    /** The addon export counting the kernel's products, e.g. "avx512Bf16Products" (or its buffers, "alignedComputeBuffers"). */
    productsExport:
        | "avx512Bf16Products"
        | "avx512Bf16FmaProducts"
        | "avx512F32Products"
        | "avx512F16Products"
        | "avx2Products"
        | "alignedComputeBuffers"
        | "misalignedWeightProducts";
    /** How many of the cases are also scored alone. */
    alone: number;
    /** Further addon counters to read after scoring, e.g. "copiedWeightProducts". */
    counters?: readonly "copiedWeightProducts"[];
}

/** Scores `cases` in a fresh process under `env`, per setting: all in one batch, then the first `alone` one at a time. */
export function scoreInChild<S extends string>(
    file: string,
    cases: readonly ChatMessage[][],
    env: Record<string, string>,
    options: KernelChildOptions<S>,
): KernelChildResult<S> {
    const index = path.join(root, "dist", "src", "index.js");
    const script = `
        import { RewardModel, addonInfo } from ${JSON.stringify(requireFile(index))};
        import { loadAddon } from ${JSON.stringify(path.join(root, "dist", "src", "addon", "load-addon.js"))};
        const cases = JSON.parse(process.argv[1]);
        const settings = JSON.parse(process.argv[2]);
        const scores = {};
        for (const [name, loadOptions] of Object.entries(settings)) {
            const model = await RewardModel.load(${JSON.stringify(file)}, { contextSize: 2048, ...loadOptions });
            const batched = await model.scoreBatch(cases);
            const alone = [];
            for (const c of cases.slice(0, ${options.alone})) alone.push(await model.score(c));
            await model.dispose();
            scores[name] = { batched, alone };
        }
        const addon = loadAddon();
        const count = addon[${JSON.stringify(options.productsExport)}];
        const products = typeof count === "function" ? count() : -1;
        const counters = {};
        for (const name of ${JSON.stringify(options.counters ?? [])}) {
            const counter = addon[name];
            counters[name] = typeof counter === "function" ? counter() : -1;
        }
        process.stdout.write(JSON.stringify({ kernel: addonInfo()[${JSON.stringify(options.kernelField)}], products, counters, scores }));
    `;
    const child = spawnSync(
        process.execPath,
        ["--input-type=module", "-e", script, JSON.stringify(cases), JSON.stringify(options.settings)],
        {
            encoding: "utf8",
            cwd: root,
            env: { ...process.env, ...env },
        },
    );
    expect(child.stderr).toBe("");
    expect(child.status).toBe(0);
    return JSON.parse(child.stdout) as KernelChildResult<S>;
}

/** The environment that leaves BF16 weights to ggml's own kernel: every one of llama-reward's BF16 kernels off. */
export const GGML_BF16_ENV: Readonly<Record<string, string>> = {
    LLAMA_REWARD_AMX_BF16: "0",
    LLAMA_REWARD_AVX512_BF16: "0",
    LLAMA_REWARD_BF16_FMA: "0",
    LLAMA_REWARD_AVX2: "0",
};

/**
 * llama-reward's AVX2 kernel off: the AVX-512 kernels' tests add it, so that on a CPU without AVX-512 (where that
 * kernel would take F32, F16 and BF16 weights) their settings leave the weights to ggml as they expect.
 */
export const NO_AVX2: Readonly<Record<string, string>> = { LLAMA_REWARD_AVX2: "0" };

export function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
    return Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
}

/** The float64 reference's reward of each case on `file`'s weights. */
export async function referenceRewardsOf(file: string, cases: readonly ChatMessage[][]): Promise<number[]> {
    const reference = loadReferenceModel(file);
    const model = await RewardModel.load(file, { contextSize: 2048 });
    try {
        return cases.map((c) => referenceRewards(reference, model.tokenizeConversation(c))[0]!);
    } finally {
        await model.dispose();
    }
}

export interface ExactComparison {
    ours: KernelChildResult<"exact">;
    ggml: KernelChildResult<"exact">;
    /** max |Δ| of each side's batched rewards from the float64 reference */
    oursError: number;
    ggmlError: number;
}

/**
 * `file` scored with exact settings (an F32 KV cache, no flash attention: the weight products are the only
 * difference from the float64 reference) in two children, one under `oursEnv` and one under `ggmlEnv`.
 */
export async function compareWithExactSettings(
    file: string,
    cases: readonly ChatMessage[][],
    oursEnv: Record<string, string>,
    ggmlEnv: Record<string, string>,
    options: Omit<KernelChildOptions<never>, "settings">,
): Promise<ExactComparison> {
    const exact = { ...options, settings: { exact: { flashAttention: false, kvCacheType: "f32" } } };
    const ours = scoreInChild(file, cases, oursEnv, exact);
    const ggml = scoreInChild(file, cases, ggmlEnv, exact);
    const expected = await referenceRewardsOf(file, cases);
    return {
        ours,
        ggml,
        oursError: maxAbsDiff(ours.scores.exact.batched, expected),
        ggmlError: maxAbsDiff(ggml.scores.exact.batched, expected),
    };
}
