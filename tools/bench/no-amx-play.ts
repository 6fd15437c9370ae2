/**
 * `npm run bench -- --no-amx`: the benchmark on an AMX CPU as a CPU with
 * AVX-512 BF16 and no AMX (AMD Zen 4/5 class) would run it, on both sides:
 * llama-reward's AMX BF16 kernel off (LLAMA_REWARD_AMX_BF16=0) and BF16
 * weights on its AVX-512 BF16 kernel, as on an AMD CPU (LLAMA_REWARD_BF16_FMA=0:
 * on an Intel CPU its FMA kernel would take them), ggml limited to its zen4 CPU
 * variant (no AMX int8 kernels for quantized files) through a scratch copy of
 * the addon, and PyTorch's oneDNN capped at AVX512_CORE_BF16
 * (ONEDNN_MAX_CPU_ISA). Set in this process's environment before the addon
 * loads, so the bench, its workers and the torch peer all see it.
 */
import fs from "node:fs";
import path from "node:path";
import { addonFolderWithCpuVariant, hasCpuVariant } from "./cpu-variant-addon.js";

/** The environment of the play; returns what removes the scratch addon folder afterwards. */
export function playWithoutAmx(log: (line: string) => void): () => void {
    process.env.LLAMA_REWARD_AMX_BF16 = "0";
    process.env.LLAMA_REWARD_BF16_FMA = "0";
    process.env.ONEDNN_MAX_CPU_ISA = "AVX512_CORE_BF16";
    if (process.env.LLAMA_REWARD_ADDON_PATH !== undefined) {
        log(`--no-amx: LLAMA_REWARD_ADDON_PATH is set; its ggml CPU backends are used as they are`);
        return () => {};
    }
    if (!hasCpuVariant("zen4")) {
        log("--no-amx: build/Release has no libggml-cpu-zen4.so (a source build): ggml's kernels stay as compiled for this CPU");
        return () => {};
    }
    const dir = addonFolderWithCpuVariant("zen4");
    process.env.LLAMA_REWARD_ADDON_PATH = path.join(dir, "llama_reward.node");
    log(
        `--no-amx: LLAMA_REWARD_AMX_BF16=0, LLAMA_REWARD_BF16_FMA=0, ggml's zen4 CPU variant only (${dir}), ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16`,
    );
    return () => fs.rmSync(dir, { recursive: true, force: true });
}
