/**
 * Builds the native addon: clones llama.cpp from node-llama-cpp's pinned git
 * bundle into deps/llama.cpp, applies native/patches/*.patch, and drives
 * cmake-js over the top-level CMakeLists.txt. Every step is skipped when its
 * inputs did not change, so a rebuild with nothing changed takes seconds.
 *
 * Run as `node dist/tools/build/build-native.js` (what `npm install`,
 * `npm run build:native` and `node-gyp rebuild` call).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { llamaCppDir, llamaCppDirIsExternal, packageRoot } from "../../src/package-root.js";
import { backendCmakeOptions, parseExtraCmakeArgs, resolveBackend } from "./backend-options.js";

const require = createRequire(import.meta.url);
const root = packageRoot();
const depsDir = path.join(root, "deps");
const llamaDir = llamaCppDir();   // also what CMake is given (LLAMA_REWARD_LLAMA_DIR)
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
    fail("node-llama-cpp (which carries the llama.cpp source bundle llama/gitRelease.bundle) is not installed. Run `npm install` first.");
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
    bundle: string;   // size and mtime of the bundle the clone came from
    patches: string;  // digest of the patch files applied to it
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
        ? fs.readdirSync(patchesDir).filter((f) => f.endsWith(".patch")).sort().map((f) => path.join(patchesDir, f))
        : [];
    const bundleStat = fs.statSync(bundle);
    const wanted: SourceStamp = { bundle: `${bundleStat.size}:${bundleStat.mtimeMs}`, patches: fileDigest(patches) };
    const current = readStamp();
    if (current && current.bundle === wanted.bundle && current.patches === wanted.patches
        && fs.existsSync(path.join(llamaDir, "CMakeLists.txt"))) {
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
            fail(`patch ${path.relative(root, patch)} no longer applies to the llama.cpp in the bundle.\n` +
                `${check.output}\nThe bundle changed (is node-llama-cpp still 3.21.1?); the patch must be updated.`);
        }
        run("git", ["apply", patch], llamaDir, `applying ${path.basename(patch)}`);
        log(`applied ${path.basename(patch)}`);
    }
    fs.writeFileSync(stampPath, JSON.stringify(wanted, null, 2));
}

function buildAddon(): void {
    const backend = resolveBackend(process.env, process.platform, process.arch);
    const extra = parseExtraCmakeArgs(process.env.LLAMA_REWARD_CMAKE_ARGS ?? process.env.npm_config_llama_reward_cmake_args ?? "");
    const defines = { ...backendCmakeOptions(backend), LLAMA_REWARD_LLAMA_DIR: llamaDir, ...extra };
    const jobs = Number(process.env.LLAMA_REWARD_JOBS) || os.availableParallelism();
    const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
    const common = ["--out", path.join("build", "cmake"), "--config", "Release",
        ...Object.entries(defines).map(([k, v]) => `--CD${k}=${v}`)];

    log(`backend: ${backend}; cmake options: ${Object.entries(defines).map(([k, v]) => `${k}=${v}`).join(" ") || "(none)"}`);
    // configure is cheap on an existing tree and picks up changed options; the build is incremental.
    run(process.execPath, [cmakeJs, "configure", ...common], root, "cmake configure");
    run(process.execPath, [cmakeJs, "build", ...common, "--parallel", String(jobs), "--target", "llama_reward"], root, "cmake build");
    const addon = path.join(root, "build", "Release", "llama_reward.node");
    if (!fs.existsSync(addon)) fail(`the build finished but ${addon} is missing`);
    log(`built ${path.relative(root, addon)}`);
}

const started = Date.now();
prepareSources();
buildAddon();
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
