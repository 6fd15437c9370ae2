/**
 * Chooses the GPU backend and devices a model loads onto, from the ggml
 * devices this process has (backendDevices()) and the user's `gpu` option.
 * Pure functions over plain data: the addon only reports what it loaded.
 */
import { RewardModelError } from "../errors.js";
import type { NativeBackendStatus, NativeDevice } from "../addon/native-types.js";

export type GpuBackend = "cuda" | "vulkan" | "metal";
export type GpuOption = "auto" | GpuBackend | false;
export const gpuOptions: readonly (GpuOption & string)[] = ["auto", "cuda", "vulkan", "metal"];

/** ggml's registry name for each backend we select by. */
export const gpuRegistryNames: Readonly<Record<GpuBackend, string>> = { cuda: "CUDA", vulkan: "Vulkan", metal: "Metal" };

export interface GpuSelection {
    /** The backend holding the offloaded layers, or null for CPU only. */
    backend: GpuBackend | null;
    /** ggml device names passed to llama.cpp (empty: CPU only). */
    devices: string[];
}

/** What the process knows about its backends, to explain a missing one. */
export interface GpuEnvironment {
    devices: readonly NativeDevice[];
    status: NativeBackendStatus;
    platform: NodeJS.Platform;
    arch: string;
}

function gpuDevicesOf(backend: GpuBackend, devices: readonly NativeDevice[]): NativeDevice[] {
    const registry = gpuRegistryNames[backend];
    return devices.filter((d) => d.backend === registry && (d.type === "gpu" || d.type === "igpu"));
}

/** Why `backend` has no usable device here, in words that say what to install or set. */
export function unavailableReason(backend: GpuBackend, env: GpuEnvironment): string {
    const registry = gpuRegistryNames[backend];
    if (backend === "metal" && env.platform !== "darwin") return "Metal exists only on macOS";
    const registered = env.status.registries.includes(registry);
    if (registered) {
        const any = env.devices.filter((d) => d.backend === registry);
        if (backend === "vulkan") {
            return any.length === 0
                ? "the Vulkan backend found no usable device: no GPU with a Vulkan driver (a CPU-only Vulkan device such as lavapipe is used only with GGML_VK_VISIBLE_DEVICES set)"
                : `the Vulkan devices (${any.map((d) => d.description).join(", ")}) are not GPUs`;
        }
        return `the ${registry} backend found no device (is the ${backend === "cuda" ? "NVIDIA driver" : "GPU driver"} installed?)`;
    }
    const failures = env.status.failures.filter((f) => f.backend === backend);
    if (failures.length > 0)
        return `${failures.map((f) => `${f.library} did not load: ${f.error}`).join("; ")}${
            backend === "cuda"
                ? " (install the NVIDIA driver and the CUDA runtime with cuBLAS it names)"
                : backend === "vulkan"
                  ? " (install the Vulkan loader, libvulkan1, and a Vulkan driver)"
                  : ""
        }`;
    if (!env.status.dynamicBackends) {
        return (
            `this source build has no ${registry} backend compiled in; rebuild with LLAMA_REWARD_GPU=${backend} ` +
            "(`npx llama-reward build`), or use the prebuilt binaries, which load GPU backends at run time"
        );
    }
    if (backend === "cuda") {
        return (
            `the CUDA backend is not installed: add @node-llama-cpp/${env.platform}-${env.arch}-cuda@${env.status.ggmlPackageVersion} ` +
            "(and -cuda-ext for CUDA 12 runtimes) to your project"
        );
    }
    return `no ${registry} backend library was found next to the addon`;
}

/**
 * Resolves the `gpu` option to a backend and its devices. "auto" takes Metal
 * on Apple silicon, else CUDA when a CUDA device is present, else Vulkan
 * when a Vulkan GPU is present, else the CPU. An explicit backend without a
 * usable device rejects with ERR_GPU_UNAVAILABLE.
 */
export function selectGpu(option: GpuOption, env: GpuEnvironment): GpuSelection {
    if (option === false) return { backend: null, devices: [] };
    const order: GpuBackend[] =
        option === "auto"
            ? env.platform === "darwin" && env.arch === "arm64"
                ? ["metal", "cuda", "vulkan"]
                : ["cuda", "vulkan", "metal"]
            : [option];
    for (const backend of order) {
        const devices = gpuDevicesOf(backend, env.devices);
        if (devices.length > 0) return { backend, devices: devices.map((d) => d.name) };
    }
    if (option === "auto") return { backend: null, devices: [] };
    throw new RewardModelError("ERR_GPU_UNAVAILABLE", `gpu: "${option}" is not available: ${unavailableReason(option, env)}`);
}

/** Layers llama.cpp puts on the GPU: its act_gpu_layers (llama-model.cpp), counting the output layer. */
export function offloadedLayerCount(selection: GpuSelection, gpuLayers: number | "max", layerCount: number): number {
    if (selection.devices.length === 0) return 0;
    return Math.min(gpuLayers === "max" ? layerCount + 1 : gpuLayers, layerCount + 1);
}
