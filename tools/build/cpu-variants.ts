/**
 * The ggml CPU backend variants (libggml-cpu-<variant>.so, GGML_BACKEND_DL
 * plugins ggml picks from at run time) that a prebuilt-ggml build puts next
 * to the addon, and the metadata file saying whose they are. Two sources,
 * chosen by LLAMA_REWARD_CPU_VARIANTS:
 * - "own" (the default on x86-64 Linux): compiled here from the ggml of the
 *   llama.cpp checkout, with patch 0016 only (a faster flash-attention mask
 *   test, docs/format.md) (native/ggml-cpu-variants/CMakeLists.txt),
 *   the same variant set as node-llama-cpp's package, into
 *   build/ggml-cpu-variants. node-llama-cpp's were compiled by GCC 11.4,
 *   which keeps tinyBLAS's F32/F16/BF16 accumulators on the stack
 *   (docs/performance.md). Skipped when a stamp shows nothing changed.
 * - "prebuilt": node-llama-cpp's files as they are.
 * libggml-base.so and libggml.so stay node-llama-cpp's either way (same
 * llama.cpp release, same ABI): our variants must ask for it by its soname
 * and need only symbols it exports (checked here with binutils).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type CpuVariantsMetadata, cpuVariantsMetadataFile } from "../../src/addon/cpu-backend.js";
import { compilerOf, elfComments } from "./elf-comment.js";

export type CpuVariantsSource = "own" | "prebuilt";

/** LLAMA_REWARD_CPU_VARIANTS, else "own" on x86-64 Linux and "prebuilt" elsewhere; throws on a value that cannot be built. */
export function chooseCpuVariants(env: NodeJS.ProcessEnv, platform: string, arch: string): CpuVariantsSource {
    const requested = (env.LLAMA_REWARD_CPU_VARIANTS ?? "").trim().toLowerCase();
    const canBuild = platform === "linux" && arch === "x64";
    if (requested === "") return canBuild ? "own" : "prebuilt";
    if (requested !== "own" && requested !== "prebuilt") {
        throw new Error(`LLAMA_REWARD_CPU_VARIANTS=${requested} is not "own" or "prebuilt"`);
    }
    if (requested === "own" && !canBuild) {
        throw new Error(`LLAMA_REWARD_CPU_VARIANTS=own builds x86-64 Linux variants only, not ${platform}-${arch}`);
    }
    return requested;
}

/** The CPU variant files a build puts beside the addon: file name -> where to copy it from, and their metadata. */
export interface CpuVariantFiles {
    sources: Map<string, string>;
    metadata: CpuVariantsMetadata;
}

/** "libggml-cpu-zen4.so" -> "zen4" for the CPU variants among `files`. */
export function cpuVariantNames(files: readonly string[]): string[] {
    return files.flatMap((f) => /^libggml-cpu-([a-z0-9_.]+)\.so$/.exec(f)?.[1] ?? []).sort();
}

/** The CPU variant libraries among `files`: libggml-cpu-<variant>.so (Linux) and ggml-cpu-<variant>.dll (Windows). */
export function cpuVariantFiles(files: readonly string[]): string[] {
    return files.filter((f) => /^libggml-cpu-[a-z0-9_.]+\.so$|^ggml-cpu-[a-z0-9_.]+\.dll$/.test(f)).sort();
}

function sha256(file: string): string {
    return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** The one compiler all `files` name, or every distinct one joined; null when none names one (PE files). */
function compilerOfFiles(files: string[]): string | null {
    const compilers = new Set(files.map((f) => compilerOf(elfComments(f)) ?? "unknown"));
    return compilers.size === 0 || (compilers.size === 1 && compilers.has("unknown")) ? null : [...compilers].join("; ");
}

function withMetadata(builtBy: CpuVariantsMetadata["builtBy"], ggml: string, sources: Map<string, string>): CpuVariantFiles {
    const files: Record<string, string> = {};
    for (const [name, from] of [...sources].sort(([a], [b]) => a.localeCompare(b))) files[name] = sha256(from);
    return { sources, metadata: { builtBy, compiler: compilerOfFiles([...sources.values()]), ggml, files } };
}

/** node-llama-cpp's variants in `ggmlDir` (Linux .so or Windows .dll) as they are. */
export function prebuiltCpuVariants(ggmlDir: string, files: readonly string[], ggml: string): CpuVariantFiles {
    const sources = new Map(cpuVariantFiles(files).map((f) => [f, path.join(ggmlDir, f)]));
    return withMetadata("node-llama-cpp", ggml, sources);
}

export interface OwnBuildOptions {
    /** llama.cpp checkout holding ggml/. */
    llamaDir: string;
    /** native/ggml-cpu-variants (the CMake project). */
    projectDir: string;
    /** Its build tree, e.g. build/ggml-cpu-variants. */
    buildDir: string;
    /** Variant names to build, e.g. ["haswell", "zen4"]. */
    variants: string[];
    jobs: number;
    log: (message: string) => void;
}

interface OwnBuildStamp {
    /** What the variants are compiled from and with; equal stamps and present outputs mean nothing to do. */
    inputs: string;
    /** Output file -> "size:mtime" when the stamp was written. */
    outputs: Record<string, string>;
}

function capture(command: string, args: string[], cwd: string): string | undefined {
    const result = spawnSync(command, args, { cwd, encoding: "utf8" });
    return result.status === 0 ? result.stdout.trim() : undefined;
}

/**
 * Everything the variants depend on: the ggml sources (git tree and any local change), the CMake project (and its module),
 * the compiler and the variant list. undefined when the checkout is not a git tree (then CMake decides).
 */
function buildInputs(options: OwnBuildOptions): string | undefined {
    const tree = capture("git", ["rev-parse", "HEAD:ggml"], options.llamaDir);
    const changes = capture("git", ["status", "--porcelain", "--", "ggml"], options.llamaDir);
    const diff = capture("git", ["diff", "HEAD", "--", "ggml"], options.llamaDir);
    if (tree === undefined || changes === undefined || diff === undefined) return undefined;
    const compiler = ["CC", "CXX"].map((v) => `${v}=${process.env[v] ?? ""}`).join(" ");
    const version = capture(process.env.CXX ?? "c++", ["--version"], options.llamaDir)?.split("\n")[0] ?? "";
    // the CMake project and the module it includes (native/cmake/ggml-amx-tile-config.cmake)
    const project = ["CMakeLists.txt", "../cmake/ggml-amx-tile-config.cmake"].map((f) =>
        fs.readFileSync(path.join(options.projectDir, f), "utf8"),
    );
    return createHash("sha256")
        .update(JSON.stringify([tree, changes, diff, ...project]))
        .update(JSON.stringify([compiler, version, options.variants, process.env.CMAKE_GENERATOR ?? ""]))
        .digest("hex");
}

function outputState(file: string): string | undefined {
    if (!fs.existsSync(file)) return undefined;
    const s = fs.statSync(file);
    return `${s.size}:${s.mtimeMs}`;
}

function runStep(args: string[], what: string, cwd: string): void {
    const result = spawnSync("cmake", args, { cwd, encoding: "utf8", maxBuffer: 256 << 20 });
    if (result.error) throw new Error(`${what}: could not run cmake: ${result.error.message}`);
    if (result.status !== 0) {
        const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n").slice(-40).join("\n");
        throw new Error(`${what} failed (cmake ${args.join(" ")} exited with ${result.status}):\n${output}`);
    }
}

/** Compiles the variants (or finds them up to date) and returns them with their metadata. */
export function buildOwnCpuVariants(options: OwnBuildOptions, ggml: string): CpuVariantFiles {
    const { buildDir, variants, log } = options;
    const binDir = path.join(buildDir, "bin");
    const stampPath = path.join(buildDir, "llama-reward-stamp.json");
    const outputs = variants.map((v) => path.join(binDir, `libggml-cpu-${v}.so`));
    const sources = new Map(outputs.map((f) => [path.basename(f), f]));
    const inputs = buildInputs(options);
    let stamp: OwnBuildStamp | undefined;
    try {
        stamp = JSON.parse(fs.readFileSync(stampPath, "utf8")) as OwnBuildStamp;
    } catch {
        stamp = undefined;
    }
    if (
        inputs !== undefined &&
        stamp?.inputs === inputs &&
        outputs.every((f) => stamp.outputs[path.basename(f)] !== undefined && stamp.outputs[path.basename(f)] === outputState(f))
    ) {
        log(`ggml CPU variants are up to date (${path.relative(process.cwd(), binDir) || binDir})`);
        return withMetadata("llama-reward", ggml, sources);
    }

    const started = Date.now();
    log(`compiling ggml's ${variants.length} CPU variants with this machine's compiler into ${buildDir} (minutes on 2 cores)`);
    fs.mkdirSync(buildDir, { recursive: true });
    runStep(
        ["-S", options.projectDir, "-B", buildDir, `-DLLAMA_REWARD_LLAMA_DIR=${options.llamaDir}`, "-DCMAKE_BUILD_TYPE=Release"],
        "configuring ggml's CPU variants",
        buildDir,
    );
    // one target at a time: progress a person can follow, and a failure names its variant
    for (const [i, variant] of variants.entries()) {
        const t = Date.now();
        runStep(
            ["--build", buildDir, "--target", `ggml-cpu-${variant}`, "--parallel", String(options.jobs)],
            `compiling the ${variant} CPU variant`,
            buildDir,
        );
        log(`  CPU variant ${i + 1}/${variants.length}: ${variant} (${((Date.now() - t) / 1000).toFixed(0)} s)`);
    }
    const missing = outputs.filter((f) => !fs.existsSync(f));
    if (missing.length > 0) throw new Error(`the CPU variant build finished but ${missing.join(", ")} is missing`);
    log(`ggml CPU variants compiled in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (inputs !== undefined) {
        const written: OwnBuildStamp = { inputs, outputs: Object.fromEntries(outputs.map((f) => [path.basename(f), outputState(f)!])) };
        fs.writeFileSync(stampPath, JSON.stringify(written, null, 2));
    }
    return withMetadata("llama-reward", ggml, sources);
}

/** The dynamic symbols `library` defines (nm -D --defined-only) or, with `undefinedOnly`, needs without a version (not libc's or libstdc++'s). */
function dynamicSymbols(library: string, undefinedOnly: boolean): string[] {
    const out = capture("nm", ["-D", undefinedOnly ? "--undefined-only" : "--defined-only", library], path.dirname(library));
    if (out === undefined) throw new Error(`nm -D ${library} failed (binutils is needed to check the CPU variants)`);
    return out.split("\n").flatMap((line) => {
        const [kind, name] = line.trim().split(/\s+/).slice(-2);
        if (name === undefined || kind === undefined) return [];
        if (undefinedOnly) return kind === "U" && !name.includes("@") ? [name] : [];
        return [name.split("@")[0]!];
    });
}

/** The symbols the `variants` need from libggml-base.so that `baseLibrary` lacks (empty when they fit it). */
export function missingBaseSymbols(variants: readonly string[], baseLibrary: string): string[] {
    const defined = new Set(dynamicSymbols(baseLibrary, false));
    const missing = new Set<string>();
    for (const v of variants) for (const name of dynamicSymbols(v, true)) if (!defined.has(name)) missing.add(name);
    return [...missing].sort();
}

/** The shared libraries `library` asks for by name (its DT_NEEDED entries, objdump -p). */
export function neededLibraries(library: string): string[] {
    const out = capture("objdump", ["-p", library], path.dirname(library));
    if (out === undefined) throw new Error(`objdump -p ${library} failed (binutils is needed to check the CPU variants)`);
    return [...out.matchAll(/^\s*NEEDED\s+(\S+)$/gm)].map((m) => m[1]!);
}

/** The ggml libraries the `variants` ask for that are not `baseLibrary`'s file name (an soname it does not answer to). */
export function foreignGgmlNeeds(variants: readonly string[], baseLibrary: string): string[] {
    const base = path.basename(baseLibrary);
    const foreign = new Set<string>();
    for (const v of variants) for (const name of neededLibraries(v)) if (name.startsWith("libggml") && name !== base) foreign.add(name);
    return [...foreign].sort();
}

/** Writes (or, with undefined, removes) the metadata file in the addon's folder. */
export function writeCpuVariantsMetadata(outDir: string, metadata: CpuVariantsMetadata | undefined): void {
    const file = path.join(outDir, cpuVariantsMetadataFile);
    if (metadata === undefined) fs.rmSync(file, { force: true });
    else fs.writeFileSync(file, `${JSON.stringify(metadata, null, 2)}\n`);
}
