/**
 * The prebuilt ggml a build can link against instead of compiling ggml:
 * node-llama-cpp's platform package of the same llama.cpp release (its
 * libggml-base.so, libggml.so and GGML_BACKEND_DL backend libraries). Also
 * the list of those libraries that travel next to our addon.
 */
import fs from "node:fs";
import path from "node:path";
import { resolvePackageFile } from "../../src/addon/load-addon.js";
import { ggmlSourcePackages } from "../../src/addon/prebuilt.js";

export interface PrebuiltGgml {
    /** The node-llama-cpp package it came from. */
    pkg: string;
    /** Folder holding libggml-base.so, libggml*.so and the backend libraries. */
    dir: string;
    /** Its package.json version. */
    version: string;
}

/** The first installed ggml source package for this platform, or undefined. */
export function findPrebuiltGgml(platform: string = process.platform, arch: string = process.arch): PrebuiltGgml | undefined {
    for (const { pkg, dir } of ggmlSourcePackages(platform, arch)) {
        const base = resolvePackageFile(pkg, path.join(dir, "libggml-base.so"));
        if (base === undefined) continue;
        const folder = path.dirname(base);
        const manifest = path.join(folder, "..", "..", "package.json");
        const version = (JSON.parse(fs.readFileSync(manifest, "utf8")) as { version: string }).version;
        return { pkg, dir: folder, version };
    }
    return undefined;
}

/**
 * The ggml libraries the addon needs at run time: the two it links to
 * (libggml-base.so, libggml*.so) and the backends ggml loads by name
 * (libggml-cpu-<variant>.so, e.g. haswell or armv8.2_1, libggml-vulkan.so). node-llama-cpp's own
 * addon and libllama are left out.
 */
export function ggmlRuntimeFiles(dir: string): string[] {
    return fs
        .readdirSync(dir)
        .filter((f) => /^libggml(-base|-cpu-[a-z0-9_.]+|-vulkan|\.[a-z0-9.]*v[0-9.]+)\.so$/.test(f) || f === "libggml.so")
        .sort();
}

/**
 * The ggml backend libraries a prebuilt-ggml build compiles itself (CMakeLists.txt) because node-llama-cpp's
 * packages lack them: ggml's RPC backend. They sit next to the addon beside the copied ones.
 */
export const builtBackendLibraries: readonly string[] = ["libggml-rpc.so"];

/**
 * The same for a Windows ggml folder (@node-llama-cpp/win-x64): ggml-base.dll,
 * ggml.v<release>.dll and the ggml-cpu-<variant>.dll / ggml-vulkan.dll
 * backends; node-llama-cpp's llama*.dll and addon are left out.
 */
export function windowsGgmlRuntimeFiles(dir: string): string[] {
    return fs
        .readdirSync(dir)
        .filter((f) => /^ggml(-base|-cpu-[a-z0-9_.]+|-vulkan|\.[a-z0-9.]*v[0-9.]+)?\.dll$/.test(f))
        .sort();
}
