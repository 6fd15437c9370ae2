/**
 * The command-line flag parsers without the addon: src/cli/flag-values.ts
 * (the one integer parser, with its named lower bound, and the choice
 * parser) and src/cli/load-flags.ts (every load flag mapped to its
 * LoadOptions field, bad values rejected with a code naming the flag).
 */
import { parseArgs } from "node:util";
import { describe, expect, it } from "vitest";
import { choiceFlag, integerFlag } from "../../src/cli/flag-values.js";
import { loadFlags, loadFlagsUsage, loadOptionsFrom } from "../../src/cli/load-flags.js";
import { RewardModelError } from "../../src/errors.js";

function parse(args: string[]) {
    return parseArgs({ args, options: loadFlags, strict: true, allowPositionals: false }).values;
}

function expectInvalid(fn: () => unknown, flag: string): void {
    let error: unknown;
    try {
        fn();
    } catch (e) {
        error = e;
    }
    expect(error).toBeInstanceOf(RewardModelError);
    expect((error as RewardModelError).code).toBe("ERR_INVALID_OPTION");
    expect((error as RewardModelError).message).toContain(`--${flag}`);
}

describe("integerFlag", () => {
    it("parses integers within the bounds and leaves an absent flag undefined", () => {
        expect(integerFlag(undefined, "n", 1)).toBeUndefined();
        expect(integerFlag("1", "n", 1)).toBe(1);
        expect(integerFlag("0", "port", 0, 65535)).toBe(0);
        expect(integerFlag("65535", "port", 0, 65535)).toBe(65535);
    });

    it("rejects 0 where the lower bound is 1, and values past the upper bound", () => {
        expectInvalid(() => integerFlag("0", "parallel", 1), "parallel");
        expectInvalid(() => integerFlag("-1", "gpu-layers", 0), "gpu-layers");
        expectInvalid(() => integerFlag("65536", "port", 0, 65535), "port");
    });

    it("rejects text that is not a whole decimal number", () => {
        for (const text of ["", " ", "1.5", "1e3", "0x10", "abc", "Infinity", "9007199254740993"]) {
            expectInvalid(() => integerFlag(text, "threads", 1), "threads");
        }
    });
});

describe("choiceFlag", () => {
    it("accepts only the listed values", () => {
        expect(choiceFlag("b", "x", ["a", "b"])).toBe("b");
        expect(choiceFlag(undefined, "x", ["a"])).toBeUndefined();
        expectInvalid(() => choiceFlag("B", "x", ["a", "b"]), "x");
    });
});

describe("loadOptionsFrom", () => {
    it("maps every load flag to its LoadOptions field", () => {
        const values = parse([
            "--bos",
            "single",
            "--truncation",
            "left",
            "--context-size",
            "1024",
            "--batch-size",
            "64",
            "--parallel",
            "2",
            "--threads",
            "3",
            "--gpu-layers",
            "0",
            "--gpu",
            "false",
            "--flash-attention",
            "on",
            "--kv-cache-type",
            "q8_0",
            "--reproducible",
            "--no-mmap",
            "--template-var",
            "date_string=26 Jul 2024",
            "--template-var",
            "custom=a=b",
            "--normalize",
            "off",
        ]);
        expect(loadOptionsFrom(values)).toEqual({
            bos: "single",
            truncation: "left",
            contextSize: 1024,
            batchSize: 64,
            parallel: 2,
            threads: 3,
            gpuLayers: 0,
            gpu: false,
            flashAttention: true,
            kvCacheType: "q8_0",
            reproducible: true,
            useMmap: false,
            templateVariables: { date_string: "26 Jul 2024", custom: "a=b" },
            normalize: false,
        });
    });

    it("leaves out flags not given, so the defaults apply", () => {
        expect(loadOptionsFrom(parse([]))).toEqual({});
        expect(loadOptionsFrom(parse(["--gpu-layers", "max", "--gpu", "cuda"]))).toEqual({ gpuLayers: "max", gpu: "cuda" });
        expect(loadOptionsFrom(parse(["--flash-attention", "off"]))).toEqual({ flashAttention: false });
        expect(loadOptionsFrom(parse(["--flash-attention", "auto"]))).toEqual({ flashAttention: "auto" });
        expect(loadOptionsFrom(parse(["--kv-cache-type", "f32"]))).toEqual({ kvCacheType: "f32" });
        expect(loadOptionsFrom(parse(["--normalize", "on"]))).toEqual({ normalize: true });
    });

    it("rejects bad values with ERR_INVALID_OPTION naming the flag", () => {
        const bad: [string, string][] = [
            ["bos", "always"],
            ["truncation", "right"],
            ["context-size", "0"],
            ["context-size", "8"], // below the 16 cells RewardModel.load needs: the flag is named, not the option
            ["threads", "1025"],
            ["batch-size", "0"],
            ["parallel", "0"],
            ["threads", "0"],
            ["gpu-layers", "some"],
            ["gpu", "opencl"],
            ["flash-attention", "true"],
            ["kv-cache-type", "q4_0"],
            ["normalize", "true"],
            ["template-var", "date_string"], // no =
            ["template-var", "=x"],
            ["template-var", "messages=x"], // set by the renderer
            ["template-var", "bad-name=x"],
        ];
        for (const [flag, value] of bad) expectInvalid(() => loadOptionsFrom(parse([`--${flag}`, value])), flag);
        expectInvalid(() => loadOptionsFrom(parse(["--kv-cache-type", "q8_0", "--flash-attention", "off"])), "kv-cache-type");
        expectInvalid(() => loadOptionsFrom(parse(["--template-var", "a=1", "--template-var", "a=2"])), "template-var");
    });

    it("the usage lines list every load flag", () => {
        for (const flag of Object.keys(loadFlags)) expect(loadFlagsUsage).toMatch(new RegExp(`--${flag}\\b`));
    });
});
