/**
 * Fuzz sample of the converter's Hugging Face inputs (config.json,
 * tokenizer.json, tokenizer_config.json, safetensors headers): every case
 * converts or fails with a RewardModelError, and what converts loads and
 * scores or is rejected with a code. `HF_FUZZ_CASES` and `FUZZ_SEED` change
 * the sample.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { baseCheckpoint, makeHfCase, runHfCase, type HfCase, type HfOutcome } from "./hf-fuzz.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const CASES = Number(process.env.HF_FUZZ_CASES ?? 300);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-hf-fuzz-"));

afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
});

/** The base checkpoint with one edit of its parts. */
function edited(edit: (parts: ReturnType<typeof baseCheckpoint>) => void): HfCase {
    const parts = baseCheckpoint();
    edit(parts);
    const json = Buffer.from(JSON.stringify(parts.header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return {
        index: 1,
        mutation: "edited",
        files: new Map([
            ["config.json", Buffer.from(JSON.stringify(parts.config))],
            ["tokenizer.json", Buffer.from(JSON.stringify(parts.tokenizer))],
            ["tokenizer_config.json", Buffer.from(JSON.stringify(parts.tokenizerConfig))],
            ["model.safetensors", Buffer.concat([len, json, parts.data])],
        ]),
    };
}

async function timed(c: HfCase): Promise<{ outcome: HfOutcome; ms: number }> {
    const began = performance.now();
    const outcome = await runHfCase(c, path.join(work, "regression"));
    return { outcome, ms: performance.now() - began };
}

describe("converter findings stay fixed", () => {
    it("num_hidden_layers 1e9 is refused at once (was: minutes building the tensor plan, then RangeError: Map maximum size exceeded)", async () => {
        const { outcome, ms } = await timed(
            edited((p) => {
                p.config.num_hidden_layers = 1e9;
            }),
        );
        expect(outcome).toEqual({ kind: "rejected", code: "ERR_CONVERT_FAILED" });
        expect(ms).toBeLessThan(2000);
    });

    it("vocab_size 1e9 is refused by the embedding's shape before the tokenizer allocates a token array of that size", async () => {
        const { outcome, ms } = await timed(
            edited((p) => {
                p.config.vocab_size = 1e9;
            }),
        );
        expect(outcome).toEqual({ kind: "rejected", code: "ERR_CONVERT_FAILED" });
        expect(ms).toBeLessThan(2000);
    });

    it("a non-string merge is ERR_CONVERT_FAILED (was: ERR_INVALID_OPTION from the GGUF writer)", async () => {
        const { outcome } = await timed(
            edited((p) => {
                (p.tokenizer.model as { merges: unknown[] }).merges[2] = 1e9;
            }),
        );
        expect(outcome).toEqual({ kind: "rejected", code: "ERR_CONVERT_FAILED" });
    });
});

describe("converter inputs", () => {
    it("the unmutated base checkpoint converts, loads and scores", async () => {
        expect(
            await runHfCase(
                edited(() => undefined),
                path.join(work, "base"),
            ),
        ).toEqual({ kind: "converted", load: "score" });
    });

    it(`${CASES} mutated checkpoints (seed ${SEED}) convert or fail with a code`, async () => {
        const bad: string[] = [];
        const slow: string[] = [];
        const counts = new Map<string, number>();
        for (let i = 0; i < CASES; i++) {
            const c = makeHfCase(SEED, i);
            const began = performance.now();
            const outcome: HfOutcome = await runHfCase(c, path.join(work, "case"));
            const ms = performance.now() - began;
            if (ms > 2000) slow.push(`case ${i} (${c.mutation}) took ${ms.toFixed(0)} ms`);
            const key =
                outcome.kind === "converted" ? `converted:${outcome.load}` : outcome.kind === "rejected" ? outcome.code : "bad-error";
            counts.set(key, (counts.get(key) ?? 0) + 1);
            if (outcome.kind === "bad-error") bad.push(`case ${i} (${c.mutation}): ${outcome.error}`);
            // a malformed checkpoint is the converter's input: ERR_CONVERT_FAILED, not a misuse code
            if (outcome.kind === "rejected" && outcome.code !== "ERR_CONVERT_FAILED")
                bad.push(`case ${i} (${c.mutation}): ${outcome.code}`);
        }
        console.log(`hf fuzz sample: ${[...counts].map(([k, v]) => `${k}=${v}`).join(" ")}`);
        expect(bad).toEqual([]);
        // a hostile file must be refused quickly, not after minutes of allocation
        expect(slow).toEqual([]);
        expect(counts.get("ERR_CONVERT_FAILED") ?? 0).toBeGreaterThan(0);
    }, 600_000);
});
