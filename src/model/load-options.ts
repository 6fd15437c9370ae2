/**
 * RewardModel.load options: their types, validation and defaults. Every
 * option is checked here, before anything reaches llama.cpp.
 */
import os from "node:os";
import { bosPolicies, type BosPolicy } from "./bos-policy.js";
import { invalidArgument } from "../errors.js";
import { gpuOptions, type GpuOption } from "./gpu.js";
import { resolveTemplateVariables, type TemplateValue } from "./template-variables.js";
import { resolveNormalize, type RewardNormalization } from "./reward-normalization.js";
import { resolveRpcServers } from "./rpc-servers.js";

export type KvCacheType = "f16" | "f32" | "q8_0";
export type Truncation = "error" | "left";

export interface LoadProgress {
    /** 0..1 share of the weights loaded. */
    progress: number;
}

export interface LoadOptions {
    /** CPU threads for decoding. Default: os.availableParallelism(). */
    threads?: number;
    /** KV cache cells shared by all sequences in flight. Default: the training context, capped at 8192. */
    contextSize?: number;
    /** Most tokens per llama_decode call. Default: 512 (at most contextSize). */
    batchSize?: number;
    /** Most sequences decoded together (at most batchSize). Default: 8 (or batchSize, if smaller). */
    parallel?: number;
    /** Layers offloaded to the GPU: a number or "max". Default: "max" (no effect on a CPU build). */
    gpuLayers?: number | "max";
    /**
     * GPU backend: "auto", "cuda", "vulkan", "metal" or false (CPU only). Default: "auto": Metal on
     * Apple silicon, else CUDA when a CUDA device is present, else a Vulkan GPU, else the CPU.
     * A named backend without a usable device rejects with ERR_GPU_UNAVAILABLE.
     */
    gpu?: GpuOption;
    /**
     * Flash attention: true, false or "auto". Default: "auto" (see
     * flashAttentionMode): llama.cpp's own choice when layers are offloaded
     * to a GPU; with every layer on the CPU, on for an F16 cache whose head
     * size is a multiple of 16 (llama.cpp's tiled kernel, which computes in
     * F32 from the F16 cache and skips masked cells) and for a q8_0 cache
     * (which needs it), off for an F32 cache and for other head sizes.
     */
    flashAttention?: boolean | "auto";
    /** KV cache element type. Default: "f16". "q8_0" needs flash attention. */
    kvCacheType?: KvCacheType;
    /** BOS policy, see docs/fidelity.md. Default: "hf". */
    bos?: BosPolicy;
    /** What to do with a conversation longer than the context. Default: "error". */
    truncation?: Truncation;
    /**
     * Variables the chat template reads besides messages, bos_token and eos_token (JSON values), e.g.
     * `{ date_string: "26 Jul 2024" }`: Llama-3.2 templates otherwise write today's date
     * (`strftime_now("%d %b %Y")`, as transformers renders them), so rewards change with the calendar.
     * Default: none.
     */
    templateVariables?: Record<string, TemplateValue>;
    /**
     * Return normalized rewards `(r - mean) / std` with the mean and std an OpenRLHF-trained checkpoint
     * carries (kept by convert from config.json). Default: the checkpoint's `normalize_reward` (false for a
     * file without them); true on a file without them is ERR_INVALID_OPTION.
     */
    normalize?: boolean;
    /** Map the file instead of reading it into memory. Default: true. */
    useMmap?: boolean;
    /**
     * ggml RPC servers (`"host:port"`, e.g. started with `llama-reward rpc-server`) that hold the offloaded
     * layers (`gpuLayers`, default all), split in proportion to their free memory as llama.cpp does. Each is
     * probed at load; one that does not answer within 5 s rejects with ERR_LOAD_FAILED. Default: none.
     */
    rpc?: string[];
    /**
     * Bitwise-reproducible rewards: a conversation's reward does not depend on
     * what else is in flight or how calls are batched (one sequence per decode
     * step, fixed chunk boundaries, shared prompts cut to whole chunks).
     * Default: false.
     */
    reproducible?: boolean;
    /**
     * Reject a file without a reward head (cls.output.weight) with ERR_NO_REWARD_HEAD. Default: true.
     * false loads for hiddenStates(): a file without a head (a chat model) loads too, and its score calls
     * reject with ERR_NO_REWARD_HEAD; the hidden-state context is created at load, a rewards one on first use.
     */
    requireRewardHead?: boolean;
    /**
     * false: load in this process (the default). For `isolate: true` (an engine
     * process of its own, for files you do not trust) see IsolatedLoadOptions.
     */
    isolate?: false;
    /** Aborts loading. */
    signal?: AbortSignal;
    /** Called as loading progresses. */
    onProgress?: (progress: LoadProgress) => void;
}

/**
 * RewardModel.load options for a model that loads and scores in an engine
 * process of its own (docs/model-validation.md): a crash of llama.cpp then
 * rejects the calls in flight with ERR_ENGINE_CRASHED instead of killing this
 * process. RewardModel.load resolves to an IsolatedRewardModel.
 */
export interface IsolatedLoadOptions extends Omit<LoadOptions, "isolate"> {
    isolate: true;
}

export interface ResolvedLoadOptions {
    threads: number;
    contextSize: number;
    batchSize: number;
    parallel: number;
    gpuLayers: number | "max";
    gpu: GpuOption;
    flashAttention: boolean | "auto";
    kvCacheType: KvCacheType;
    bos: BosPolicy;
    truncation: Truncation;
    templateVariables: Readonly<Record<string, TemplateValue>>;
    normalize: boolean;
    useMmap: boolean;
    rpc: string[];
    reproducible: boolean;
}

/**
 * The fixed bounds of the integer options (batchSize is also at most
 * contextSize, and parallel at most batchSize). The CLI checks its flags
 * against them too, so its errors name the flag.
 */
export const integerOptionBounds = {
    contextSize: { min: 16, max: 1 << 20 },
    batchSize: { min: 1, max: 1 << 20 },
    parallel: { min: 1, max: 256 },
    threads: { min: 1, max: 1024 },
    gpuLayers: { min: 0, max: 100000 },
} as const;

const knownOptions = new Set([
    "threads",
    "contextSize",
    "batchSize",
    "parallel",
    "gpuLayers",
    "gpu",
    "flashAttention",
    "kvCacheType",
    "bos",
    "truncation",
    "templateVariables",
    "normalize",
    "useMmap",
    "rpc",
    "reproducible",
    "requireRewardHead",
    "isolate",
    "signal",
    "onProgress",
]);

const bounds = integerOptionBounds;

function integerOption(value: unknown, name: string, min: number, max: number): number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        throw invalidArgument(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
    }
    return value;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
    if (typeof value !== "string" || !allowed.includes(value as T)) {
        throw invalidArgument(`${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${JSON.stringify(value)}`);
    }
    return value as T;
}

/**
 * Validates `options` and fills in defaults; `trainContextLength` and `normalization` (the reward
 * normalization the file carries, if any) come from the model file.
 */
export function resolveLoadOptions(
    options: LoadOptions | undefined,
    trainContextLength: number,
    normalization: RewardNormalization | null = null,
): ResolvedLoadOptions {
    const o = (options ?? {}) as Record<string, unknown>;
    if (typeof o !== "object") throw invalidArgument("options must be an object");
    for (const key of Object.keys(o)) {
        if (!knownOptions.has(key)) throw invalidArgument(`unknown option "${key}"`);
    }
    const defaultContext = Math.max(1, Math.min(trainContextLength > 0 ? trainContextLength : 8192, 8192));
    const contextSize =
        o.contextSize === undefined
            ? defaultContext
            : integerOption(o.contextSize, "contextSize", bounds.contextSize.min, bounds.contextSize.max);
    const batchSize =
        o.batchSize === undefined ? Math.min(512, contextSize) : integerOption(o.batchSize, "batchSize", bounds.batchSize.min, contextSize);
    // llama.cpp sizes its output buffer by the batch and asserts (killing the process) when
    // there are more sequences than that, so parallel may not exceed batchSize.
    const parallel =
        o.parallel === undefined
            ? Math.min(8, batchSize)
            : integerOption(o.parallel, "parallel", bounds.parallel.min, Math.min(bounds.parallel.max, batchSize));
    const threads =
        o.threads === undefined
            ? Math.max(1, os.availableParallelism())
            : integerOption(o.threads, "threads", bounds.threads.min, bounds.threads.max);
    let gpuLayers: number | "max" = "max";
    if (o.gpuLayers !== undefined && o.gpuLayers !== "max")
        gpuLayers = integerOption(o.gpuLayers, "gpuLayers", bounds.gpuLayers.min, bounds.gpuLayers.max);
    const gpu: GpuOption = o.gpu === undefined ? "auto" : o.gpu === false ? false : oneOf(o.gpu, "gpu", gpuOptions);
    let flashAttention: boolean | "auto" = "auto";
    if (o.flashAttention !== undefined) {
        if (o.flashAttention !== true && o.flashAttention !== false && o.flashAttention !== "auto") {
            throw invalidArgument(`flashAttention must be true, false or "auto", got ${JSON.stringify(o.flashAttention)}`);
        }
        flashAttention = o.flashAttention;
    }
    const kvCacheType = o.kvCacheType === undefined ? "f16" : oneOf(o.kvCacheType, "kvCacheType", ["f16", "f32", "q8_0"] as const);
    if (kvCacheType === "q8_0" && flashAttention === false) {
        throw invalidArgument('kvCacheType "q8_0" needs flash attention; use flashAttention: true or "auto"');
    }
    const bos = o.bos === undefined ? "hf" : oneOf(o.bos, "bos", bosPolicies);
    const truncation = o.truncation === undefined ? "error" : oneOf(o.truncation, "truncation", ["error", "left"] as const);
    if (o.useMmap !== undefined && typeof o.useMmap !== "boolean") throw invalidArgument("useMmap must be a boolean");
    if (o.reproducible !== undefined && typeof o.reproducible !== "boolean") throw invalidArgument("reproducible must be a boolean");
    if (o.requireRewardHead !== undefined && typeof o.requireRewardHead !== "boolean") {
        throw invalidArgument("requireRewardHead must be a boolean");
    }
    if (o.isolate !== undefined && typeof o.isolate !== "boolean") throw invalidArgument("isolate must be a boolean");
    if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidArgument("signal must be an AbortSignal");
    if (o.onProgress !== undefined && typeof o.onProgress !== "function") throw invalidArgument("onProgress must be a function");
    return {
        threads,
        contextSize,
        batchSize,
        parallel,
        gpuLayers,
        gpu,
        flashAttention,
        kvCacheType,
        bos,
        truncation,
        templateVariables: resolveTemplateVariables(o.templateVariables),
        normalize: resolveNormalize(o.normalize, normalization),
        useMmap: o.useMmap === undefined ? true : (o.useMmap as boolean),
        rpc: resolveRpcServers(o.rpc),
        reproducible: o.reproducible === true,
    };
}

/**
 * The flash-attention mode handed to llama.cpp. "auto" is decided per
 * backend. On a GPU it is llama.cpp's own choice. On the CPU it is on where
 * llama.cpp's tiled CPU kernel applies (head size a multiple of 16): that
 * kernel computes in F32 from the F16 cache, is more accurate than the
 * F16 matrix products of the path without it, and skips the masked cells of
 * other sequences in the unified KV cache, which the path without it
 * multiplies (measured on the 1B bench model, 3 conversations of
 * 1500-2100 tokens, against flash attention off with an F32 cache: on
 * 5.8e-4, off 1.5e-3; 2.1x faster). Off for other head sizes, whose kernel
 * accumulates in half precision (1.2e-2 relative on a 1576-token
 * conversation with head size 8), and with an F32 cache, which flash
 * attention would round to F16. A q8_0 cache needs it on.
 */
export function flashAttentionMode(
    setting: boolean | "auto",
    layersOnGpu: boolean,
    kvCacheType: KvCacheType,
    headSize: number,
): "on" | "off" | "auto" {
    if (setting !== "auto") return setting ? "on" : "off";
    if (layersOnGpu) return "auto";
    if (kvCacheType === "q8_0") return "on";
    return kvCacheType === "f16" && headSize % 16 === 0 ? "on" : "off";
}
