/**
 * Finds the llama-reward package root (the folder with our package.json),
 * whether code runs from src/ under vitest or from dist/ after compilation,
 * and the llama.cpp checkout the build cloned there.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RewardModelError } from "./errors.js";

let cached: string | undefined;

export function packageRoot(): string {
    if (cached) return cached;
    let dir = path.dirname(fileURLToPath(import.meta.url));
    for (;;) {
        const candidate = path.join(dir, "package.json");
        if (fs.existsSync(candidate)) {
            try {
                if (JSON.parse(fs.readFileSync(candidate, "utf8")).name === "llama-reward") {
                    cached = dir;
                    return dir;
                }
            } catch {
                // unreadable package.json: keep walking up
            }
        }
        const parent = path.dirname(dir);
        if (parent === dir) {
            throw new RewardModelError(
                "ERR_NATIVE_NOT_BUILT",
                `cannot find the llama-reward package root (a package.json named "llama-reward") above ${path.dirname(fileURLToPath(import.meta.url))}; the installation is incomplete`,
            );
        }
        dir = parent;
    }
}

/**
 * The llama.cpp source directory, decided here only: $LLAMA_REWARD_LLAMA_DIR
 * (a checkout you patched yourself), else `<root>/deps/llama.cpp`, which the
 * build clones and patches. The build passes it on to CMake; the tests read
 * llama.cpp's vocabulary files and the benchmark builds llama-bench from it.
 */
export function llamaCppDir(): string {
    return llamaCppDirIsExternal() ? path.resolve(process.env.LLAMA_REWARD_LLAMA_DIR!) : path.join(packageRoot(), "deps", "llama.cpp");
}

/** True when $LLAMA_REWARD_LLAMA_DIR names the checkout, so the build must leave it as it is. */
export function llamaCppDirIsExternal(): boolean {
    const fromEnv = process.env.LLAMA_REWARD_LLAMA_DIR;
    return fromEnv !== undefined && fromEnv !== "";
}
