/**
 * Cross-builds the prebuilt addon of another platform on linux-x64, the way
 * the linux-x64 prebuilt is built: our patched libllama compiled for the
 * target and linked into llama_reward.node against node-llama-cpp's ggml of
 * the same release for that platform, whose libraries are copied beside it
 * (build/cross/<tag>/Release). No ggml code is compiled.
 *
 *   node dist/tools/platforms/cross-build.js linux-arm64|win32-x64
 *
 * linux-arm64: aarch64-linux-gnu-g++ and @node-llama-cpp/linux-arm64 (npm
 * installs it here as an optional package of node-llama-cpp; otherwise it is
 * fetched). win32-x64: MinGW-w64 g++ and @node-llama-cpp/win-x64 (fetched with
 * `npm pack`); the addon links to node.exe through a delay-load import
 * library made from node-api-headers' .def file. The CMake build is incremental.
 * Beside them goes ggml-cpu-variants.json, saying the CPU variants are
 * node-llama-cpp's (what addonInfo().cpuBackend reports on the target).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { resolvePackageFile } from "../../src/addon/load-addon.js";
import { addonFileName, nodeLlamaCppVersion } from "../../src/addon/prebuilt.js";
import { llamaCppDir, packageRoot } from "../../src/package-root.js";
import { prebuiltCpuVariants, writeCpuVariantsMetadata } from "../build/cpu-variants.js";
import { cachedNpmPackage } from "./npm-package-cache.js";
import { type CrossTarget, crossTarget } from "./targets.js";

const require = createRequire(import.meta.url);
const root = packageRoot();

export interface CrossBuild {
    target: CrossTarget;
    /** Folder holding llama_reward.node and the ggml libraries it loads. */
    outDir: string;
    /** The ggml package it was linked against. */
    ggml: { pkg: string; version: string; dir: string };
}

function log(message: string): void {
    process.stderr.write(`llama-reward cross-build: ${message}\n`);
}

function run(command: string, args: string[], what: string): void {
    const result = spawnSync(command, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
    if (result.status !== 0) throw new Error(`${what} failed (${command} ${args.join(" ")}: ${result.status ?? result.error?.message})`);
}

export function hasProgram(name: string): boolean {
    return spawnSync("/bin/sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;
}

/** The installed ggml package of the release we patch, else its npm tarball. */
function locateGgml(target: CrossTarget): CrossBuild["ggml"] {
    const installed = resolvePackageFile(target.ggml.pkg, path.join(target.ggml.dir, target.ggmlBaseLibrary));
    if (installed !== undefined) {
        const dir = path.dirname(installed);
        const manifest = JSON.parse(fs.readFileSync(path.join(dir, "..", "..", "package.json"), "utf8")) as { version: string };
        if (manifest.version === nodeLlamaCppVersion) return { pkg: target.ggml.pkg, version: manifest.version, dir };
    }
    const dir = path.join(cachedNpmPackage(target.ggml.pkg, nodeLlamaCppVersion, log), target.ggml.dir);
    if (!fs.existsSync(path.join(dir, target.ggmlBaseLibrary))) throw new Error(`${target.ggml.pkg} lacks ${target.ggmlBaseLibrary}`);
    return { pkg: target.ggml.pkg, version: nodeLlamaCppVersion, dir };
}

/**
 * node.exe's N-API exports as a delay-load import library: Windows addons link
 * to the host executable, and native/src/win_delay_load_hook.cpp points the
 * delay loader at the running one, whatever its name (electron.exe).
 */
function nodeImportLibrary(buildDir: string): string {
    const def = path.join(path.dirname(require.resolve("node-api-headers/package.json")), "def", "node_api.def");
    const lib = path.join(buildDir, "libnode_api_delay.a");
    run("x86_64-w64-mingw32-dlltool", ["-d", def, "-y", lib, "-D", "node.exe"], "making node.exe's delay-load import library");
    return lib;
}

/** The executable machine of a built file: "aarch64", "x86-64 (PE)", … (what proves it is the target's). */
export function binaryMachine(file: string): string {
    const head = Buffer.alloc(512);
    const fd = fs.openSync(file, "r");
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    if (head.readUInt32BE(0) === 0x7f454c46) {
        const machine = head.readUInt16LE(18);
        return machine === 0xb7 ? "aarch64 (ELF)" : machine === 0x3e ? "x86-64 (ELF)" : `ELF machine 0x${machine.toString(16)}`;
    }
    if (head.toString("latin1", 0, 2) === "MZ") {
        const pe = head.readUInt32LE(0x3c);
        const machine = pe + 6 <= head.length ? head.readUInt16LE(pe + 4) : -1;
        return machine === 0x8664 ? "x86-64 (PE)" : machine === 0xaa64 ? "arm64 (PE)" : `PE machine 0x${machine.toString(16)}`;
    }
    return "unknown";
}

const expectedMachine: Record<string, string> = { "linux-arm64": "aarch64 (ELF)", "win32-x64": "x86-64 (PE)" };

export function crossBuild(target: CrossTarget): CrossBuild {
    if (!hasProgram(target.compiler)) {
        throw new Error(`${target.compiler} is not installed (Debian: apt-get install ${target.buildPackages.join(" ")})`);
    }
    const started = Date.now();
    // llama.cpp cloned and patched exactly as for the native build
    run(process.execPath, [path.join(root, "dist", "tools", "build", "build-native.js"), "--sources-only"], "preparing llama.cpp");
    const ggml = locateGgml(target);
    log(`${target.tag}: ggml from ${ggml.pkg}@${ggml.version}`);
    const buildDir = path.join(root, "build", "cross", target.tag);
    const outDir = path.join(buildDir, "Release");
    fs.mkdirSync(outDir, { recursive: true });
    const napiInclude = path.join(path.dirname(require.resolve("node-api-headers/package.json")), "include");
    const addonApi = path.dirname(require.resolve("node-addon-api/package.json"));
    const defines: Record<string, string> = {
        CMAKE_TOOLCHAIN_FILE: path.join(root, target.toolchainFile),
        CMAKE_BUILD_TYPE: "Release",
        LLAMA_REWARD_LLAMA_DIR: llamaCppDir(),
        LLAMA_REWARD_GGML_DIR: ggml.dir,
        LLAMA_REWARD_OUTPUT_DIR: outDir,
        CMAKE_JS_INC: `${napiInclude};${addonApi}`,
        CMAKE_JS_LIB: target.platform === "win32" ? nodeImportLibrary(buildDir) : "",
    };
    const generator = hasProgram("ninja") ? ["-G", "Ninja"] : [];
    run(
        "cmake",
        [...generator, "-S", root, "-B", buildDir, ...Object.entries(defines).map(([k, v]) => `-D${k}=${v}`)],
        `cmake configure (${target.tag})`,
    );
    const jobs = Number(process.env.LLAMA_REWARD_JOBS) || os.availableParallelism();
    run("cmake", ["--build", buildDir, "--target", "llama_reward", "--parallel", String(jobs)], `cmake build (${target.tag})`);
    const addon = path.join(outDir, addonFileName);
    const machine = binaryMachine(addon);
    if (machine !== expectedMachine[target.tag]) throw new Error(`${addon} is ${machine}, not ${expectedMachine[target.tag]}`);
    // exactly the ggml libraries of this build beside the addon
    const wanted = new Set(target.runtimeFiles(ggml.dir));
    for (const f of fs.readdirSync(outDir)) {
        if (f !== addonFileName && !wanted.has(f) && /\.(so|dll)$/.test(f)) fs.rmSync(path.join(outDir, f));
    }
    for (const f of wanted) fs.copyFileSync(path.join(ggml.dir, f), path.join(outDir, f));
    writeCpuVariantsMetadata(outDir, prebuiltCpuVariants(outDir, [...wanted], `${ggml.pkg}@${ggml.version}`).metadata);
    log(
        `${target.tag}: ${path.relative(root, addon)} (${machine}) and ${wanted.size} ggml libraries in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    return { target, outDir, ggml };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const tag = process.argv[2];
    if (tag === undefined) {
        log("usage: node dist/tools/platforms/cross-build.js linux-arm64|win32-x64");
        process.exit(2);
    }
    try {
        crossBuild(crossTarget(tag));
    } catch (error) {
        log(`error: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
    }
}
