/**
 * The docs link check itself (test/support/markdown-links.ts), on input
 * chosen to break it: GitHub's slugs of headings with code, punctuation,
 * arrows, non-ASCII letters, emphasis and duplicates; links inside fences
 * and code spans; and broken paths and anchors, which must be reported.
 */
import { describe, expect, it } from "vitest";
import { Slugger, brokenLinks, githubSlug, markdownLinks, pageAnchors, type FileAccess } from "../support/markdown-links.js";

describe("githubSlug", () => {
    it.each([
        ["What a reward is", "what-a-reward-is"],
        ["Errors, disconnects and shutdown", "errors-disconnects-and-shutdown"],
        // backticks go, their content stays; each space is a hyphen, so " → " leaves two
        ["`RewardModel.load(path, options?) → Promise<RewardModel>`", "rewardmodelloadpath-options--promiserewardmodel"],
        ["`POST /get_reward` (OpenRLHF)", "post-get_reward-openrlhf"],
        ["`GET /health`, `GET /v1/models`, `GET /metrics`", "get-health-get-v1models-get-metrics"],
        ["1. What a reward is", "1-what-a-reward-is"],
        ["Café ✓ 100%", "café--100"],
        ["**Bold** and _emphasis_", "bold-and-emphasis"],
        ["`snake_case` and foo_bar stay", "snake_case-and-foo_bar-stay"],
        ["See [the API](docs/api.md)", "see-the-api"],
        ["<code>x</code> y", "x-y"],
        ["Q4_K_M vs. Q8_0: 1.57×", "q4_k_m-vs-q8_0-157"],
        ["`` a`b ``", "ab"],
    ])("%s → %s", (heading, slug) => {
        expect(githubSlug(heading)).toBe(slug);
    });

    it("numbers duplicates -1, -2, and skips a number a heading already took", () => {
        const s = new Slugger();
        expect(["Errors", "Errors", "Errors"].map((h) => s.slug(h))).toEqual(["errors", "errors-1", "errors-2"]);
        const t = new Slugger();
        expect(["a", "a-1", "a"].map((h) => t.slug(h))).toEqual(["a", "a-1", "a-2"]);
    });
});

describe("pageAnchors", () => {
    it("takes ATX and setext headings and <a id> tags, not headings inside fences", () => {
        const page = [
            "# Title ##",
            "",
            "Setext heading",
            "==============",
            "",
            "```sh",
            "# not a heading",
            "```",
            "",
            "~~~",
            "## nor this",
            "~~~",
            "#hashtag is not a heading",
            '<a id="custom-anchor"></a>',
            "## Title",
            "| a | b |",
            "|---|---|",
        ].join("\n");
        expect([...pageAnchors(page)].sort()).toEqual(["custom-anchor", "setext-heading", "title", "title-1"]);
    });
});

describe("markdownLinks", () => {
    it("finds inline links, images and reference definitions, outside code", () => {
        const page = [
            'See [api](api.md#errors) and ![plot](img/a.svg "title").',
            "Not `[code](nope.md)` here, nor ``[x](nope2.md)``.",
            "```md",
            "[fenced](nope3.md)",
            "```",
            "A [spaced](<my file.md>) one and [parens](a_(b).md).",
            "[ref]: ../README.md#quick-start",
        ].join("\n");
        expect(markdownLinks(page)).toEqual([
            { target: "api.md#errors", line: 1 },
            { target: "img/a.svg", line: 1 },
            { target: "my file.md", line: 6 },
            { target: "a_(b).md", line: 6 },
            { target: "../README.md#quick-start", line: 7 },
        ]);
    });
});

describe("brokenLinks", () => {
    const files = new Map<string, string>([
        ["README.md", "# Project\n\n## Quick start\n\n[api](docs/api.md#errors) [self](#quick-start) [web](https://example.com/x#y)"],
        ["docs/api.md", "# API\n\n## Errors\n\n## Errors\n\n[dup](#errors-1) [up](../README.md) [dir](../src/) [root](/README.md#project)"],
        ["docs/bad.md", "[gone](missing.md) [anchor](api.md#nope) [line](../src/a.ts#L3) [self](#nothing)"],
        ["src/a.ts", ""],
    ]);
    const access: FileAccess = {
        exists: (f) => files.has(f) || [...files.keys()].some((k) => k.startsWith(`${f.replace(/\/$/, "")}/`)),
        read: (f) => files.get(f) ?? "",
    };

    it("accepts links that resolve: files, directories, same-page, duplicate and root-relative anchors", () => {
        expect(brokenLinks("README.md", access)).toEqual([]);
        expect(brokenLinks("docs/api.md", access)).toEqual([]);
    });

    it("reports a missing file, a missing anchor, an anchor into a non-markdown file and a missing same-page anchor", () => {
        expect(brokenLinks("docs/bad.md", access).map((b) => [b.target, b.reason])).toEqual([
            ["missing.md", "docs/missing.md does not exist"],
            ["api.md#nope", "docs/api.md has no heading with the anchor #nope"],
            ["../src/a.ts#L3", "#L3 points into src/a.ts, which is not a markdown page"],
            ["#nothing", "docs/bad.md has no heading with the anchor #nothing"],
        ]);
    });
});
