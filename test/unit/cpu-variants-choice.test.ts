/**
 * Whose ggml CPU variants a build ships, without building: the
 * LLAMA_REWARD_CPU_VARIANTS choice and its default per platform, the install
 * fallback keeping node-llama-cpp's unless told otherwise, the variant names
 * among ggml's files (Linux and Windows), the ELF `.comment` reader on a
 * written ELF file, the metadata of node-llama-cpp's Windows DLLs (no
 * compiler recorded), and how addonInfo() describes a loaded variant from the
 * metadata beside it.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cpuVariantsMetadataFile, describeCpuBackend, readCpuVariantsMetadata } from "../../src/addon/cpu-backend.js";
import { chooseCpuVariants, cpuVariantFiles, cpuVariantNames, prebuiltCpuVariants } from "../../tools/build/cpu-variants.js";
import { compilerOf, elfComments } from "../../tools/build/elf-comment.js";
import { installBuildEnv } from "../../tools/build/install.js";

describe("LLAMA_REWARD_CPU_VARIANTS", () => {
    it("defaults to our own variants on x86-64 Linux and to node-llama-cpp's elsewhere", () => {
        expect(chooseCpuVariants({}, "linux", "x64")).toBe("own");
        expect(chooseCpuVariants({}, "linux", "arm64")).toBe("prebuilt");
        expect(chooseCpuVariants({}, "win32", "x64")).toBe("prebuilt");
    });

    it("takes prebuilt or own, and refuses other values and own where it cannot be built", () => {
        expect(chooseCpuVariants({ LLAMA_REWARD_CPU_VARIANTS: "prebuilt" }, "linux", "x64")).toBe("prebuilt");
        expect(chooseCpuVariants({ LLAMA_REWARD_CPU_VARIANTS: " OWN " }, "linux", "x64")).toBe("own");
        expect(() => chooseCpuVariants({ LLAMA_REWARD_CPU_VARIANTS: "native" }, "linux", "x64")).toThrow(/is not "own" or "prebuilt"/);
        expect(() => chooseCpuVariants({ LLAMA_REWARD_CPU_VARIANTS: "own" }, "linux", "arm64")).toThrow(/x86-64 Linux variants only/);
    });

    it("the install's source build keeps node-llama-cpp's variants unless the user chose", () => {
        expect(installBuildEnv({ PATH: "/bin" })).toEqual({ PATH: "/bin", LLAMA_REWARD_CPU_VARIANTS: "prebuilt" });
        expect(installBuildEnv({ LLAMA_REWARD_CPU_VARIANTS: "own" }).LLAMA_REWARD_CPU_VARIANTS).toBe("own");
    });

    it("names the CPU variants among ggml's libraries", () => {
        const files = ["libggml-base.so", "libggml-cpu-zen4.so", "libggml-cpu-haswell.so", "libggml-vulkan.so", "libggml.vulkan.v0.4.0.so"];
        expect(cpuVariantNames(files)).toEqual(["haswell", "zen4"]);
    });

    it("finds the CPU variant libraries of Linux and Windows among ggml's files", () => {
        const files = [
            "ggml-base.dll",
            "ggml-cpu-zen4.dll",
            "ggml.v0.4.0.dll",
            "libggml-cpu-armv8.2_1.so",
            "libggml-vulkan.so",
            "ggml-vulkan.dll",
        ];
        expect(cpuVariantFiles(files)).toEqual(["ggml-cpu-zen4.dll", "libggml-cpu-armv8.2_1.so"]);
    });
});

/** A minimal little-endian ELF64 file: a header, a .comment and a section-name table, and the section table. */
function writeElf(file: string, comment: string): void {
    const names = Buffer.from("\0.comment\0.shstrtab\0", "latin1");
    const body = Buffer.from(comment, "utf8");
    const commentAt = 64;
    const namesAt = commentAt + body.length;
    const tableAt = namesAt + names.length;
    const out = Buffer.alloc(tableAt + 3 * 64);
    out.writeUInt32BE(0x7f454c46, 0);
    out[4] = 2; // 64-bit
    out[5] = 1; // little-endian
    out.writeBigUInt64LE(BigInt(tableAt), 0x28);
    out.writeUInt16LE(64, 0x3a);
    out.writeUInt16LE(3, 0x3c);
    out.writeUInt16LE(2, 0x3e);
    body.copy(out, commentAt);
    names.copy(out, namesAt);
    const section = (i: number, name: number, offset: number, size: number) => {
        out.writeUInt32LE(name, tableAt + i * 64);
        out.writeBigUInt64LE(BigInt(offset), tableAt + i * 64 + 24);
        out.writeBigUInt64LE(BigInt(size), tableAt + i * 64 + 32);
    };
    section(1, 1, commentAt, body.length);
    section(2, 10, namesAt, names.length);
    fs.writeFileSync(file, out);
}

describe("whose CPU variant is loaded", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cpu-variants-"));

    it("reads the compilers from an ELF file's .comment section, and nothing from other files", () => {
        const file = path.join(dir, "libggml-cpu-zen4.so");
        writeElf(file, "GCC: (Debian 12.2.0-14+deb12u1) 12.2.0\0GCC: (Debian 12.2.0-14+deb12u1) 12.2.0\0");
        expect(elfComments(file)).toEqual(["GCC: (Debian 12.2.0-14+deb12u1) 12.2.0"]);
        expect(compilerOf(["Linker: LLD 17", "clang version 17.0.6"])).toBe("clang version 17.0.6");
        fs.writeFileSync(path.join(dir, "not-elf.so"), "not an ELF file at all, but long enough to hold a header..............");
        expect(elfComments(path.join(dir, "not-elf.so"))).toEqual([]);
    });

    it("describes the loaded variant from the metadata beside it, and as unknown without one", () => {
        const library = path.join(dir, "libggml-cpu-zen4.so");
        expect(describeCpuBackend(library)).toEqual({ library: "libggml-cpu-zen4.so", builtBy: "unknown", compiler: null });
        const metadata = {
            builtBy: "llama-reward",
            compiler: "GCC: (Debian 12.2.0-14+deb12u1) 12.2.0",
            ggml: "ggml of llama.cpp 80fb11a",
            files: { "libggml-cpu-zen4.so": "00" },
        };
        fs.writeFileSync(path.join(dir, cpuVariantsMetadataFile), JSON.stringify(metadata));
        expect(readCpuVariantsMetadata(dir)).toEqual(metadata);
        expect(describeCpuBackend(library)).toEqual({
            library: "libggml-cpu-zen4.so",
            builtBy: "llama-reward",
            compiler: metadata.compiler,
        });
        // a variant the metadata does not list is not vouched for
        expect(describeCpuBackend(path.join(dir, "libggml-cpu-haswell.so")).builtBy).toBe("unknown");
        fs.writeFileSync(path.join(dir, cpuVariantsMetadataFile), JSON.stringify({ ...metadata, builtBy: "someone" }));
        expect(readCpuVariantsMetadata(dir)).toBeUndefined();
        fs.writeFileSync(path.join(dir, cpuVariantsMetadataFile), JSON.stringify({ ...metadata, compiler: 12 }));
        expect(readCpuVariantsMetadata(dir)).toBeUndefined();
    });

    it("records node-llama-cpp's Windows DLLs with their digests and no compiler, and describes the loaded one", () => {
        const win = fs.mkdtempSync(path.join(os.tmpdir(), "cpu-variants-win-"));
        // PE files carry no .comment: nothing in them names the compiler
        fs.writeFileSync(path.join(win, "ggml-cpu-haswell.dll"), "MZ haswell");
        fs.writeFileSync(path.join(win, "ggml-cpu-zen4.dll"), "MZ zen4");
        fs.writeFileSync(path.join(win, "ggml-base.dll"), "MZ base");
        const { metadata } = prebuiltCpuVariants(win, fs.readdirSync(win), "@node-llama-cpp/win-x64@3.21.1");
        expect(metadata).toEqual({
            builtBy: "node-llama-cpp",
            compiler: null,
            ggml: "@node-llama-cpp/win-x64@3.21.1",
            files: {
                "ggml-cpu-haswell.dll": createHash("sha256").update("MZ haswell").digest("hex"),
                "ggml-cpu-zen4.dll": createHash("sha256").update("MZ zen4").digest("hex"),
            },
        });
        fs.writeFileSync(path.join(win, cpuVariantsMetadataFile), JSON.stringify(metadata));
        expect(describeCpuBackend(path.join(win, "ggml-cpu-zen4.dll"))).toEqual({
            library: "ggml-cpu-zen4.dll",
            builtBy: "node-llama-cpp",
            compiler: null,
        });
    });
});
