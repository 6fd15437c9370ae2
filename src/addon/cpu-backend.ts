/**
 * Whose ggml CPU backend variants an addon built on prebuilt ggml carries:
 * the metadata file the build writes next to the libggml-cpu-<variant>.so
 * (ggml-cpu-<variant>.dll on Windows) files (tools/build/cpu-variants.ts,
 * tools/platforms/cross-build.ts), and the description of the variant ggml
 * loaded for this CPU that addonInfo() reports.
 */
import fs from "node:fs";
import path from "node:path";

/** Written by the build beside the CPU variants, shipped with them in the platform package. */
export const cpuVariantsMetadataFile = "ggml-cpu-variants.json";

export type CpuVariantsBuilder = "llama-reward" | "node-llama-cpp";

export interface CpuVariantsMetadata {
    /** "llama-reward": compiled by our build from ggml's sources; "node-llama-cpp": copied from its prebuilt package. */
    builtBy: CpuVariantsBuilder;
    /**
     * The compiler the variants' ELF `.comment` section names, e.g. "GCC: (Debian 12.2.0-14+deb12u1) 12.2.0";
     * null where the files record none (Windows DLLs: a PE file has no `.comment`).
     */
    compiler: string | null;
    /** Where their ggml comes from, e.g. "ggml of llama.cpp 80fb11a (node-llama-cpp 3.21.1's source bundle)". */
    ggml: string;
    /** Each variant file and its SHA-256, so a copy from elsewhere is told apart. */
    files: Record<string, string>;
}

export interface CpuBackendInfo {
    /** The CPU variant ggml chose for this CPU, e.g. "libggml-cpu-zen4.so" (Linux) or "ggml-cpu-zen4.dll" (Windows). */
    library: string;
    /** Who built it, from the metadata file beside it; "unknown" where there is none (an older package). */
    builtBy: CpuVariantsBuilder | "unknown";
    /** The compiler that built it, from the same file; null where unknown or not recorded in the file (Windows). */
    compiler: string | null;
}

/** The metadata file in `dir`, or undefined where it is missing or unreadable. */
export function readCpuVariantsMetadata(dir: string): CpuVariantsMetadata | undefined {
    try {
        const data = JSON.parse(fs.readFileSync(path.join(dir, cpuVariantsMetadataFile), "utf8")) as Partial<CpuVariantsMetadata>;
        if (data.builtBy !== "llama-reward" && data.builtBy !== "node-llama-cpp") return undefined;
        if (typeof data.compiler !== "string" && data.compiler !== null) return undefined;
        return { builtBy: data.builtBy, compiler: data.compiler, ggml: String(data.ggml ?? ""), files: data.files ?? {} };
    } catch {
        return undefined;
    }
}

/** Describes the CPU backend library ggml loaded (its full path), from the metadata beside it. */
export function describeCpuBackend(libraryPath: string): CpuBackendInfo {
    const library = path.basename(libraryPath);
    const metadata = readCpuVariantsMetadata(path.dirname(libraryPath));
    if (metadata === undefined || metadata.files[library] === undefined) return { library, builtBy: "unknown", compiler: null };
    return { library, builtBy: metadata.builtBy, compiler: metadata.compiler };
}
