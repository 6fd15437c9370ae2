/**
 * What the native build can run on: llama.cpp's system line, the ggml
 * devices (CPU, CUDA, Metal, Vulkan) this process can use, and which addon
 * file was loaded.
 */
import { loadAddon, loadedAddon, type AddonSource } from "../addon/load-addon.js";
import { type CpuBackendInfo, describeCpuBackend } from "../addon/cpu-backend.js";
import type { Bf16Kernel, F16Kernel, F32Kernel, NativeDevice } from "../addon/native-types.js";
import { cpuReport, type CpuReport } from "./cpu-features.js";

export type BackendDevice = NativeDevice;

export interface AddonInfo {
    /** Where the addon came from: LLAMA_REWARD_ADDON_PATH, a local source build, or the prebuilt platform package. */
    source: AddonSource;
    path: string;
    /** Backends load at run time (prebuilt ggml) rather than being compiled in. */
    dynamicBackends: boolean;
    /** ggml backends loaded, e.g. ["CPU", "Vulkan"]. */
    registries: string[];
    /** GPU backend libraries that are present but did not load, and why. */
    unavailable: { backend: string; library: string; error: string }[];
    /**
     * BF16 weights on the CPU are multiplied on AMX tiles (x86-64 Linux on a CPU with AMX-BF16, e.g. Xeon
     * Sapphire Rapids and later); false elsewhere, or with LLAMA_REWARD_AMX_BF16=0.
     */
    amxBf16: boolean;
    /**
     * The kernel that multiplies BF16 weights on the CPU: "amx" (above), "avx512-bf16" (llama-reward's
     * AVX-512 BF16 kernel: x86-64 Linux or Windows on an AMD CPU with AVX-512 BF16, e.g. Zen 4/5, or with
     * LLAMA_REWARD_AMX_BF16=0 on one), "avx512-fma" (llama-reward's AVX-512 FMA kernel, weights widened to
     * F32: x86-64 Linux or Windows on an AVX-512 CPU without AVX-512 BF16, e.g. Intel Skylake-SP to Ice Lake, or an
     * Intel one without AMX in use), "avx2-fma" (llama-reward's AVX2 kernel, weights widened to F32: x86-64
     * Linux or Windows on a CPU with AVX2, FMA and F16C but no AVX-512, e.g. most Intel laptops and AMD Zen 1-3),
     * "neon-fma" (llama-reward's NEON kernel, weights widened to F32: AArch64 Linux), or "ggml"
     * (llama.cpp's own; LLAMA_REWARD_AVX512_BF16=0 and LLAMA_REWARD_BF16_FMA=0 switch llama-reward's AVX-512
     * ones off, LLAMA_REWARD_AVX2=0 the AVX2 one, LLAMA_REWARD_NEON=0 the NEON one).
     */
    bf16Kernel: Bf16Kernel;
    /**
     * The kernel that multiplies F32 weights on the CPU: "avx512-f32" (llama-reward's AVX-512 kernel: x86-64
     * Linux or Windows on a CPU with AVX-512 F/BW/VL/DQ, e.g. Intel Skylake-SP and later, AMD Zen 4/5), "avx2-f32" (its
     * AVX2 counterpart, on CPUs with AVX2, FMA and F16C but no AVX-512), "neon-f32" (its NEON counterpart: AArch64
     * Linux) or "ggml" (llama.cpp's own; also with LLAMA_REWARD_AVX512_F32=0, LLAMA_REWARD_AVX2=0 on an AVX2 CPU,
     * or LLAMA_REWARD_NEON=0).
     */
    f32Kernel: F32Kernel;
    /**
     * The kernel that multiplies F16 weights on the CPU: "avx512-f16" (the same AVX-512 kernel, each weight
     * widened to F32 exactly and the activations kept in F32; x86-64 Linux or Windows with AVX-512 F/BW/VL/DQ), "avx2-f16"
     * (the AVX2 kernel, the same way, on CPUs with AVX2, FMA and F16C but no AVX-512), "neon-f16" (the NEON
     * kernel, the same way: AArch64 Linux) or "ggml" (llama.cpp's own, which rounds the activations to F16, and
     * on Arm cores with FP16 arithmetic also sums in F16; also with LLAMA_REWARD_AVX512_F16=0, LLAMA_REWARD_AVX2=0
     * on an AVX2 CPU, or LLAMA_REWARD_NEON=0).
     */
    f16Kernel: F16Kernel;
    /**
     * The byte alignment of the intermediate tensors of the CPU backend's compute buffer: 64 (a cache line;
     * llama-reward's buffer type), or ggml's own 32 with LLAMA_REWARD_ALIGNED_COMPUTE=0. ggml's AMX int8
     * kernel (Q8_0 and the other quantized types on AMX CPUs) runs at about 0.6x its speed on outputs that
     * start 32 bytes into a cache line.
     */
    computeAlignment: number;
    /**
     * The ggml CPU backend variant ggml chose for this CPU (prebuilt ggml: libggml-cpu-<variant>.so, on Windows
     * ggml-cpu-<variant>.dll, beside the addon), who built it ("llama-reward" or "node-llama-cpp") and with which
     * compiler (null on Windows: the DLLs record none); null where the CPU backend is compiled into the addon
     * (a source build).
     */
    cpuBackend: CpuBackendInfo | null;
}

/** The addon in use and its backends (loads it first). */
export function addonInfo(): AddonInfo {
    const { addon, source, path, backends } = loadedAddon();
    // an addon built before a kernel (an older platform package, LLAMA_REWARD_ADDON_PATH) lacks its export
    const amxBf16 = typeof addon.amxBf16 === "function" && addon.amxBf16();
    const cpuLibrary = typeof addon.cpuBackendLibrary === "function" ? addon.cpuBackendLibrary() : null;
    return {
        source,
        path,
        dynamicBackends: backends.dynamicBackends,
        registries: [...backends.registries],
        unavailable: [...backends.failures],
        amxBf16,
        bf16Kernel: typeof addon.bf16Kernel === "function" ? addon.bf16Kernel() : amxBf16 ? "amx" : "ggml",
        f32Kernel: typeof addon.f32Kernel === "function" ? addon.f32Kernel() : "ggml",
        f16Kernel: typeof addon.f16Kernel === "function" ? addon.f16Kernel() : "ggml",
        computeAlignment: typeof addon.computeAlignment === "function" ? addon.computeAlignment() : 32,
        cpuBackend: cpuLibrary ? describeCpuBackend(cpuLibrary) : null,
    };
}

/** llama.cpp's one-line summary of the CPU features and backends compiled in. */
export function systemInfo(): string {
    return loadAddon().systemInfo();
}

/** The ggml devices this process can use (name, backend, type and memory); GPU backends that failed to load are absent. */
export function backendDevices(): BackendDevice[] {
    return loadAddon().backendDevices();
}

/**
 * The CPU features that matter for scoring speed (AVX2, AVX-512, AVX-512 BF16, VNNI, AMX, NEON, dotprod),
 * as the processor reports them and as the loaded ggml CPU backend uses them, and the file type to use.
 */
export function cpuInfo(): CpuReport {
    const { bf16Kernel, f32Kernel, f16Kernel } = addonInfo();
    return cpuReport(systemInfo(), { bf16Kernel, f32Kernel, f16Kernel });
}
