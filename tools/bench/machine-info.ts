/**
 * The facts a benchmark result needs next to it: CPU model, threads, which
 * kernel multiplies BF16 weights (llama-reward's AMX or AVX-512 BF16 kernel,
 * or ggml's), the ggml CPU features in use and the CPU variant that has them
 * (who built it, with which compiler), and the versions of Node,
 * llama-reward, node-llama-cpp and the llama.cpp release both are built from.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CpuBackendInfo } from "../../src/addon/cpu-backend.js";
import type { Bf16Kernel, F16Kernel, F32Kernel } from "../../src/addon/native-types.js";
import { addonInfo, cpuInfo } from "../../src/model/system.js";
import { root } from "./bench-paths.js";

export interface MachineInfo {
    cpu: string;
    cores: number;
    threads: number;
    memoryGiB: number;
    /** The kernel BF16 weight products run on in this process and its children (same environment). */
    bf16Kernel: Bf16Kernel;
    /** The kernel F32 weight products run on. */
    f32Kernel: F32Kernel;
    /** The kernel F16 weight products run on. */
    f16Kernel: F16Kernel;
    /** The byte alignment of the CPU backend's intermediate tensors (addonInfo().computeAlignment). */
    computeAlignment: number;
    /** The ggml CPU backend's features in use (llama.cpp's system line). */
    ggmlCpu: string[];
    /** The ggml CPU variant loaded, who built it and with which compiler (addonInfo().cpuBackend); null when compiled in. */
    cpuBackend: CpuBackendInfo | null;
    node: string;
    llamaReward: string;
    llamaCppTag: string;
    nodeLlamaCpp: string;
}

function readJson(file: string): Record<string, unknown> {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

function cpuModel(): string {
    try {
        const line = fs
            .readFileSync("/proc/cpuinfo", "utf8")
            .split("\n")
            .find((l) => l.startsWith("model name"));
        if (line) return line.split(":")[1]!.trim();
    } catch {
        // not Linux
    }
    return os.cpus()[0]?.model ?? "unknown";
}

export function machineInfo(threads: number): MachineInfo {
    const nlc = path.join(root, "node_modules", "node-llama-cpp");
    const report = cpuInfo();
    const addon = addonInfo();
    return {
        cpu: cpuModel(),
        cores: os.availableParallelism(),
        threads,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        bf16Kernel: report.bf16Kernel,
        f32Kernel: report.f32Kernel,
        f16Kernel: report.f16Kernel,
        computeAlignment: addon.computeAlignment,
        ggmlCpu: report.build,
        cpuBackend: addon.cpuBackend,
        node: process.version,
        llamaReward: String(readJson(path.join(root, "package.json")).version),
        llamaCppTag: String(readJson(path.join(nlc, "llama", "llama.cpp.info.json")).tag),
        nodeLlamaCpp: String(readJson(path.join(nlc, "package.json")).version),
    };
}
