/**
 * docs/testing.md lists every test file: each `*.test.ts` under test/ has a
 * row in its "Test files" table, and every test file the docs name exists,
 * so a renamed, moved or new test cannot leave the inventory stale.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../src/package-root.js";

const root = packageRoot();

function testFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return testFiles(full);
        return entry.name.endsWith(".test.ts") ? [path.relative(root, full).split(path.sep).join("/")] : [];
    });
}

function docsText(): string {
    const docs = path.join(root, "docs");
    return [
        path.join(root, "README.md"),
        ...fs
            .readdirSync(docs)
            .filter((f) => f.endsWith(".md"))
            .map((f) => path.join(docs, f)),
    ]
        .map((f) => fs.readFileSync(f, "utf8"))
        .join("\n");
}

describe("test inventory", () => {
    it("docs/testing.md has a row for every test file", () => {
        const table = fs.readFileSync(path.join(root, "docs", "testing.md"), "utf8");
        const rows = new Set([...table.matchAll(/^\| `(test\/[^`]+\.test\.ts)` \|/gm)].map((m) => m[1]!));
        expect(testFiles(path.join(root, "test")).filter((f) => !rows.has(f))).toEqual([]);
    });

    it("every test file the docs name exists", () => {
        const named = new Set([...docsText().matchAll(/`(test\/[^`\s*]+\.test\.ts)`/g)].map((m) => m[1]!));
        expect([...named].filter((f) => !fs.existsSync(path.join(root, f)))).toEqual([]);
    });
});
