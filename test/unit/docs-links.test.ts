/**
 * The documentation's links: in README.md and every docs/*.md page, each
 * relative link resolves to a file of the repository and each #anchor to a
 * heading of its target under GitHub's slug rules (test/support/
 * markdown-links.ts; external links are not fetched). Also: the README
 * links every docs page, and every error code of src/errors.ts has its
 * entry in the API reference and in the troubleshooting page.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { rewardErrorCodes } from "../../src/errors.js";
import { packageRoot } from "../../src/package-root.js";
import { brokenLinks, markdownLinks, type FileAccess } from "../support/markdown-links.js";

const root = packageRoot();
const docsDir = path.join(root, "docs");
const pages = [
    "README.md",
    ...fs
        .readdirSync(docsDir)
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f}`),
].sort();

const repository: FileAccess = {
    exists: (file) => fs.existsSync(path.join(root, file)),
    read: (file) => fs.readFileSync(path.join(root, file), "utf8"),
};

describe("documentation links", () => {
    it.each(pages)("%s: every relative link and anchor resolves", (page) => {
        const broken = brokenLinks(page, repository).map((b) => `${b.file}:${b.line}: ${b.target}: ${b.reason}`);
        expect(broken).toEqual([]);
    });

    it("the README links every docs page", () => {
        const linked = new Set(markdownLinks(repository.read("README.md")).map((l) => l.target.replace(/#.*$/, "")));
        expect(pages.filter((p) => p !== "README.md" && !linked.has(p))).toEqual([]);
    });

    it.each(["docs/api.md", "docs/troubleshooting.md"])("%s names every error code of src/errors.ts", (page) => {
        const text = repository.read(page);
        expect(rewardErrorCodes.filter((code) => !text.includes(`\`${code}\``))).toEqual([]);
    });
});
