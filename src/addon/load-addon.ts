/**
 * Locates and loads the compiled addon. Order: LLAMA_REWARD_ADDON_PATH (when
 * set, only that file), the local source build (build/Release), then the
 * prebuilt platform package (@llama-reward/<platform>-<arch>). An addon
 * built on prebuilt ggml then loads the ggml backend libraries next to it
 * (CPU variant chosen for this CPU, Vulkan) and CUDA from node-llama-cpp's
 * CUDA package when the user installed it. When nothing loads, the
 * ERR_NATIVE_NOT_BUILT message lists what was tried and how to fix it.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { RewardModelError } from "../errors.js";
import { packageRoot } from "../package-root.js";
import type { NativeAddon, NativeBackendStatus } from "./native-types.js";
import { notBuiltMessage } from "./not-built-message.js";
import { addonFileName, cudaBackendLibraries, nodeLlamaCppVersion, platformPackageName, prebuiltAddonDir } from "./prebuilt.js";

const require = createRequire(import.meta.url);

export type AddonSource = "env" | "local" | "prebuilt";

export interface AddonCandidate {
    source: AddonSource;
    path: string;
}

export interface LoadedAddon {
    addon: NativeAddon;
    source: AddonSource;
    path: string;
    backends: NativeBackendStatus;
}

let loaded: LoadedAddon | undefined;

/** Finds `<pkg>/<file>` along Node's module search paths (packages without an exported package.json too). */
export function resolvePackageFile(pkg: string, file: string): string | undefined {
    for (const dir of require.resolve.paths(pkg) ?? []) {
        const candidate = path.join(dir, pkg, file);
        if (fs.existsSync(candidate)) return candidate;
    }
    return undefined;
}

/** The addon files the loader tries, in order. */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env): AddonCandidate[] {
    const explicit = env.LLAMA_REWARD_ADDON_PATH;
    if (explicit) return [{ source: "env", path: path.resolve(explicit) }];
    const candidates: AddonCandidate[] = [{ source: "local", path: path.join(packageRoot(), "build", "Release", addonFileName) }];
    const pkg = platformPackageName();
    const prebuilt = resolvePackageFile(pkg, path.join(prebuiltAddonDir, addonFileName));
    candidates.push({ source: "prebuilt", path: prebuilt ?? `${pkg}/${prebuiltAddonDir}/${addonFileName} (not installed)` });
    return candidates;
}

function loadFailureHint(message: string): string {
    if (/GLIBC|GLIBCXX|CXXABI/.test(message)) return "built against a newer C/C++ runtime than this system has";
    if (/wrong ELF|invalid ELF|not a valid Win32|mach-o/i.test(message)) return "built for another platform or CPU";
    if (/cannot open shared object|Library not loaded|specified module could not be found/i.test(message))
        return "a library it links to is missing";
    return "it does not load";
}

function notBuiltError(tried: string[], cause?: unknown): RewardModelError {
    return new RewardModelError("ERR_NATIVE_NOT_BUILT", notBuiltMessage(tried), { cause });
}

/** ggml's "load_backend: failed to load <path>: <dlerror>" without the repeated path. */
function loaderError(error: string, library: string): string {
    return error.replace(`load_backend: failed to load ${library}: `, "").trim();
}

/** Loads the ggml backend libraries an addon built on prebuilt ggml needs; records why any GPU backend is missing. */
function loadBackends(addon: NativeAddon, addonFile: string): NativeBackendStatus {
    const status: NativeBackendStatus = {
        // an addon built before runtime backends existed has none of these exports
        dynamicBackends: typeof addon.dynamicBackends === "function" && addon.dynamicBackends(),
        registries: [],
        failures: [],
        ggmlPackageVersion: nodeLlamaCppVersion,
    };
    if (status.dynamicBackends) {
        const dir = path.dirname(addonFile);
        addon.loadBackends(dir);
        let registries = addon.backendRegistries();
        const vulkan = path.join(dir, "libggml-vulkan.so");
        if (!registries.includes("Vulkan") && fs.existsSync(vulkan)) {
            // load_all is silent on failure: load it once more to learn why (usually no libvulkan.so.1)
            const result = addon.loadBackendLibrary(vulkan);
            if (result.error !== undefined)
                status.failures.push({ backend: "vulkan", library: vulkan, error: loaderError(result.error, vulkan) });
        }
        if (process.env.LLAMA_REWARD_NO_CUDA !== "1") {
            registries = addon.backendRegistries();
            for (const { pkg, file } of cudaBackendLibraries()) {
                if (registries.includes("CUDA")) break;
                const library = resolvePackageFile(pkg, file);
                if (library === undefined) continue;
                const result = addon.loadBackendLibrary(library);
                if (result.error !== undefined)
                    status.failures.push({ backend: "cuda", library, error: loaderError(result.error, library) });
                registries = addon.backendRegistries();
            }
        }
    }
    status.registries = typeof addon.backendRegistries === "function" ? addon.backendRegistries() : [];
    return status;
}

/** The loaded addon, where it came from and its backends. */
export function loadedAddon(): LoadedAddon {
    if (loaded) return loaded;
    const tried: string[] = [];
    let lastCause: unknown;
    for (const candidate of addonCandidates()) {
        if (!fs.existsSync(candidate.path)) {
            tried.push(
                `${candidate.source === "env" ? "LLAMA_REWARD_ADDON_PATH" : candidate.source}: ${candidate.path}${candidate.source === "prebuilt" ? "" : " (missing)"}`,
            );
            continue;
        }
        let addon: NativeAddon;
        try {
            addon = require(candidate.path) as NativeAddon;
        } catch (cause) {
            const message = cause instanceof Error ? cause.message : String(cause);
            tried.push(`${candidate.source}: ${candidate.path}: ${loadFailureHint(message)}: ${message.split("\n")[0]}`);
            lastCause = cause;
            continue;
        }
        loaded = { addon, source: candidate.source, path: candidate.path, backends: loadBackends(addon, candidate.path) };
        return loaded;
    }
    throw notBuiltError(tried, lastCause);
}

export function loadAddon(): NativeAddon {
    return loadedAddon().addon;
}
