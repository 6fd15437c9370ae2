/**
 * The model-loading flags every command that loads a model accepts (score,
 * serve, eval, compare): their parseArgs definitions, their usage lines, and
 * `loadOptionsFrom`, which turns the parsed values into RewardModel.load
 * options. Each command spreads `loadFlags` into its own parseArgs options,
 * so the values keep parseArgs' types.
 */
import { bosPolicies } from "../model/bos-policy.js";
import { gpuOptions, type GpuOption } from "../model/gpu.js";
import { integerOptionBounds as bounds, type KvCacheType, type LoadOptions, type Truncation } from "../model/load-options.js";
import { invalidArgument } from "../errors.js";
import { resolveTemplateVariables } from "../model/template-variables.js";
import { resolveRpcServers } from "../model/rpc-servers.js";
import { choiceFlag, integerFlag } from "./flag-values.js";

export const loadFlags = {
    bos: { type: "string" },
    truncation: { type: "string" },
    "context-size": { type: "string" },
    "batch-size": { type: "string" },
    parallel: { type: "string" },
    threads: { type: "string" },
    "gpu-layers": { type: "string" },
    gpu: { type: "string" },
    "flash-attention": { type: "string" },
    "kv-cache-type": { type: "string" },
    reproducible: { type: "boolean" },
    "no-mmap": { type: "boolean" },
    "template-var": { type: "string", multiple: true },
    normalize: { type: "string" },
    rpc: { type: "string" },
} as const;

/** The values parseArgs returns for `loadFlags`. */
export type LoadFlagValues = {
    [K in keyof typeof loadFlags]?: (typeof loadFlags)[K] extends { multiple: true }
        ? string[]
        : (typeof loadFlags)[K]["type"] extends "boolean"
          ? boolean
          : string;
};

/** The usage lines of `loadFlags`, indented as the commands' option lists. */
export const loadFlagsUsage = `      --bos hf|single|none  BOS policy (default: hf)
      --truncation error|left  what to do with conversations longer than the context (default: error)
      --context-size N      KV cells shared by sequences in flight (default: the training context, at most 8192)
      --batch-size N        most tokens per decode (default: 512)
      --parallel N          most sequences decoded together (default: 8)
      --threads N           CPU threads (default: all)
      --gpu-layers N|max    layers offloaded to the GPU (default: max)
      --gpu auto|cuda|vulkan|metal|false  GPU backend (default: auto; false: CPU only)
      --flash-attention on|off|auto  flash attention (default: auto)
      --kv-cache-type f16|f32|q8_0  KV cache element type (default: f16; q8_0 needs flash attention)
      --reproducible        rewards independent of batching and of what else is in flight
      --no-mmap             read the file into memory instead of mapping it
      --rpc HOST:PORT,...   put the offloaded layers on these ggml RPC servers (llama-reward rpc-server)
      --normalize on|off    rewards as (r - mean) / std with the checkpoint's mean and std (default: what the checkpoint says)
      --template-var NAME=VALUE  a string variable for the chat template, e.g. date_string="26 Jul 2024" (repeatable)`;

const truncations: readonly Truncation[] = ["error", "left"];
const kvCacheTypes: readonly KvCacheType[] = ["f16", "f32", "q8_0"];
const flashAttentionModes = { on: true, off: false, auto: "auto" } as const;
const gpuFlagValues = [...gpuOptions, "false", "cpu"] as const;

/** The templateVariables option from `--template-var NAME=VALUE` flags (values are strings; validated at load). */
function templateVariablesFrom(flags: readonly string[]): Record<string, string> {
    const variables: Record<string, string> = {};
    for (const flag of flags) {
        const eq = flag.indexOf("=");
        if (eq <= 0) throw invalidArgument(`--template-var must be NAME=VALUE, got "${flag}"`);
        const name = flag.slice(0, eq);
        if (Object.hasOwn(variables, name)) throw invalidArgument(`--template-var ${name} is given twice`);
        variables[name] = flag.slice(eq + 1);
    }
    try {
        resolveTemplateVariables(variables); // a reserved or unreadable name, named with its flag
    } catch (error) {
        throw invalidArgument(`--template-var: ${(error as Error).message}`);
    }
    return variables;
}

/** RewardModel.load options from the parsed load flags; flags not given are left out (the defaults apply). */
export function loadOptionsFrom(values: LoadFlagValues): LoadOptions {
    const options: LoadOptions = {
        bos: choiceFlag(values.bos, "bos", bosPolicies),
        truncation: choiceFlag(values.truncation, "truncation", truncations),
        contextSize: integerFlag(values["context-size"], "context-size", bounds.contextSize.min, bounds.contextSize.max),
        batchSize: integerFlag(values["batch-size"], "batch-size", bounds.batchSize.min, bounds.batchSize.max),
        parallel: integerFlag(values.parallel, "parallel", bounds.parallel.min, bounds.parallel.max),
        threads: integerFlag(values.threads, "threads", bounds.threads.min, bounds.threads.max),
        gpuLayers:
            values["gpu-layers"] === "max"
                ? "max"
                : integerFlag(values["gpu-layers"], "gpu-layers", bounds.gpuLayers.min, bounds.gpuLayers.max),
        kvCacheType: choiceFlag(values["kv-cache-type"], "kv-cache-type", kvCacheTypes),
    };
    const gpu = choiceFlag(values.gpu, "gpu", gpuFlagValues);
    if (gpu !== undefined) options.gpu = gpu === "false" || gpu === "cpu" ? false : (gpu as GpuOption);
    const flash = choiceFlag(
        values["flash-attention"],
        "flash-attention",
        Object.keys(flashAttentionModes) as (keyof typeof flashAttentionModes)[],
    );
    if (flash !== undefined) options.flashAttention = flashAttentionModes[flash];
    if (options.kvCacheType === "q8_0" && options.flashAttention === false) {
        throw invalidArgument("--kv-cache-type q8_0 needs flash attention: --flash-attention on or auto");
    }
    if (values.reproducible === true) options.reproducible = true;
    if (values["no-mmap"] === true) options.useMmap = false;
    const normalize = choiceFlag(values.normalize, "normalize", ["on", "off"] as const);
    if (normalize !== undefined) options.normalize = normalize === "on";
    if (values.rpc !== undefined) {
        try {
            options.rpc = resolveRpcServers(values.rpc.split(","));
        } catch (error) {
            throw invalidArgument(`--rpc: ${(error as Error).message}`);
        }
    }
    if (values["template-var"] !== undefined) options.templateVariables = templateVariablesFrom(values["template-var"]);
    for (const key of Object.keys(options) as (keyof LoadOptions)[]) if (options[key] === undefined) delete options[key];
    return options;
}
