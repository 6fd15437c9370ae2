/**
 * Plays another kind of CPU on this one: a scratch copy of build/Release's
 * addon and ggml libraries that keeps only one of ggml's CPU variants
 * (e.g. zen4: AVX-512 BF16 and VNNI without AMX; haswell: AVX2 only), for
 * LLAMA_REWARD_ADDON_PATH. Only a build on the prebuilt ggml (one
 * libggml-cpu-<variant>.so per variant) can be restricted this way; a source
 * build links ggml in, compiled for this CPU.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { root } from "./bench-paths.js";

const releaseDir = path.join(root, "build", "Release");

/** Whether build/Release holds ggml's CPU variant `variant` (libggml-cpu-<variant>.so). */
export function hasCpuVariant(variant: string): boolean {
    return fs.existsSync(path.join(releaseDir, `libggml-cpu-${variant}.so`));
}

/**
 * A scratch folder holding the addon and ggml's libraries with only `variant`'s CPU backend (every
 * variant when undefined) and no Vulkan, copied from `from` (build/Release by default); the caller removes it.
 * The addon in it is `<folder>/llama_reward.node`.
 */
export function addonFolderWithCpuVariant(variant: string | undefined, from: string = releaseDir): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `llama-reward-cpu-${variant ?? "all"}-`));
    for (const f of fs.readdirSync(from)) {
        const cpuBackend = /^libggml-cpu-(.+)\.so$/.exec(f);
        if (f === "libggml-vulkan.so" || (cpuBackend && variant !== undefined && cpuBackend[1] !== variant)) continue;
        fs.copyFileSync(path.join(from, f), path.join(dir, f));
    }
    return dir;
}
