/**
 * Finds the llama-reward package root (the folder with our package.json),
 * whether code runs from src/ under vitest or from dist/ after compilation,
 * and the llama.cpp checkout the build cloned there.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

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
        if (parent === dir) throw new Error("llama-reward: cannot find the package root");
        dir = parent;
    }
}

/** The llama.cpp source directory: $LLAMA_REWARD_LLAMA_DIR, else `<root>/deps/llama.cpp`. */
export function llamaCppDir(): string {
    const fromEnv = process.env.LLAMA_REWARD_LLAMA_DIR;
    return fromEnv !== undefined && fromEnv !== "" ? path.resolve(fromEnv) : path.join(packageRoot(), "deps", "llama.cpp");
}
