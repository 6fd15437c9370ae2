/**
 * Formats the C++ of the native addon (native/src) with clang-format in
 * llama.cpp's style (native/.clang-format). clang-format runs as WebAssembly
 * (@wasm-fmt/clang-format, pinned), so the check gives the same answer on
 * every machine without an LLVM install.
 *
 *   node dist/tools/lint/format-native.js           # check: lists unformatted files, exit 1
 *   node dist/tools/lint/format-native.js --write   # rewrite them
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { format } from "@wasm-fmt/clang-format";
import { packageRoot } from "../../src/package-root.js";

/** The C++ files under `dir`, recursively, sorted. */
export function nativeSources(dir: string): string[] {
    const out: string[] = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) out.push(...nativeSources(file));
        else if (/\.(?:c|cc|cpp|h|hpp)$/.test(entry.name)) out.push(file);
    }
    return out.sort();
}

/** The files whose formatting differs from `style`; rewritten in place when `write`. */
export function formatNative(files: readonly string[], style: string, write: boolean): string[] {
    const changed: string[] = [];
    for (const file of files) {
        const source = fs.readFileSync(file, "utf8");
        const formatted = format(source, file, style);
        if (formatted === source) continue;
        changed.push(file);
        if (write) fs.writeFileSync(file, formatted);
    }
    return changed;
}

function main(): void {
    const root = packageRoot();
    const write = process.argv.includes("--write");
    const style = fs.readFileSync(path.join(root, "native", ".clang-format"), "utf8");
    const changed = formatNative(nativeSources(path.join(root, "native", "src")), style, write);
    const names = changed.map((f) => path.relative(root, f));
    if (write) {
        if (names.length > 0) console.log(`clang-format: rewrote ${names.join(", ")}`);
        return;
    }
    if (names.length > 0) {
        console.error(`clang-format: not formatted: ${names.join(", ")}\nrun \`npm run format:native\` to fix`);
        process.exitCode = 1;
    }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
