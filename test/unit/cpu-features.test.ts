/**
 * CPU features and the file-type recommendation: /proc/cpuinfo, macOS
 * sysctl and llama.cpp system lines of real machines parsed into flags, and
 * the recommendation for each kind of CPU.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
    type CpuKind,
    cpuKind,
    FILE_TYPE_RULES,
    parseCpuinfo,
    parseSysctl,
    parseSystemInfo,
    type RecommendationInput,
    recommendFileType,
} from "../../src/model/cpu-features.js";
import { packageRoot } from "../../src/package-root.js";

const sapphireRapidsFlags =
    "flags\t\t: fpu vme sse sse2 ssse3 fma avx f16c avx2 avx512f avx512dq avx512bw avx512vl avx_vnni " +
    "avx512_bf16 avx512vbmi avx512_vnni amx_bf16 avx512_fp16 amx_tile amx_int8";
const zen4Flags = "flags\t\t: fpu sse sse2 ssse3 fma avx f16c avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vnni";
const cascadeLakeFlags = "flags\t\t: fpu sse sse2 ssse3 fma avx f16c avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni";
const zen3Flags = "flags\t\t: fpu sse sse2 ssse3 fma avx f16c avx2 bmi2 sha_ni";
const graviton3Features =
    "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp " +
    "cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca " +
    "pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng";

const spr = parseCpuinfo(sapphireRapidsFlags, "x64");
const zen4 = parseCpuinfo(zen4Flags, "x64");
const zen3 = parseCpuinfo(zen3Flags, "x64");
const cascadeLake = parseCpuinfo(cascadeLakeFlags, "x64");
const graviton = parseCpuinfo(graviton3Features, "arm64");
const zen4Build = ["AVX2", "AVX512", "AVX512_VNNI", "AVX512_BF16"];
const sprBuild = [...zen4Build, "AMX_INT8"];
/** A CPU and build of every kind. */
const cases: [RecommendationInput, CpuKind][] = [
    [{ arch: "x64", cpu: spr, build: sprBuild, bf16Kernel: "amx" }, "x86-amx-bf16"],
    // AMX in the CPU and the build, BF16 not on the tiles: Q8_0 runs on the int8 tiles, ahead of any BF16 kernel
    [{ arch: "x64", cpu: spr, build: sprBuild, bf16Kernel: "ggml" }, "x86-amx-int8"],
    [{ arch: "x64", cpu: spr, build: sprBuild, bf16Kernel: "avx512-bf16" }, "x86-amx-int8"],
    [{ arch: "x64", cpu: zen4, build: zen4Build, bf16Kernel: "avx512-bf16" }, "x86-avx512-bf16"],
    // AVX-512 without BF16 (Cascade Lake), or an Intel CPU with it whose AMX is not in use: BF16 widened on FMA
    [{ arch: "x64", cpu: cascadeLake, build: ["AVX2", "AVX512", "AVX512_VNNI"], bf16Kernel: "avx512-fma" }, "x86-avx512-fma"],
    [{ arch: "x64", cpu: zen4, build: zen4Build, bf16Kernel: "avx512-fma" }, "x86-avx512-fma"],
    [{ arch: "x64", cpu: zen4, build: zen4Build, bf16Kernel: "ggml" }, "x86-avx512-bf16-ggml"],
    // the same CPU with a build that lacks AVX512_BF16 (e.g. GGML_NATIVE=OFF with AVX2 only)
    [{ arch: "x64", cpu: zen4, build: ["AVX2"], bf16Kernel: "ggml" }, "x86-avx2"],
    [{ arch: "x64", cpu: zen3, build: ["AVX2", "FMA"], bf16Kernel: "ggml" }, "x86-avx2"],
    // AVX2 without AVX-512 on x86-64 Linux: BF16 widened on llama-reward's AVX2 kernel
    [{ arch: "x64", cpu: zen3, build: ["AVX2", "FMA"], bf16Kernel: "avx2-fma" }, "x86-avx2-fma"],
    [{ arch: "arm64", cpu: graviton, build: ["NEON", "DOTPROD", "MATMUL_INT8"], bf16Kernel: "ggml" }, "arm-dotprod"],
    [{ arch: "x64", cpu: parseCpuinfo("flags\t\t: fpu sse sse2\n", "x64"), build: ["SSE3"], bf16Kernel: "ggml" }, "other"],
];

/** The input of a case of `kind`. */
function inputOf(kind: CpuKind): RecommendationInput {
    return cases.find(([, k]) => k === kind)![0];
}

describe("cpu features", () => {
    it("reads x86 flags from /proc/cpuinfo", () => {
        const spr = parseCpuinfo(`processor\t: 0\n${sapphireRapidsFlags}\n`, "x64");
        expect(spr).toMatchObject({ avx2: true, avx512: true, avx512Bf16: true, vnni: true, amxBf16: true, amxInt8: true, neon: null });
        const zen3 = parseCpuinfo(`${zen3Flags}\n`, "x64");
        expect(zen3).toMatchObject({ avx2: true, avx512: false, avx512Bf16: false, vnni: false, amxBf16: false });
    });

    it("reads Arm features from /proc/cpuinfo and macOS sysctl", () => {
        expect(parseCpuinfo(graviton3Features, "arm64")).toMatchObject({
            neon: true,
            dotprod: true,
            armBf16: true,
            i8mm: true,
            avx2: null,
        });
        const m2 =
            "hw.optional.arm.FEAT_DotProd: 1\nhw.optional.arm.FEAT_BF16: 1\nhw.optional.arm.FEAT_I8MM: 1\nhw.optional.arm.FEAT_SME: 0\n";
        expect(parseSysctl(m2, "arm64")).toMatchObject({ neon: true, dotprod: true, armBf16: true, i8mm: true });
        expect(parseSysctl("hw.optional.arm.FEAT_DotProd: 0\n", "arm64")).toMatchObject({ dotprod: false, i8mm: false });
    });

    it("reads the features set in llama.cpp's system line", () => {
        const line =
            "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | " +
            "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ARM_FMA = 0 | ";
        const build = parseSystemInfo(line);
        expect(build).toEqual(["SSE3", "SSSE3", "AVX", "AVX2", "AVX512", "AVX512_BF16", "AMX_INT8", "LLAMAFILE", "OPENMP", "REPACK"]);
        expect(build).not.toContain("ARM_FMA");
    });

    it("recommends by FILE_TYPE_RULES: BF16 on llama-reward's AMX, AVX-512 BF16, AVX-512 FMA and AVX2 kernels, Q8_0 wherever BF16 runs on ggml's kernels", () => {
        for (const [input, kind] of cases) {
            expect(cpuKind(input), JSON.stringify(input.build)).toBe(kind);
            const rule = FILE_TYPE_RULES.find((r) => r.kind === kind)!;
            const got = recommendFileType(input);
            expect(got.fileType, kind).toBe(rule.fileType);
            expect(got.ifMemoryIsTight?.fileType, kind).toBe(rule.ifMemoryIsTight?.fileType);
        }
        // every kind is reachable and has exactly one rule
        expect(new Set(cases.map(([, kind]) => kind))).toEqual(new Set(FILE_TYPE_RULES.map((r) => r.kind)));
        expect(FILE_TYPE_RULES.length).toBe(new Set(FILE_TYPE_RULES.map((r) => r.kind)).size);
        // the rules as measured: BF16 where llama-reward's kernels multiply it, and where ggml's own kernel has
        // vdpbf16ps (as our CPU variants compile it); Q8_0 where BF16 is converted while multiplying
        expect(FILE_TYPE_RULES.filter((r) => r.fileType === "BF16").map((r) => r.kind)).toEqual([
            "x86-amx-bf16",
            "x86-avx512-bf16",
            "x86-avx512-fma",
            "x86-avx512-bf16-ggml",
            "x86-avx2-fma",
        ]);
    });

    it("docs/performance.md's file-type table has one row per rule, naming the rule's file type and the CPU it was measured on", () => {
        const doc = fs.readFileSync(path.join(packageRoot(), "docs", "performance.md"), "utf8");
        const header = doc.split("\n").find((l) => l.startsWith("| kind (`cpuInfo().kind`)"));
        expect(header?.split("|").map((c) => c.trim())).toEqual([
            "",
            "kind (`cpuInfo().kind`)",
            "score with",
            "measured on",
            "figures",
            "where memory is tight",
            "",
        ]);
        for (const rule of FILE_TYPE_RULES) {
            const row = doc.split("\n").filter((l) => l.startsWith(`| \`${rule.kind}\``));
            expect(row, rule.kind).toHaveLength(1);
            const cells = row[0]!.split("|").map((c) => c.trim());
            expect(cells[2], rule.kind).toMatch(new RegExp(`^\\*\\*${rule.fileType}\\*\\*`));
            expect(cells[3], rule.kind).toBe(rule.measuredOn);
            // a rule measured somewhere shows its figures; an unmeasured one shows none
            expect(cells[4] === "", rule.kind).toBe(rule.measuredOn.startsWith("not measured"));
            expect(recommendFileType(inputOf(rule.kind)).measuredOn, rule.kind).toBe(rule.measuredOn);
        }
    });
});
