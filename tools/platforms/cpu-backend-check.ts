/**
 * What the platform check (platform-check.ts) requires of addonInfo().cpuBackend
 * in an emulated run of a cross-built package: it names a CPU variant library
 * of the target (libggml-cpu-<variant>.so, ggml-cpu-<variant>.dll), the one
 * ggml's own log says it loaded, and says node-llama-cpp built it (the
 * cross-built packages ship its variants, and ggml-cpu-variants.json beside
 * them says so).
 */
import path from "node:path";
import type { CpuBackendInfo } from "../../src/addon/cpu-backend.js";

/** The ggml CPU library ggml loaded, from its log (LLAMA_REWARD_DEBUG=1), or undefined when the log does not say. */
export function loadedCpuVariant(stderr: string): string | undefined {
    const match = /loaded CPU backend from (.+?)\r?$/m.exec(stderr);
    return match === null ? undefined : path.basename(match[1]!.replace(/\\/g, "/"));
}

/** Why `backend` is not what the run must report, or undefined when it is. */
export function cpuBackendProblem(
    backend: CpuBackendInfo | null,
    variantFile: RegExp,
    loadedVariant: string | undefined,
): string | undefined {
    if (backend === null || !variantFile.test(backend.library)) {
        return `addonInfo().cpuBackend names ${backend === null ? "no library" : backend.library}, not a ${variantFile} file`;
    }
    if (backend.library !== loadedVariant) {
        return `addonInfo().cpuBackend names ${backend.library}, ggml's log ${loadedVariant ?? "no CPU library"}`;
    }
    if (backend.builtBy !== "node-llama-cpp")
        return `addonInfo().cpuBackend says ${backend.library} was built by ${backend.builtBy}, not node-llama-cpp`;
    return undefined;
}
