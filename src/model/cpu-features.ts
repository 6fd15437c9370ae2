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
import type { Bf16Kernel, F16Kernel, F32Kernel } from "../addon/native-types.js";

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
    /** The CPU the rule for this kind was measured on, or "not measured: ..." (docs/performance.md, which file type). */
    measuredOn: string;
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
    /** The kernel that multiplies BF16 weights: llama-reward's "amx", "avx512-bf16", "avx512-fma", "avx2-fma" or "neon-fma", or "ggml". */
    bf16Kernel: Bf16Kernel;
    /** The kernel that multiplies F32 weights: llama-reward's "avx512-f32", "avx2-f32" or "neon-f32", or "ggml". */
    f32Kernel: F32Kernel;
    /** The kernel that multiplies F16 weights: llama-reward's "avx512-f16", "avx2-f16" or "neon-f16", or "ggml". */
    f16Kernel: F16Kernel;
    /** The kind of CPU the recommendation was chosen for (FILE_TYPE_RULES). */
    kind: CpuKind;
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
    /** The kernel that multiplies BF16 weights (addonInfo().bf16Kernel). */
    bf16Kernel: Bf16Kernel;
}

/** The kinds of CPU the recommendation tells apart (see FILE_TYPE_RULES). */
export type CpuKind =
    | "x86-amx-bf16"
    | "x86-amx-int8"
    | "x86-avx512-bf16"
    | "x86-avx512-fma"
    | "x86-avx512-bf16-ggml"
    | "x86-avx2-fma"
    | "x86-avx2"
    | "arm-dotprod"
    | "other";

export interface FileTypeRule extends FileTypeRecommendation {
    kind: CpuKind;
    /** Which CPUs fall in this kind, as `llama-reward info` reports them. */
    cpus: string;
    /** The figures the choice rests on (random Llama-3.2-1B-shaped model, 2 threads), on `measuredOn`. */
    measured: string;
}

const QUANT_TIGHT = { fileType: "Q4_K_M", reason: "a third of BF16's memory, slower to score than Q8_0" } as const;
const Q8_TIGHT = {
    fileType: "Q8_0",
    reason: "half the memory of BF16, rewards within quantization noise; Q4_K_M if even that does not fit",
} as const;

/**
 * The file type to score with on each kind of CPU: the type measured fastest there, by `npm run bench`
 * and `tools/bench/cpu-kinds.ts` (short ~80-token and long ~700-token conversations through scoreBatch).
 * docs/performance.md's table shows the same rules; test/unit/cpu-features.test.ts holds them together.
 */
export const FILE_TYPE_RULES: readonly FileTypeRule[] = [
    {
        kind: "x86-amx-bf16",
        cpus: "x86-64 Linux with AMX-BF16 (Intel Xeon Sapphire Rapids and later): BF16 on llama-reward's AMX kernel",
        fileType: "BF16",
        measuredOn: "Intel Xeon with AMX-BF16 (2 cores of a virtual machine), as it is",
        reason: "this CPU has AMX-BF16 and llama-reward multiplies BF16 weights on its tiles: BF16 scores fastest and is the checkpoint's own precision",
        ifMemoryIsTight: { fileType: "Q8_0", reason: "half the memory of BF16, on the AMX int8 tiles; Q4_K_M if even that does not fit" },
        measured: "tok/s, 16 short / 2 long conversations: BF16 406-461 / 342-365, Q8_0 238-244 / 216-224",
    },
    {
        kind: "x86-amx-int8",
        cpus: "x86 with AMX int8 whose BF16 weights are not on the AMX kernel (other operating systems, LLAMA_REWARD_AMX_BF16=0)",
        fileType: "Q8_0",
        measuredOn: "the same Intel Xeon with LLAMA_REWARD_AMX_BF16=0",
        reason: "this CPU has AMX and the build uses it for Q8_0 (int8 tiles): Q8_0 scores fastest, with half the memory of BF16",
        ifMemoryIsTight: QUANT_TIGHT,
        measured: "tok/s, short / long: Q8_0 on the AMX int8 tiles 246 / 227, BF16 on the AVX-512 BF16 kernel 97 / 93",
    },
    {
        kind: "x86-avx512-bf16",
        cpus: "x86-64 Linux or Windows on an AMD CPU with AVX-512 BF16 (Zen 4/5): BF16 on llama-reward's AVX-512 BF16 kernel (an Intel one with LLAMA_REWARD_AMX_BF16=0 and LLAMA_REWARD_BF16_FMA=0)",
        fileType: "BF16",
        measuredOn: "AMD EPYC (Zen 4, 2 cores of a virtual machine), as it is",
        reason: "this CPU multiplies BF16 natively (AVX-512 BF16) and llama-reward's kernel runs it: BF16 scores 1.6 times as fast as Q8_0 and 1.8 times F16, and is the checkpoint's own precision",
        ifMemoryIsTight: Q8_TIGHT,
        measured:
            "tok/s, 16 short / 2 long conversations, one sitting: BF16 on the AVX-512 BF16 kernel 192 / 176, 189 / 173; Q8_0 114 / 108; F16 on the AVX-512 FMA kernel 102 / 99 (vdpbf16ps does twice the multiply-adds of an F32 FMA per instruction on this core)",
    },
    {
        kind: "x86-avx512-fma",
        cpus: "x86-64 Linux or Windows with AVX-512 whose BF16 weights run on llama-reward's AVX-512 FMA kernel: without AVX-512 BF16 (Intel Xeon Skylake-SP, Cascade Lake, Ice Lake), or Intel with it and no AMX in use",
        fileType: "BF16",
        measuredOn: "the same Intel Xeon playing this kind (ggml's icelake variant only, LLAMA_REWARD_AMX_BF16=0, LLAMA_REWARD_BF16_FMA=1)",
        reason: "llama-reward widens BF16 weights to F32 on AVX-512 multiply-adds here, without rounding the activations: BF16 scores as fast as F16 and faster than Q8_0, and is the checkpoint's own precision",
        ifMemoryIsTight: Q8_TIGHT,
        measured:
            "tok/s, 16 short / 2 long conversations, two rounds: BF16 on the AVX-512 FMA kernel 132 / 124, 131 / 122; F16 on it 127 / 123, 132 / 125; Q8_0 103 / 99, 100 / 96; BF16 on ggml's kernel 101 / 97, 103 / 98",
    },
    {
        kind: "x86-avx512-bf16-ggml",
        cpus: "x86 with AVX-512 BF16 whose BF16 weights run on ggml's kernel (macOS, MSVC builds, LLAMA_REWARD_AVX512_BF16=0 with LLAMA_REWARD_BF16_FMA=0)",
        fileType: "BF16",
        measuredOn:
            "AMD EPYC (Zen 4, 2 cores of a virtual machine), llama-reward's kernels off (ggml's zen4 variant as llama-reward's build compiles it)",
        reason: "ggml's own BF16 kernel multiplies on vdpbf16ps here: BF16 scores 1.4 to 1.7 times as fast as Q8_0 and is the checkpoint's own precision (a ggml compiled by GCC 11, as node-llama-cpp's, spills that kernel's accumulators and runs BF16 below Q8_0: bench --quick tells)",
        ifMemoryIsTight: Q8_TIGHT,
        measured:
            "tok/s, 16 short / 2 long conversations, one sitting: BF16 160 / 170, 169 / 154; Q8_0 114 / 108; F16 99 / 97, 97 / 94 (an earlier sitting: BF16 172 / 163, Q8_0 103 / 99); node-llama-cpp's variants (GCC 11) ran BF16 at 73 against Q8_0 98-104",
    },
    {
        kind: "x86-avx2-fma",
        cpus: "x86-64 Linux or Windows with AVX2, FMA and F16C and no AVX-512 (most Intel laptops and desktops, AMD Zen 1-3): BF16, F16 and F32 on llama-reward's AVX2 kernel",
        fileType: "BF16",
        measuredOn:
            "the same Intel Xeon playing this kind (ggml's haswell variant only, LLAMA_REWARD_AMX_BF16=0, LLAMA_REWARD_AVX2=1); not run on an AVX2-only CPU",
        reason: "llama-reward widens BF16 weights to F32 on AVX2 multiply-adds here, without rounding the activations: BF16 scores as fast as F16 and faster than Q8_0, and is the checkpoint's own precision",
        ifMemoryIsTight: Q8_TIGHT,
        measured:
            "tok/s, 16 short / 2 long conversations, two rounds: BF16 on the AVX2 kernel 98 / 95, 97 / 94; F16 on it 96 / 91, 97 / 93; F32 on it 95 / 92 (a later sitting: 87 / 84, 85 / 85); Q8_0 80 / 77, 76 / 75; BF16 on ggml's kernel 73 / 71, 74 / 73. An AMD EPYC (Zen 4) playing it, one sitting: BF16 on the AVX2 kernel 90 / 86, Q8_0 75 / 80 (82 / 82 on ggml's haswell variant alone)",
    },
    {
        kind: "x86-avx2",
        cpus: "x86 with AVX2 whose BF16 weights run on ggml's kernel (macOS, MSVC builds, or LLAMA_REWARD_AVX2=0)",
        fileType: "Q8_0",
        measuredOn: "the same Intel Xeon playing this kind (ggml's haswell variant only, every kernel of llama-reward's off)",
        reason: "llama.cpp converts BF16/F16 weights and rounds the activations while multiplying; Q8_0 uses int8 dot products and half the memory",
        ifMemoryIsTight: QUANT_TIGHT,
        measured:
            "tok/s, 16 short / 2 long conversations, two rounds: Q8_0 77 / 76, 78 / 76; BF16 73 / 71, 74 / 73; F16 72 / 70, 72 / 72; F32 79 / 78 (four times Q8_0's memory)",
    },
    {
        kind: "arm-dotprod",
        cpus: "Arm with dotprod / i8mm (Apple M, AWS Graviton); F32, F16 and BF16 on llama-reward's NEON kernel in Linux and Windows builds",
        fileType: "Q8_0",
        measuredOn: "not measured: no Arm machine (emulation says nothing about speed)",
        reason: "this CPU has int8 dot products (dotprod/i8mm), which llama.cpp uses for Q8_0: four products per lane and instruction, where BF16, F16 and F32 weights are multiplied in F32 (llama-reward's NEON kernel)",
        ifMemoryIsTight: QUANT_TIGHT,
        measured: "none: llama.cpp's int8 dot-product kernels for Q8_0",
    },
    {
        kind: "other",
        cpus: "any other CPU",
        fileType: "Q8_0",
        measuredOn: "not measured",
        reason: "no native BF16 or int8 matrix instructions in use: Q8_0 moves half the bytes of BF16 and converts cheaply",
        ifMemoryIsTight: QUANT_TIGHT,
        measured: "none",
    },
];

/** Which of FILE_TYPE_RULES' kinds this CPU and build are. */
export function cpuKind(input: RecommendationInput): CpuKind {
    const has = (feature: string): boolean => input.build.includes(feature);
    const x86 = input.arch === "x64" || input.arch === "ia32";
    if (x86) {
        if (input.bf16Kernel === "amx") return "x86-amx-bf16";
        if (has("AMX_INT8") && input.cpu.amxInt8 !== false) return "x86-amx-int8";
        if (input.bf16Kernel === "avx512-bf16") return "x86-avx512-bf16";
        if (input.bf16Kernel === "avx512-fma") return "x86-avx512-fma";
        if (input.bf16Kernel === "avx2-fma") return "x86-avx2-fma";
        if (has("AVX512_BF16") && input.cpu.avx512Bf16 !== false) return "x86-avx512-bf16-ggml";
        if (has("AVX2") || input.cpu.avx2 === true) return "x86-avx2";
        return "other";
    }
    if ((input.arch === "arm64" || input.arch === "arm") && (has("MATMUL_INT8") || has("DOTPROD") || input.cpu.dotprod === true)) {
        return "arm-dotprod";
    }
    return "other";
}

/** The file type to score with on this CPU: FILE_TYPE_RULES' entry for its kind. */
export function recommendFileType(input: RecommendationInput): FileTypeRecommendation {
    const kind = cpuKind(input);
    const rule = FILE_TYPE_RULES.find((r) => r.kind === kind)!;
    return {
        fileType: rule.fileType,
        reason: rule.reason,
        measuredOn: rule.measuredOn,
        ...(rule.ifMemoryIsTight ? { ifMemoryIsTight: { ...rule.ifMemoryIsTight } } : {}),
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

/** The kernels that multiply BF16, F32 and F16 weights on the CPU (addonInfo()). */
export interface WeightKernels {
    bf16Kernel: Bf16Kernel;
    f32Kernel: F32Kernel;
    f16Kernel: F16Kernel;
}

/** The CPU, the features of the loaded ggml CPU backend (`systemInfoLine`, see systemInfo()), the weight kernels, and the file type to use. */
export function cpuReport(systemInfoLine: string, kernels: WeightKernels): CpuReport {
    const { bf16Kernel, f32Kernel, f16Kernel } = kernels;
    const arch = process.arch;
    const cpu = readCpuFlags(arch);
    const build = parseSystemInfo(systemInfoLine);
    const input = { arch, cpu, build, bf16Kernel };
    return {
        arch,
        model: os.cpus()[0]?.model.trim() ?? "unknown",
        cpu,
        build,
        bf16OnAmx: bf16Kernel === "amx",
        bf16Kernel,
        f32Kernel,
        f16Kernel,
        kind: cpuKind(input),
        recommendation: recommendFileType(input),
    };
}
