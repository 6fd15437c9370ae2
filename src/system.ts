/**
 * What the native build can run on: llama.cpp's system line and the ggml
 * devices (CPU, CUDA, Metal, Vulkan) compiled in.
 */
import { loadAddon } from "./native/load-addon.js";
import type { NativeDevice } from "./native/native-types.js";

export type BackendDevice = NativeDevice;

/** llama.cpp's one-line summary of the CPU features and backends compiled in. */
export function systemInfo(): string {
    return loadAddon().systemInfo();
}

/** The ggml devices available to this build (name, type and memory). */
export function backendDevices(): BackendDevice[] {
    return loadAddon().backendDevices();
}
