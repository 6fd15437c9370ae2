/**
 * Where the package and its llama.cpp checkout are: decided once in
 * src/package-root.ts, for the build, the tests and the benchmark alike.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { llamaCppDir, llamaCppDirIsExternal, packageRoot } from "../../src/package-root.js";

const saved = process.env.LLAMA_REWARD_LLAMA_DIR;
afterEach(() => {
    if (saved === undefined) delete process.env.LLAMA_REWARD_LLAMA_DIR;
    else process.env.LLAMA_REWARD_LLAMA_DIR = saved;
});

describe("package root and llama.cpp directory", () => {
    it("finds this package's root from src/", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { name: string };
        expect(pkg.name).toBe("llama-reward");
    });

    it("uses the checkout the build clones, unless LLAMA_REWARD_LLAMA_DIR names another", () => {
        delete process.env.LLAMA_REWARD_LLAMA_DIR;
        expect(llamaCppDir()).toBe(path.join(packageRoot(), "deps", "llama.cpp"));
        expect(llamaCppDirIsExternal()).toBe(false);

        process.env.LLAMA_REWARD_LLAMA_DIR = ""; // empty counts as unset, as a shell's VAR= does
        expect(llamaCppDirIsExternal()).toBe(false);

        process.env.LLAMA_REWARD_LLAMA_DIR = "some/relative/llama.cpp";
        expect(llamaCppDir()).toBe(path.resolve("some/relative/llama.cpp"));
        expect(llamaCppDirIsExternal()).toBe(true);
    });
});
