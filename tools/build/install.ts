/**
 * What llama-reward's `install` script does once installed as a dependency
 * (through tools/install.mjs): nothing when an addon already loads (the
 * prebuilt platform package, a local build, LLAMA_REWARD_ADDON_PATH), else
 * the source build. LLAMA_REWARD_BUILD_FROM_SOURCE=1 or
 * `npm install --build-from-source` skip the check and build from source.
 * npm 11 does not run dependency install scripts unless the user allows
 * them; the prebuilt path needs none, and `npx llama-reward build` runs the
 * same source build by hand. Where that build finds node-llama-cpp's ggml
 * package (prebuilt ggml), the install keeps its CPU variants rather than
 * compiling 14 of its own (minutes more; docs/installing.md) unless
 * LLAMA_REWARD_CPU_VARIANTS says otherwise.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadedAddon } from "../../src/addon/load-addon.js";

function log(message: string): void {
    process.stderr.write(`llama-reward install: ${message}\n`);
}

/** True when the user asked for a source build at install time. */
export function buildFromSourceRequested(env: NodeJS.ProcessEnv = process.env): boolean {
    const flag = (value: string | undefined) => value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
    return flag(env.LLAMA_REWARD_BUILD_FROM_SOURCE) || flag(env.npm_config_build_from_source);
}

/** The environment of the install's source build: node-llama-cpp's CPU variants unless the user chose. */
export function installBuildEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return { ...env, LLAMA_REWARD_CPU_VARIANTS: env.LLAMA_REWARD_CPU_VARIANTS || "prebuilt" };
}

/** Runs the source build (tools/build/build-native.ts) in a child process; returns its exit status. */
export function runSourceBuild(): number {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "build-native.js");
    const result = spawnSync(process.execPath, [script], { stdio: "inherit", env: installBuildEnv() });
    return result.status ?? 1;
}

function main(): number {
    if (!buildFromSourceRequested()) {
        try {
            const { source, path: file } = loadedAddon();
            log(`using the ${source === "prebuilt" ? "prebuilt" : source === "local" ? "local" : "LLAMA_REWARD_ADDON_PATH"} addon ${file}`);
            return 0;
        } catch (error) {
            log(`no prebuilt addon loads here, building from source.\n${error instanceof Error ? error.message : String(error)}`);
        }
    } else {
        log("building from source (LLAMA_REWARD_BUILD_FROM_SOURCE / --build-from-source)");
    }
    const status = runSourceBuild();
    if (status !== 0) {
        log(
            "the source build failed (see above). It needs git, CMake >= 3.19 and a C++17 compiler; " +
                "install them and run `npx llama-reward build`.",
        );
    }
    return status;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    process.exitCode = main();
}
