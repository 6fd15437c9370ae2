/**
 * How each platform's addon is built, without building it: macOS builds from
 * source with Metal on Apple silicon; linux-arm64 and win32-x64 take ggml from
 * node-llama-cpp's package for that platform, and exactly its ggml libraries
 * (CPU variants included, node-llama-cpp's own llama library and addon left
 * out) travel beside the addon; the cross targets' toolchain files exist; and
 * what the platform check requires of addonInfo().cpuBackend in an emulated run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ggmlSourcePackages } from "../../src/addon/prebuilt.js";
import { packageRoot } from "../../src/package-root.js";
import { backendCmakeOptions, resolveBackend } from "../../tools/build/backend-options.js";
import { findPrebuiltGgml, ggmlRuntimeFiles, windowsGgmlRuntimeFiles } from "../../tools/build/prebuilt-ggml.js";
import { cpuBackendProblem, loadedCpuVariant } from "../../tools/platforms/cpu-backend-check.js";
import { binaryMachine } from "../../tools/platforms/cross-build.js";
import { crossTargets } from "../../tools/platforms/targets.js";

function folderWith(files: string[]): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-files-"));
    for (const f of files) fs.writeFileSync(path.join(dir, f), "");
    return dir;
}

describe("macOS source build", () => {
    it("Apple silicon builds Metal in, Intel Macs the CPU backend, both with ggml compiled from source", () => {
        expect(resolveBackend({}, "darwin", "arm64")).toBe("metal");
        expect(backendCmakeOptions("metal")).toEqual({ GGML_CUDA: "OFF", GGML_METAL: "ON", GGML_VULKAN: "OFF" });
        expect(resolveBackend({}, "darwin", "x64")).toBe("cpu");
        expect(resolveBackend({ LLAMA_REWARD_GPU: "cpu" }, "darwin", "arm64")).toBe("cpu");
        // no prebuilt ggml is taken on macOS: build-native.ts compiles ggml (and Metal) from source
        expect(ggmlSourcePackages("darwin", "arm64")).toEqual([]);
        expect(findPrebuiltGgml("darwin", "arm64")).toBeUndefined();
    });
});

describe("prebuilt ggml per platform", () => {
    it("linux-arm64 and win32-x64 link against node-llama-cpp's ggml of that platform", () => {
        expect(ggmlSourcePackages("linux", "arm64")).toEqual([{ pkg: "@node-llama-cpp/linux-arm64", dir: "bins/linux-arm64" }]);
        expect(ggmlSourcePackages("win32", "x64")).toEqual([{ pkg: "@node-llama-cpp/win-x64", dir: "bins/win-x64" }]);
    });

    it("arm64: every CPU variant (armv8.0 … armv9.2) ships, node-llama-cpp's libllama and addon do not", () => {
        const dir = folderWith([
            "libggml-base.so",
            "libggml.v0.4.0.so",
            "libggml-cpu-armv8.0_1.so",
            "libggml-cpu-armv8.2_3.so",
            "libggml-cpu-armv9.2_2.so",
            "libllama.v0.4.0.so",
            "libllama-common.so",
            "llama-addon.node",
            "_nlcBuildMetadata.json",
        ]);
        expect(ggmlRuntimeFiles(dir)).toEqual([
            "libggml-base.so",
            "libggml-cpu-armv8.0_1.so",
            "libggml-cpu-armv8.2_3.so",
            "libggml-cpu-armv9.2_2.so",
            "libggml.v0.4.0.so",
        ]);
    });

    it("win32-x64: the ggml DLLs and every CPU variant ship, llama*.dll and the addon do not", () => {
        const dir = folderWith([
            "ggml-base.dll",
            "ggml.v0.4.0.dll",
            "ggml-cpu-x64.dll",
            "ggml-cpu-haswell.dll",
            "ggml-cpu-sapphirerapids.dll",
            "llama.v0.4.0.dll",
            "llama-common.dll",
            "llama-addon.node",
            "llama-addon.lib",
        ]);
        expect(windowsGgmlRuntimeFiles(dir)).toEqual([
            "ggml-base.dll",
            "ggml-cpu-haswell.dll",
            "ggml-cpu-sapphirerapids.dll",
            "ggml-cpu-x64.dll",
            "ggml.v0.4.0.dll",
        ]);
    });
});

describe("cross targets", () => {
    it("each names a toolchain file in the repository, its ggml package and a Node.js binary to run it", () => {
        expect(crossTargets.map((t) => t.tag)).toEqual(["linux-arm64", "win32-x64"]);
        for (const target of crossTargets) {
            expect(fs.existsSync(path.join(packageRoot(), target.toolchainFile)), target.toolchainFile).toBe(true);
            expect(target.ggml).toEqual(ggmlSourcePackages(target.platform, target.arch)[0]);
            expect(target.node.version).toBe("20.20.2");
        }
    });

    it("each knows its CPU variant libraries' file names (what addonInfo().cpuBackend must name there)", () => {
        const files = ["libggml-base.so", "libggml-cpu-armv8.2_1.so", "ggml-base.dll", "ggml-cpu-haswell.dll", "ggml-cpu-x64.dll"];
        const variants = (tag: string) => files.filter((f) => crossTargets.find((t) => t.tag === tag)!.cpuVariantFile.test(f));
        expect(variants("linux-arm64")).toEqual(["libggml-cpu-armv8.2_1.so"]);
        expect(variants("win32-x64")).toEqual(["ggml-cpu-haswell.dll", "ggml-cpu-x64.dll"]);
    });

    it("binaryMachine tells an aarch64 ELF, an x86-64 ELF and an x86-64 PE apart", () => {
        const elf = (machine: number) => {
            const b = Buffer.alloc(64);
            b.writeUInt32BE(0x7f454c46, 0);
            b.writeUInt16LE(machine, 18);
            return b;
        };
        const pe = Buffer.alloc(256);
        pe.write("MZ", 0, "latin1");
        pe.writeUInt32LE(0x80, 0x3c);
        pe.write("PE\0\0", 0x80, "latin1");
        pe.writeUInt16LE(0x8664, 0x84);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "machine-"));
        const write = (name: string, data: Buffer) => {
            fs.writeFileSync(path.join(dir, name), data);
            return path.join(dir, name);
        };
        expect(binaryMachine(write("a.so", elf(0xb7)))).toBe("aarch64 (ELF)");
        expect(binaryMachine(write("b.so", elf(0x3e)))).toBe("x86-64 (ELF)");
        expect(binaryMachine(write("c.dll", pe))).toBe("x86-64 (PE)");
        expect(binaryMachine(write("d.txt", Buffer.from("hello")))).toBe("unknown");
    });
});

describe("the platform check's addonInfo().cpuBackend requirement", () => {
    const win = crossTargets.find((t) => t.tag === "win32-x64")!;
    const arm = crossTargets.find((t) => t.tag === "linux-arm64")!;
    const log = [
        "ggml_backend_load_best: Z:\\tmp\\Lib ü 模型\\ggml-cpu-zen4.dll score: 1984",
        "load_backend: loaded CPU backend from Z:\\tmp\\Lib ü 模型\\ggml-cpu-sapphirerapids.dll\r",
        "register_backend: registered backend CPU (1 devices)",
    ].join("\n");
    const dll = { library: "ggml-cpu-sapphirerapids.dll", builtBy: "node-llama-cpp", compiler: null } as const;

    it("reads the variant ggml loaded from its log, a Windows path with spaces included", () => {
        expect(loadedCpuVariant(log)).toBe("ggml-cpu-sapphirerapids.dll");
        expect(loadedCpuVariant("load_backend: loaded CPU backend from /opt/x/libggml-cpu-armv9.2_2.so\n")).toBe(
            "libggml-cpu-armv9.2_2.so",
        );
        expect(loadedCpuVariant("no backend here")).toBeUndefined();
    });

    it("passes the DLL ggml loaded, built by node-llama-cpp", () => {
        expect(cpuBackendProblem(dll, win.cpuVariantFile, loadedCpuVariant(log))).toBeUndefined();
        const so = { library: "libggml-cpu-armv9.2_2.so", builtBy: "node-llama-cpp", compiler: "GCC: (Ubuntu 11.4.0) 11.4.0" } as const;
        expect(cpuBackendProblem(so, arm.cpuVariantFile, "libggml-cpu-armv9.2_2.so")).toBeUndefined();
    });

    it("fails without a library (an addon with no Windows lookup), on another file, another variant or an unknown builder", () => {
        const loaded = loadedCpuVariant(log);
        expect(cpuBackendProblem(null, win.cpuVariantFile, loaded)).toMatch(/names no library/);
        expect(cpuBackendProblem({ ...dll, library: "ggml-base.dll" }, win.cpuVariantFile, loaded)).toMatch(/not a .* file/);
        expect(cpuBackendProblem({ ...dll, library: "libggml-cpu-zen4.so" }, win.cpuVariantFile, loaded)).toMatch(/not a .* file/);
        expect(cpuBackendProblem({ ...dll, library: "ggml-cpu-zen4.dll" }, win.cpuVariantFile, loaded)).toMatch(
            /ggml's log ggml-cpu-sapphirerapids.dll/,
        );
        expect(cpuBackendProblem(dll, win.cpuVariantFile, undefined)).toMatch(/no CPU library/);
        expect(cpuBackendProblem({ ...dll, builtBy: "unknown" }, win.cpuVariantFile, loaded)).toMatch(/built by unknown/);
    });
});
