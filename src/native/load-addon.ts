/**
 * Locates and loads the compiled addon: LLAMA_REWARD_ADDON_PATH when set,
 * else the local build (build/Release/llama_reward.node). Failures become
 * ERR_NATIVE_NOT_BUILT with advice fitted to what went wrong.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { RewardModelError } from "../errors.js";
import { packageRoot } from "../package-root.js";
import type { NativeAddon } from "./native-types.js";

const require = createRequire(import.meta.url);
let addon: NativeAddon | undefined;

export function addonPath(): string {
    const explicit = process.env.LLAMA_REWARD_ADDON_PATH;
    if (explicit) return path.resolve(explicit);
    return path.join(packageRoot(), "build", "Release", "llama_reward.node");
}

export function loadAddon(): NativeAddon {
    if (addon) return addon;
    const file = addonPath();
    if (!fs.existsSync(file)) {
        throw new RewardModelError("ERR_NATIVE_NOT_BUILT",
            `the native addon is not built (${file} is missing).\nPossible solutions:\n` +
            "  - run `npm run build:native` in the llama-reward package (needs cmake, a C++17 compiler and git)\n" +
            "  - or point LLAMA_REWARD_ADDON_PATH at a built llama_reward.node");
    }
    try {
        addon = require(file) as NativeAddon;
    } catch (cause) {
        const message = cause instanceof Error ? cause.message : String(cause);
        const hint = /GLIBC|GLIBCXX/.test(message)
            ? "the addon was built against a newer C/C++ runtime than this system has; rebuild it here with `npm run build:native`"
            : /wrong ELF|invalid ELF|not a valid Win32|mach-o/i.test(message)
                ? "the addon was built for another platform or CPU; rebuild it here with `npm run build:native`"
                : /cannot open shared object|Library not loaded|specified module could not be found/i.test(message)
                    ? "a GPU runtime library the addon links to is missing; install the driver/runtime or rebuild with LLAMA_REWARD_GPU=cpu"
                    : "rebuild it with `npm run build:native`";
        throw new RewardModelError("ERR_NATIVE_NOT_BUILT", `the native addon at ${file} failed to load: ${message}\nPossible solution: ${hint}`, { cause });
    }
    return addon;
}
