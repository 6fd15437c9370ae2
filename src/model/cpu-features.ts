/**
 * The CPU features that decide how fast scoring runs (AVX2, AVX-512,
 * AVX-512 BF16, VNNI, AMX, NEON, dotprod), from the processor (Linux
 * /proc/cpuinfo, macOS sysctl) and from the ggml CPU backend the addon
 * loaded (llama.cpp's system line), and which file type to use on them.
 * Scoring is prompt processing only, so it is bound by arithmetic, not by
 * memory bandwidth: the fastest type is the one the CPU multiplies fastest.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";

/** true/false as the processor reports it; null where this platform does not say. */
export interface CpuFeatureFlags {
    avx2: boolean | null;
    avx512: boolean | null;
    avx512Bf16: boolean | null;
    /** AVX-512 VNNI or AVX-VNNI (int8 dot products). */
    vnni: boolean | null;
    amxBf16: boolean | null;
    amxInt8: boolean | null;
    neon: boolean | null;
    dotprod: boolean | null;
    /** Arm BF16 instructions (FEAT_BF16). */
    armBf16: boolean | null;
    /** Arm int8 matrix multiply (FEAT_I8MM). */
    i8mm: boolean | null;
}

export type RecommendedFileType = "BF16" | "Q8_0" | "Q4_K_M";

export interface FileTypeRecommendation {
    fileType: RecommendedFileType;
    /** One sentence: why this type on this CPU. */
    reason: string;
    /** Where memory allows less than the recommended type needs: the type that fits, and why. */
    ifMemoryIsTight?: { fileType: RecommendedFileType; reason: string };
}

export interface CpuReport {
    arch: string;
    model: string;
    /** What the processor reports. */
    cpu: CpuFeatureFlags;
    /** The features the loaded ggml CPU backend was built for, e.g. ["AVX2", "AVX512_BF16", "AMX_INT8"]. */
    build: string[];
    /** BF16 weight products run on AMX tiles (llama-reward's own kernel; x86-64 Linux with AMX-BF16). */
    bf16OnAmx: boolean;
    recommendation: FileTypeRecommendation;
}

const NONE: CpuFeatureFlags = {
    avx2: null,
    avx512: null,
    avx512Bf16: null,
    vnni: null,
    amxBf16: null,
    amxInt8: null,
    neon: null,
    dotprod: null,
    armBf16: null,
    i8mm: null,
};

/** Feature flags from the text of Linux's /proc/cpuinfo (x86 "flags" or Arm "Features" line). */
export function parseCpuinfo(text: string, arch: string): CpuFeatureFlags {
    const line = text.split("\n").find((l) => /^(flags|Features)\s*:/.test(l));
    if (line === undefined) return { ...NONE };
    const f = new Set(
        line
            .slice(line.indexOf(":") + 1)
            .trim()
            .split(/\s+/),
    );
    if (arch === "x64" || arch === "ia32") {
        return {
            ...NONE,
            avx2: f.has("avx2"),
            avx512: f.has("avx512f"),
            avx512Bf16: f.has("avx512_bf16"),
            vnni: f.has("avx512_vnni") || f.has("avx_vnni"),
            amxBf16: f.has("amx_bf16"),
            amxInt8: f.has("amx_int8"),
        };
    }
    if (arch === "arm64" || arch === "arm") {
        return { ...NONE, neon: f.has("asimd") || f.has("neon"), dotprod: f.has("asimddp"), armBf16: f.has("bf16"), i8mm: f.has("i8mm") };
    }
    return { ...NONE };
}

/** Feature flags from macOS `sysctl hw.optional` output ("hw.optional.arm.FEAT_BF16: 1" lines). */
export function parseSysctl(text: string, arch: string): CpuFeatureFlags {
    const on = (key: string): boolean => new RegExp(`^hw\\.optional\\.${key.replace(/\./g, "\\.")}:\\s*1\\s*$`, "m").test(text);
    if (arch === "arm64") {
        return { ...NONE, neon: true, dotprod: on("arm.FEAT_DotProd"), armBf16: on("arm.FEAT_BF16"), i8mm: on("arm.FEAT_I8MM") };
    }
    return {
        ...NONE,
        avx2: on("avx2_0"),
        avx512: on("avx512f"),
        avx512Bf16: false,
        vnni: on("avx512vnni"),
        amxBf16: false,
        amxInt8: false,
    };
}

/** The features set to 1 in llama.cpp's system line ("CPU : SSE3 = 1 | AVX2 = 1 | ... |"). */
export function parseSystemInfo(line: string): string[] {
    return [...line.matchAll(/([A-Z][A-Z0-9_]*)\s*=\s*1\b/g)].map((m) => m[1]!);
}

export interface RecommendationInput {
    arch: string;
    cpu: CpuFeatureFlags;
    build: readonly string[];
    /** The addon multiplies BF16 weights on AMX tiles (addonInfo().amxBf16). */
    bf16OnAmx: boolean;
}

/**
 * The file type to score with on this CPU. Measured with `npm run bench` (random Llama-3.2-1B-shaped
 * model, 2 threads): with AMX-BF16 (Sapphire Rapids and later) llama-reward multiplies BF16 weights on
 * the AMX tiles and BF16 scores fastest (1.9x Q8_0, which llama.cpp runs on the int8 tiles); with AMX
 * int8 but no BF16 kernel, Q8_0 is fastest; where the CPU and the build have AVX-512 BF16
 * but no AMX, BF16 is the fastest type and the exact one (reward checkpoints ship in BF16); without
 * either, BF16 and F16 are converted on the fly and Q8_0 (int8 dot products) is faster. Q4_K_M is for
 * memory only: it is slower to score than Q8_0.
 */
export function recommendFileType(input: RecommendationInput): FileTypeRecommendation {
    const has = (feature: string): boolean => input.build.includes(feature);
    const tight = {
        fileType: "Q8_0" as const,
        reason: "half the memory of BF16, rewards within quantization noise; Q4_K_M if even that does not fit",
    };
    const x86 = input.arch === "x64" || input.arch === "ia32";
    if (x86 && input.bf16OnAmx) {
        return {
            fileType: "BF16",
            reason: "this CPU has AMX-BF16 and llama-reward multiplies BF16 weights on its tiles: BF16 scores fastest and is the checkpoint's own precision",
            ifMemoryIsTight: {
                fileType: "Q8_0",
                reason: "half the memory of BF16, on the AMX int8 tiles; Q4_K_M if even that does not fit",
            },
        };
    }
    if (x86 && has("AMX_INT8") && input.cpu.amxInt8 !== false) {
        return {
            fileType: "Q8_0",
            reason: "this CPU has AMX and the build uses it for Q8_0 (int8 tiles): Q8_0 scores fastest, with half the memory of BF16",
            ifMemoryIsTight: { fileType: "Q4_K_M", reason: "a third of BF16's memory, slower to score than Q8_0" },
        };
    }
    if (x86 && has("AVX512_BF16") && input.cpu.avx512Bf16 !== false) {
        return {
            fileType: "BF16",
            reason: "this CPU multiplies BF16 natively (AVX-512 BF16): BF16 scores fastest and is the checkpoint's own precision",
            ifMemoryIsTight: tight,
        };
    }
    if ((input.arch === "arm64" || input.arch === "arm") && (has("MATMUL_INT8") || has("DOTPROD") || input.cpu.dotprod === true)) {
        return {
            fileType: "Q8_0",
            reason: "this CPU has int8 dot products (dotprod/i8mm), which llama.cpp uses for Q8_0; BF16 and F16 are slower here",
            ifMemoryIsTight: { fileType: "Q4_K_M", reason: "a third of BF16's memory, slower to score than Q8_0" },
        };
    }
    return {
        fileType: "Q8_0",
        reason: "without AVX-512 BF16, llama.cpp converts BF16/F16 weights while multiplying; Q8_0 uses int8 dot products and half the memory",
        ifMemoryIsTight: { fileType: "Q4_K_M", reason: "a third of BF16's memory, slower to score than Q8_0" },
    };
}

function readCpuFlags(arch: string): CpuFeatureFlags {
    try {
        if (process.platform === "linux") return parseCpuinfo(fs.readFileSync("/proc/cpuinfo", "utf8"), arch);
        if (process.platform === "darwin") {
            return parseSysctl(execFileSync("sysctl", ["hw.optional"], { encoding: "utf8", timeout: 5000 }), arch);
        }
    } catch {
        // unreadable: unknown
    }
    return { ...NONE };
}

/** The CPU, the features of the loaded ggml CPU backend (`systemInfoLine`, see systemInfo()), whether BF16 runs on AMX tiles, and the file type to use. */
export function cpuReport(systemInfoLine: string, bf16OnAmx: boolean): CpuReport {
    const arch = process.arch;
    const cpu = readCpuFlags(arch);
    const build = parseSystemInfo(systemInfoLine);
    return {
        arch,
        model: os.cpus()[0]?.model.trim() ?? "unknown",
        cpu,
        build,
        bf16OnAmx,
        recommendation: recommendFileType({ arch, cpu, build, bf16OnAmx }),
    };
}
