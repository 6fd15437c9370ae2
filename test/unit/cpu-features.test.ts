/**
 * CPU features and the file-type recommendation: /proc/cpuinfo, macOS
 * sysctl and llama.cpp system lines of real machines parsed into flags, and
 * the recommendation for each kind of CPU.
 */
import { describe, expect, it } from "vitest";
import { parseCpuinfo, parseSysctl, parseSystemInfo, recommendFileType } from "../../src/model/cpu-features.js";

const sapphireRapidsFlags =
    "flags\t\t: fpu vme sse sse2 ssse3 fma avx f16c avx2 avx512f avx512dq avx512bw avx512vl avx_vnni " +
    "avx512_bf16 avx512vbmi avx512_vnni amx_bf16 avx512_fp16 amx_tile amx_int8";
const zen3Flags = "flags\t\t: fpu sse sse2 ssse3 fma avx f16c avx2 bmi2 sha_ni";
const graviton3Features =
    "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp " +
    "cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca " +
    "pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng";

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

    it("recommends BF16 on AMX-BF16 tiles, Q8_0 with AMX int8 only, BF16 where the CPU and the build multiply BF16 natively, Q8_0 otherwise", () => {
        const spr = parseCpuinfo(sapphireRapidsFlags, "x64");
        // AMX in the CPU and the build: Q8_0 runs on the int8 tiles
        expect(
            recommendFileType({ arch: "x64", cpu: spr, build: ["AVX2", "AVX512", "AVX512_BF16", "AMX_INT8"], bf16OnAmx: false }).fileType,
        ).toBe("Q8_0");
        // and BF16 on the AMX tiles: BF16
        const onTiles = recommendFileType({ arch: "x64", cpu: spr, build: ["AVX2", "AVX512", "AVX512_BF16", "AMX_INT8"], bf16OnAmx: true });
        expect(onTiles.fileType).toBe("BF16");
        expect(onTiles.ifMemoryIsTight?.fileType).toBe("Q8_0");
        const withBf16 = recommendFileType({ arch: "x64", cpu: spr, build: ["AVX2", "AVX512", "AVX512_BF16"], bf16OnAmx: false });
        expect(withBf16.fileType).toBe("BF16");
        expect(withBf16.ifMemoryIsTight?.fileType).toBe("Q8_0");
        // the same CPU with a build that lacks AVX512_BF16 (e.g. GGML_NATIVE=OFF with AVX2 only)
        expect(recommendFileType({ arch: "x64", cpu: spr, build: ["AVX2"], bf16OnAmx: false }).fileType).toBe("Q8_0");
        expect(recommendFileType({ arch: "x64", cpu: parseCpuinfo(zen3Flags, "x64"), build: ["AVX2"], bf16OnAmx: false }).fileType).toBe(
            "Q8_0",
        );
        const arm = recommendFileType({
            arch: "arm64",
            cpu: parseCpuinfo(graviton3Features, "arm64"),
            build: ["NEON", "DOTPROD", "MATMUL_INT8"],
            bf16OnAmx: false,
        });
        expect(arm.fileType).toBe("Q8_0");
        expect(arm.ifMemoryIsTight?.fileType).toBe("Q4_K_M");
    });
});
