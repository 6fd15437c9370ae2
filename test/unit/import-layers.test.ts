/**
 * The layering of src/ (docs/architecture.md): every relative import goes to
 * the same folder or to a lower layer, never up. A new folder must be given a
 * layer here, so the rule cannot be bypassed by adding one.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../src/package-root.js";

const src = path.join(packageRoot(), "src");

/** Layer of each top-level module or folder of src/, lowest first. */
const layers: Record<string, number> = {
    "errors.ts": 0,
    "package-root.ts": 0.5, // uses errors.ts
    gguf: 1,
    addon: 1,
    scoring: 2,
    model: 3,
    convert: 4,
    eval: 5,
    server: 5,
    train: 5.5, // reads eval's data formats
    bench: 5.7, // the quick benchmark; its random conversations use train's seeded PRNG
    cli: 6,
    "index.ts": 6,
    "demo.ts": 6,
};

function unitOf(file: string): string {
    const rel = path.relative(src, file);
    return rel.split(path.sep)[0]!;
}

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return sourceFiles(full);
        return entry.name.endsWith(".ts") ? [full] : [];
    });
}

/** Relative import specifiers of a TypeScript file: static imports, re-exports and dynamic import(). */
function relativeImports(text: string): string[] {
    const found: string[] = [];
    const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
    for (const match of text.matchAll(pattern)) found.push(match[1]!);
    return found;
}

describe("import layers", () => {
    it("finds static, type-only, re-exported and dynamic imports", () => {
        const text = [
            'import { a } from "../model/a.js";',
            'import type { B } from "./b.js";',
            'export { c } from "../gguf/c.js";',
            'const d = await import("../eval/d.js");',
            'import "./side-effect.js";',
            'import fs from "node:fs";',
        ].join("\n");
        expect(relativeImports(text)).toEqual(["../model/a.js", "./b.js", "../gguf/c.js", "../eval/d.js", "./side-effect.js"]);
    });

    it("every folder and root module of src/ has a layer", () => {
        const units = fs.readdirSync(src).filter((name) => name.endsWith(".ts") || fs.statSync(path.join(src, name)).isDirectory());
        expect(units.filter((unit) => !(unit in layers))).toEqual([]);
    });

    it("no file imports a higher layer or a sibling folder of its own layer", () => {
        const violations: string[] = [];
        for (const file of sourceFiles(src)) {
            const from = unitOf(file);
            for (const spec of relativeImports(fs.readFileSync(file, "utf8"))) {
                const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, ".ts");
                if (!target.startsWith(src + path.sep)) {
                    violations.push(`${path.relative(src, file)} imports ${spec}, outside src/`);
                    continue;
                }
                const to = unitOf(target);
                if (to === from) continue;
                if ((layers[to] ?? Infinity) >= (layers[from] ?? -Infinity)) {
                    violations.push(
                        `${path.relative(src, file)} (${from}, layer ${layers[from]}) imports ${spec} (${to}, layer ${layers[to]})`,
                    );
                }
            }
        }
        expect(violations).toEqual([]);
    });
});
