/**
 * cpuInfo() and `llama-reward info` on this machine, checked against facts
 * found here independently of cpu-features.ts's parsers: the kernel's flag
 * names read straight from /proc/cpuinfo, the backend's system line, known
 * implications between x86 features, and the file-type rules; and the CLI
 * prints the same report alone and next to a model's metadata, with the
 * ggml CPU variant addonInfo() names.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { addonInfo, cpuInfo, systemInfo } from "../src/index.js";
import { FILE_TYPE_RULES } from "../src/model/cpu-features.js";
import { requireFile, root, tinyF32 } from "./support/fixtures.js";

/** The words of /proc/cpuinfo's first "flags" line, read here without the library's parser. */
function procCpuFlags(): Set<string> | undefined {
    if (process.platform !== "linux" || (process.arch !== "x64" && process.arch !== "ia32")) return undefined;
    const match = /^flags\s*:(.*)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    return match ? new Set(match[1]!.trim().split(/\s+/)) : undefined;
}

describe("cpuInfo", () => {
    it("the processor flags are the kernel's: each x86 feature is its /proc/cpuinfo flag", () => {
        const info = cpuInfo();
        expect(info.arch).toBe(process.arch);
        const flags = procCpuFlags();
        if (flags === undefined) return; // the flag names below are Linux x86's
        // The kernel's names (arch/x86/include/asm/cpufeatures.h), and either VNNI flavour.
        expect(info.cpu).toEqual({
            avx2: flags.has("avx2"),
            avx512: flags.has("avx512f"),
            avx512Bf16: flags.has("avx512_bf16"),
            vnni: flags.has("avx512_vnni") || flags.has("avx_vnni"),
            amxBf16: flags.has("amx_bf16"),
            amxInt8: flags.has("amx_int8"),
            neon: null,
            dotprod: null,
            armBf16: null,
            i8mm: null,
        });
        // Known implications between x86 features hold in what is reported.
        if (info.cpu.avx512) expect(info.cpu.avx2).toBe(true);
        if (info.cpu.avx512Bf16) expect(info.cpu.avx512).toBe(true);
        if (info.cpu.amxBf16) expect(info.cpu.amxInt8).toBe(true);
    });

    it("the build features are the backend's system line, and none is missing from the processor", () => {
        const info = cpuInfo();
        const line = systemInfo();
        for (const feature of info.build) expect(line).toContain(`${feature} = 1`);
        expect(info.build).toHaveLength(line.match(/= 1\b/g)?.length ?? 0);
        expect(new Set(info.build).size).toBe(info.build.length);
        // ggml loads the CPU variant this processor can run: every feature it was built for is one the processor has.
        const needs: Record<string, keyof typeof info.cpu> = {
            AVX2: "avx2",
            AVX512: "avx512",
            AVX512_BF16: "avx512Bf16",
            AVX512_VNNI: "vnni",
            AMX_INT8: "amxInt8",
        };
        for (const [feature, flag] of Object.entries(needs)) {
            if (info.build.includes(feature) && info.cpu[flag] !== null) expect(info.cpu[flag], feature).toBe(true);
        }
    });

    it("the recommendation follows the documented rules for this machine", () => {
        const info = cpuInfo();
        expect(info.bf16OnAmx).toBe(addonInfo().amxBf16);
        expect(info.bf16Kernel).toBe(addonInfo().bf16Kernel);
        if (info.bf16OnAmx) expect(info.cpu.amxBf16).not.toBe(false); // the AMX kernel runs only where the tiles exist
        if (info.bf16Kernel === "avx512-bf16") expect(info.cpu.avx512Bf16).toBe(true);
        if (info.bf16Kernel === "avx512-fma") expect(info.cpu.avx512).toBe(true);
        if (info.bf16Kernel === "avx2-fma") expect(info.cpu.avx2).toBe(true);
        const x86 = info.arch === "x64" || info.arch === "ia32";
        const expectedKind = !x86
            ? info.kind
            : info.bf16Kernel === "amx"
              ? "x86-amx-bf16"
              : info.build.includes("AMX_INT8") && info.cpu.amxInt8 !== false
                ? "x86-amx-int8"
                : info.bf16Kernel === "avx512-bf16"
                  ? "x86-avx512-bf16"
                  : info.bf16Kernel === "avx512-fma"
                    ? "x86-avx512-fma"
                    : info.bf16Kernel === "avx2-fma"
                      ? "x86-avx2-fma"
                      : info.build.includes("AVX512_BF16")
                        ? "x86-avx512-bf16-ggml"
                        : "x86-avx2";
        expect(info.kind).toBe(expectedKind);
        const rule = FILE_TYPE_RULES.find((r) => r.kind === info.kind)!;
        expect(info.recommendation.fileType).toBe(rule.fileType);
        expect(info.recommendation.reason.length).toBeGreaterThan(20);
    });

    it("`llama-reward info` prints the CPU report alone, and with a model next to its metadata", () => {
        const cli = requireFile(path.join(root, "dist", "src", "cli", "main.js"));
        const bare = spawnSync(process.execPath, [cli, "info"], { encoding: "utf8", cwd: root });
        expect(bare.status).toBe(0);
        const report = JSON.parse(bare.stdout) as { cpu: ReturnType<typeof cpuInfo>; cpuBackend: unknown };
        expect(report.cpu).toEqual(cpuInfo());
        expect(report.cpuBackend).toEqual(addonInfo().cpuBackend);
        const withModel = spawnSync(process.execPath, [cli, "info", tinyF32], { encoding: "utf8", cwd: root });
        expect(withModel.status).toBe(0);
        const info = JSON.parse(withModel.stdout) as { fileType: string; cpu: ReturnType<typeof cpuInfo>; cpuBackend: unknown };
        expect(info.fileType).toBe("F32");
        expect(info.cpuBackend).toEqual(addonInfo().cpuBackend);
        expect(info.cpu.recommendation).toEqual(cpuInfo().recommendation);
    });
});
