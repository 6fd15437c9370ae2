/**
 * Maps the user's backend choice (LLAMA_REWARD_GPU or the npm config
 * `llama_reward_gpu`) to llama.cpp's GGML_* CMake options, and parses the
 * pass-through of extra `-D` options (LLAMA_REWARD_CMAKE_ARGS).
 */

export type Backend = "cpu" | "cuda" | "metal" | "vulkan";
export const backends: readonly Backend[] = ["cpu", "cuda", "metal", "vulkan"];

/** The backend to build: explicit choice first, else Metal on macOS arm64, CPU elsewhere. */
export function resolveBackend(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, arch: string): Backend {
    const requested = (env.LLAMA_REWARD_GPU ?? env.npm_config_llama_reward_gpu ?? "").trim().toLowerCase();
    if (requested === "") return platform === "darwin" && arch === "arm64" ? "metal" : "cpu";
    if (requested === "false" || requested === "off" || requested === "none") return "cpu";
    if ((backends as readonly string[]).includes(requested)) return requested as Backend;
    throw new Error(`LLAMA_REWARD_GPU=${requested} is not one of ${backends.join(", ")}`);
}

/** GGML_* options for a backend. Every backend keeps the CPU backend for host-side work. */
export function backendCmakeOptions(backend: Backend): Record<string, string> {
    return {
        GGML_CUDA: backend === "cuda" ? "ON" : "OFF",
        GGML_METAL: backend === "metal" ? "ON" : "OFF",
        GGML_VULKAN: backend === "vulkan" ? "ON" : "OFF",
    };
}

/** Parses "-DFOO=1 -DBAR=x" (or "FOO=1 BAR=x") into a record of CMake definitions. */
export function parseExtraCmakeArgs(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const word of text.split(/\s+/).filter(Boolean)) {
        const match = /^(?:-D)?([A-Za-z_][A-Za-z0-9_]*)(?::[A-Z]+)?=(.*)$/.exec(word);
        if (!match) throw new Error(`LLAMA_REWARD_CMAKE_ARGS: "${word}" is not of the form -DNAME=VALUE`);
        out[match[1]!] = match[2]!;
    }
    return out;
}
