/**
 * model.info.weightAlignment: 64 for the files llama-reward writes (every
 * weight matrix on a cache line), 32 for the same model rewritten with
 * GGUF's default alignment and its weights 32 bytes off a line; the two
 * files give bitwise the same rewards (only where the weights lie differs).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { rewriteGguf } from "../src/gguf/gguf-rewrite.js";
import { GgufValueType } from "../src/gguf/gguf-types.js";
import { conversations, requireFile, tinyF32 } from "./support/fixtures.js";

/** A copy of `file` at alignment 32 whose weights start 32 bytes off a cache line (a padding key moves the data section). */
function misalignedCopy(file: string, out: string): void {
    const source = readGgufHeader(file);
    for (let pad = 0; pad < 64; pad++) {
        const setKeys = new Map([["llama_reward.test_padding", { type: GgufValueType.STRING, value: "x".repeat(pad) }]]);
        rewriteGguf(file, out, { setKeys }, { ...source, alignment: 32 });
        if (readGgufHeader(out).dataOffset % 64 === 32) return;
    }
    throw new Error("no padding put the data section 32 bytes off a cache line");
}

describe("model.info.weightAlignment", () => {
    let dir: string;
    let offFile: string;

    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-weight-alignment-"));
        offFile = path.join(dir, "tiny-32.gguf");
        misalignedCopy(requireFile(tinyF32), offFile);
    });

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("is 64 for a file llama-reward wrote and 32 for the same weights 32 bytes off, with the same rewards", async () => {
        const aligned = await RewardModel.load(requireFile(tinyF32), { contextSize: 1024 });
        const off = await RewardModel.load(offFile, { contextSize: 1024 });
        try {
            expect(aligned.info.weightAlignment).toBe(64);
            expect(off.info.weightAlignment).toBe(32);
            expect(await off.scoreBatch(conversations)).toEqual(await aligned.scoreBatch(conversations));
        } finally {
            await aligned.dispose();
            await off.dispose();
        }
    });
});
