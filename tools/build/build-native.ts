/**
 * Builds the native addon: clones llama.cpp from node-llama-cpp's pinned git
 * bundle into deps/llama.cpp, applies native/patches/*.patch, and drives
 * cmake-js over the top-level CMakeLists.txt. Every step is skipped when its
 * inputs did not change, so a rebuild with nothing changed takes seconds.
 *
 * ggml comes from one of two places. "prebuilt" (the default where
 * node-llama-cpp's ggml package for this platform is installed, e.g.
 * @node-llama-cpp/linux-x64-vulkan): only our patched libllama is compiled,
 * linked against that package's libggml-base.so/libggml.so, and its backend
 * libraries are copied next to the addon, so CPU variants, Vulkan and CUDA
 * are chosen at run time. "source": ggml is compiled in too, with the backend
 * of LLAMA_REWARD_GPU. LLAMA_REWARD_GGML=prebuilt|source forces one;
 * LLAMA_REWARD_GPU forces "source". With prebuilt ggml on x86-64 Linux the
 * CPU variants beside the addon are compiled here from ggml's sources
 * (tools/build/cpu-variants.ts; LLAMA_REWARD_CPU_VARIANTS=prebuilt keeps
 * node-llama-cpp's), and ggml-cpu-variants.json says whose they are.
 *
 * The bundle comes from an installed node-llama-cpp or, when none is (a
 * user's source build), from `npm pack node-llama-cpp@<pinned>`.
 *
 * Run as `node dist/tools/build/build-native.js` (what `npm run build:native`,
 * `npx llama-reward build`, the install fallback and `node-gyp rebuild` call);
 * `--sources-only` stops after cloning and patching.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { llamaCppDir, llamaCppDirIsExternal, packageRoot } from "../../src/package-root.js";
import { nodeLlamaCppVersion } from "../../src/addon/prebuilt.js";
import { backendCmakeOptions, parseExtraCmakeArgs, resolveBackend } from "./backend-options.js";
import {
    buildOwnCpuVariants,
    chooseCpuVariants,
    type CpuVariantFiles,
    cpuVariantNames,
    foreignGgmlNeeds,
    missingBaseSymbols,
    prebuiltCpuVariants,
    writeCpuVariantsMetadata,
} from "./cpu-variants.js";
import { builtBackendLibraries, findPrebuiltGgml, ggmlRuntimeFiles, type PrebuiltGgml } from "./prebuilt-ggml.js";

const require = createRequire(import.meta.url);
const root = packageRoot();
const depsDir = path.join(root, "deps");
const llamaDir = llamaCppDir(); // also what CMake is given (LLAMA_REWARD_LLAMA_DIR)
const stampPath = path.join(depsDir, "llama.cpp.stamp.json");
const patchesDir = path.join(root, "native", "patches");

function log(message: string): void {
    process.stderr.write(`llama-reward build: ${message}\n`);
}

function fail(message: string): never {
    log(`error: ${message}`);
    process.exit(1);
}

function run(command: string, args: string[], cwd: string, what: string): void {
    const result = spawnSync(command, args, { cwd, stdio: "inherit" });
    if (result.error) fail(`${what}: could not run ${command}: ${result.error.message}`);
    if (result.status !== 0) fail(`${what} failed (${command} ${args.join(" ")} exited with ${result.status})`);
}

function runQuiet(command: string, args: string[], cwd: string): { ok: boolean; output: string } {
    const result = spawnSync(command, args, { cwd, encoding: "utf8" });
    return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}`.trim() };
}

function locateBundle(): string {
    // node-llama-cpp exports no package.json, so look through the module search paths.
    for (const dir of require.resolve.paths("node-llama-cpp") ?? []) {
        const bundle = path.join(dir, "node-llama-cpp", "llama", "gitRelease.bundle");
        if (fs.existsSync(bundle)) return bundle;
    }
    return fetchBundle();
}

/** Installed as a dependency, node-llama-cpp is absent: take its bundle from its npm tarball (the registry, no scripts run). */
function fetchBundle(): string {
    const cacheDir = path.join(depsDir, `node-llama-cpp-${nodeLlamaCppVersion}`);
    const bundle = path.join(cacheDir, "package", "llama", "gitRelease.bundle");
    if (fs.existsSync(bundle)) return bundle;
    fs.mkdirSync(cacheDir, { recursive: true });
    log(`fetching the llama.cpp source bundle: npm pack node-llama-cpp@${nodeLlamaCppVersion}`);
    const npmCli = process.env.npm_execpath;
    const [cmd, args] = npmCli?.endsWith(".js") ? [process.execPath, [npmCli]] : [process.platform === "win32" ? "npm.cmd" : "npm", []];
    run(
        cmd,
        [...args, "pack", `node-llama-cpp@${nodeLlamaCppVersion}`, "--silent", "--pack-destination", cacheDir],
        cacheDir,
        "downloading node-llama-cpp (for its llama.cpp source bundle)",
    );
    const tarball = fs.readdirSync(cacheDir).find((f) => f.endsWith(".tgz"));
    if (tarball === undefined) fail(`npm pack node-llama-cpp@${nodeLlamaCppVersion} wrote no tarball`);
    run("tar", ["-xzf", tarball, "package/llama/gitRelease.bundle"], cacheDir, "extracting the llama.cpp bundle");
    fs.rmSync(path.join(cacheDir, tarball));
    if (!fs.existsSync(bundle)) fail(`${bundle} is missing after extraction`);
    return bundle;
}

function fileDigest(files: string[]): string {
    const hash = createHash("sha256");
    for (const file of files) {
        hash.update(path.basename(file));
        hash.update(fs.readFileSync(file));
    }
    return hash.digest("hex");
}

interface SourceStamp {
    bundle: string; // size and mtime of the bundle the clone came from
    patches: string; // digest of the patch files applied to it
}

function readStamp(): SourceStamp | undefined {
    try {
        return JSON.parse(fs.readFileSync(stampPath, "utf8")) as SourceStamp;
    } catch {
        return undefined;
    }
}

/** Clones and patches llama.cpp unless the existing checkout already matches. */
function prepareSources(): void {
    if (llamaCppDirIsExternal()) {
        // A checkout chosen with $LLAMA_REWARD_LLAMA_DIR is the user's: never re-cloned, reset or patched here.
        if (!fs.existsSync(path.join(llamaDir, "CMakeLists.txt"))) fail(`LLAMA_REWARD_LLAMA_DIR=${llamaDir} holds no llama.cpp checkout`);
        log(`using the llama.cpp checkout at ${llamaDir} (LLAMA_REWARD_LLAMA_DIR) as it is; it must carry native/patches`);
        return;
    }
    const bundle = locateBundle();
    const patches = fs.existsSync(patchesDir)
        ? fs
              .readdirSync(patchesDir)
              .filter((f) => f.endsWith(".patch"))
              .sort()
              .map((f) => path.join(patchesDir, f))
        : [];
    const bundleStat = fs.statSync(bundle);
    const wanted: SourceStamp = { bundle: `${bundleStat.size}:${bundleStat.mtimeMs}`, patches: fileDigest(patches) };
    const current = readStamp();
    if (
        current &&
        current.bundle === wanted.bundle &&
        current.patches === wanted.patches &&
        fs.existsSync(path.join(llamaDir, "CMakeLists.txt"))
    ) {
        log("llama.cpp sources are up to date");
        return;
    }

    if (runQuiet("git", ["--version"], root).ok === false) fail("git is required to clone llama.cpp from its bundle");
    fs.mkdirSync(depsDir, { recursive: true });
    if (current?.bundle !== wanted.bundle || !fs.existsSync(path.join(llamaDir, ".git"))) {
        fs.rmSync(llamaDir, { recursive: true, force: true });
        log(`cloning llama.cpp from ${path.relative(root, bundle)}`);
        run("git", ["-c", "advice.detachedHead=false", "clone", "--quiet", bundle, llamaDir], root, "git clone");
    } else {
        log("resetting llama.cpp checkout before re-patching");
        run("git", ["reset", "--quiet", "--hard"], llamaDir, "git reset");
        run("git", ["clean", "--quiet", "-fdx"], llamaDir, "git clean");
    }
    for (const patch of patches) {
        const check = runQuiet("git", ["apply", "--check", patch], llamaDir);
        if (!check.ok) {
            fail(
                `patch ${path.relative(root, patch)} no longer applies to the llama.cpp in the bundle.\n` +
                    `${check.output}\nThe bundle changed (is node-llama-cpp still 3.21.1?); the patch must be updated.`,
            );
        }
        run("git", ["apply", patch], llamaDir, `applying ${path.basename(patch)}`);
        log(`applied ${path.basename(patch)}`);
    }
    fs.writeFileSync(stampPath, JSON.stringify(wanted, null, 2));
}

/** Where ggml comes from, see the header. */
function chooseGgml(): PrebuiltGgml | undefined {
    const forced = (process.env.LLAMA_REWARD_GGML ?? "").trim().toLowerCase();
    if (forced !== "" && forced !== "prebuilt" && forced !== "source") fail(`LLAMA_REWARD_GGML=${forced} is not "prebuilt" or "source"`);
    if (forced === "source") return undefined;
    const gpuSet = (process.env.LLAMA_REWARD_GPU ?? process.env.npm_config_llama_reward_gpu ?? "").trim() !== "";
    if (gpuSet && forced !== "prebuilt") return undefined;
    const found = findPrebuiltGgml();
    if (found === undefined && forced === "prebuilt") {
        fail(
            `LLAMA_REWARD_GGML=prebuilt, but no prebuilt ggml package for ${process.platform}-${process.arch} is installed ` +
                `(e.g. @node-llama-cpp/linux-x64-vulkan@${nodeLlamaCppVersion})`,
        );
    }
    if (found !== undefined && found.version !== nodeLlamaCppVersion) {
        log(`${found.pkg}@${found.version} is not ${nodeLlamaCppVersion} (the llama.cpp release of our patch); compiling ggml instead`);
        return undefined;
    }
    return found;
}

/** The CPU variants a prebuilt-ggml build ships: compiled here ("own") or node-llama-cpp's. */
function cpuVariants(ggml: PrebuiltGgml, jobs: number): CpuVariantFiles {
    let source: ReturnType<typeof chooseCpuVariants>;
    try {
        source = chooseCpuVariants(process.env, process.platform, process.arch);
    } catch (error) {
        fail((error as Error).message);
    }
    const files = ggmlRuntimeFiles(ggml.dir);
    if (source === "prebuilt") {
        log(`ggml CPU variants: ${ggml.pkg}@${ggml.version}'s, as they are (LLAMA_REWARD_CPU_VARIANTS=prebuilt)`);
        return prebuiltCpuVariants(ggml.dir, files, `${ggml.pkg}@${ggml.version}`);
    }
    const commit = runQuiet("git", ["rev-parse", "--short", "HEAD"], llamaDir);
    let built: CpuVariantFiles;
    try {
        built = buildOwnCpuVariants(
            {
                llamaDir,
                projectDir: path.join(root, "native", "ggml-cpu-variants"),
                buildDir: path.join(root, "build", "ggml-cpu-variants"),
                variants: cpuVariantNames(files),
                jobs,
                log,
            },
            `ggml of llama.cpp ${commit.ok ? commit.output : "(unknown commit)"} (node-llama-cpp ${nodeLlamaCppVersion}'s source bundle), with llama-reward's patch 0016-flash-attention-skip-masked-tiles only`,
        );
    } catch (error) {
        fail(`${(error as Error).message}\nLLAMA_REWARD_CPU_VARIANTS=prebuilt uses node-llama-cpp's CPU variants instead.`);
    }
    // they run on node-llama-cpp's libggml-base.so: they must ask for it by its name, and need only symbols it has
    const base = path.join(ggml.dir, "libggml-base.so");
    const foreign = foreignGgmlNeeds([...built.sources.values()], base);
    if (foreign.length > 0) fail(`the CPU variants compiled here ask for ${foreign.join(", ")}, not ${ggml.pkg}'s libggml-base.so`);
    const missing = missingBaseSymbols([...built.sources.values()], base);
    if (missing.length > 0) {
        fail(`the CPU variants compiled here need symbols ${ggml.pkg}'s libggml-base.so lacks: ${missing.slice(0, 10).join(", ")}`);
    }
    log(`ggml CPU variants: compiled here (${built.metadata.compiler})`);
    return built;
}

/**
 * Puts exactly `libraries` (file name -> source path) next to the addon and removes other ggml libraries,
 * except `keep`: those the addon's own CMake build writes there (libggml-rpc.so).
 */
function syncGgmlLibraries(outDir: string, libraries: Map<string, string>, keep: readonly string[]): void {
    for (const f of fs.readdirSync(outDir)) {
        if (/^libggml.*\.so$/.test(f) && !libraries.has(f) && !keep.includes(f)) fs.rmSync(path.join(outDir, f));
    }
    for (const [f, from] of libraries) {
        const to = path.join(outDir, f);
        const a = fs.statSync(from);
        const b = fs.existsSync(to) ? fs.statSync(to) : undefined;
        // copies keep their source's mtime, so a switch between two sources of one file is always seen
        if (b === undefined || b.size !== a.size || b.mtimeMs !== a.mtimeMs) {
            fs.copyFileSync(from, to);
            fs.utimesSync(to, a.atime, a.mtime);
        }
    }
}

/** node-llama-cpp's ggml libraries with the CPU variants of `variants` in place of its own. */
function ggmlLibraries(ggml: PrebuiltGgml, variants: CpuVariantFiles): Map<string, string> {
    const libraries = new Map(ggmlRuntimeFiles(ggml.dir).map((f) => [f, path.join(ggml.dir, f)]));
    for (const [f, from] of variants.sources) libraries.set(f, from);
    return libraries;
}

function buildAddon(): void {
    const ggml = chooseGgml();
    const backend = ggml ? "cpu" : resolveBackend(process.env, process.platform, process.arch);
    const extra = parseExtraCmakeArgs(process.env.LLAMA_REWARD_CMAKE_ARGS ?? process.env.npm_config_llama_reward_cmake_args ?? "");
    const defines = { ...backendCmakeOptions(backend), LLAMA_REWARD_LLAMA_DIR: llamaDir, LLAMA_REWARD_GGML_DIR: ggml?.dir ?? "", ...extra };
    const jobs = Number(process.env.LLAMA_REWARD_JOBS) || os.availableParallelism();
    const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
    const common = [
        "--out",
        path.join("build", "cmake"),
        "--config",
        "Release",
        ...Object.entries(defines).map(([k, v]) => `--CD${k}=${v}`),
    ];

    log(
        ggml
            ? `ggml: prebuilt, from ${ggml.pkg}@${ggml.version} (backends chosen at run time)`
            : `ggml: compiled from source, backend: ${backend}`,
    );
    log(
        `cmake options: ${
            Object.entries(defines)
                .map(([k, v]) => `${k}=${v}`)
                .join(" ") || "(none)"
        }`,
    );
    // a prebuilt-ggml addon finds its ggml libraries beside it ($ORIGIN): put them there before it is relinked
    const outDir = path.join(root, "build", "Release");
    const variants = ggml ? cpuVariants(ggml, jobs) : undefined;
    const libraries = ggml && variants ? ggmlLibraries(ggml, variants) : new Map<string, string>();
    if (ggml) {
        fs.mkdirSync(outDir, { recursive: true });
        syncGgmlLibraries(outDir, libraries, ggml ? builtBackendLibraries : []);
        writeCpuVariantsMetadata(outDir, variants?.metadata);
    }
    // configure is cheap on an existing tree and picks up changed options; the build is incremental.
    run(process.execPath, [cmakeJs, "configure", ...common], root, "cmake configure");
    run(process.execPath, [cmakeJs, "build", ...common, "--parallel", String(jobs), "--target", "llama_reward"], root, "cmake build");
    const addon = path.join(root, "build", "Release", "llama_reward.node");
    if (!fs.existsSync(addon)) fail(`the build finished but ${addon} is missing`);
    syncGgmlLibraries(outDir, libraries, ggml ? builtBackendLibraries : []); // again: exactly the libraries of this build (none for a source build)
    writeCpuVariantsMetadata(outDir, variants?.metadata);
    log(`built ${path.relative(root, addon)}`);
}

const started = Date.now();
prepareSources();
// --sources-only: clone and patch llama.cpp, build nothing (tools/platforms/cross-build.ts compiles it for other platforms)
if (!process.argv.includes("--sources-only")) buildAddon();
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
