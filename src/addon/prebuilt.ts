/**
 * Names shared by the loader, the build and the packer: our per-platform
 * prebuilt package and the node-llama-cpp packages whose ggml libraries
 * (same llama.cpp release as our patched libllama) the prebuilt uses.
 */

/** node-llama-cpp release whose llama.cpp bundle and ggml binaries we build on (llama.cpp v0.4.0). */
export const nodeLlamaCppVersion = "3.21.1";

/**
 * Platforms with a prebuilt package: linux-x64 built here, linux-arm64 and
 * win32-x64 cross-built (tools/platforms/) and run under qemu-aarch64 and wine.
 */
export const prebuiltPlatforms: readonly string[] = ["linux-x64", "linux-arm64", "win32-x64"];

/** "linux-x64", "darwin-arm64", ... (Node's names). */
export function platformTag(platform: string = process.platform, arch: string = process.arch): string {
    return `${platform}-${arch}`;
}

/** Our prebuilt package for a platform, e.g. @llama-reward/linux-x64. */
export function platformPackageName(platform: string = process.platform, arch: string = process.arch): string {
    return `@llama-reward/${platformTag(platform, arch)}`;
}

/** Where the addon sits inside a prebuilt package, next to the ggml libraries it loads. */
export const prebuiltAddonDir = "bin";
export const addonFileName = "llama_reward.node";

/** The node-llama-cpp package and folder holding the ggml libraries a prebuilt-ggml build links against. */
export function ggmlSourcePackages(platform: string = process.platform, arch: string = process.arch): { pkg: string; dir: string }[] {
    if (platform === "linux" && arch === "x64") {
        return [
            { pkg: "@node-llama-cpp/linux-x64-vulkan", dir: "bins/linux-x64-vulkan" },
            { pkg: "@node-llama-cpp/linux-x64", dir: "bins/linux-x64" },
        ];
    }
    if (platform === "linux" && arch === "arm64") return [{ pkg: "@node-llama-cpp/linux-arm64", dir: "bins/linux-arm64" }];
    if (platform === "win32" && arch === "x64") return [{ pkg: "@node-llama-cpp/win-x64", dir: "bins/win-x64" }];
    return [];
}

/** CUDA backend libraries (ggml GGML_BACKEND_DL plugins) users may add, in the order tried. */
export function cudaBackendLibraries(platform: string = process.platform, arch: string = process.arch): { pkg: string; file: string }[] {
    if (platform === "linux" && arch === "x64") {
        return [
            { pkg: "@node-llama-cpp/linux-x64-cuda", file: "bins/linux-x64-cuda/libggml-cuda.so" }, // CUDA 13 runtime
            { pkg: "@node-llama-cpp/linux-x64-cuda-ext", file: "bins/linux-x64-cuda/fallback/libggml-cuda.so" }, // CUDA 12 runtime
        ];
    }
    return [];
}
