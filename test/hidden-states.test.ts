/**
 * hiddenStates(): the final-norm hidden state of each conversation's last
 * token against the independent float64 reference (test/reference) on the
 * F32 tiny model, with and without a reward head in the file; a file without
 * a head loads only when asked and never scores; and `llama-reward embed`
 * writes the same vectors as JSONL and as a .npy matrix.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, type LoadOptions } from "../src/index.js";
import { loadReferenceModel, referenceLastHidden, referenceRewards, type ReferenceModel } from "./reference/llama-reference.js";
import { conversations, filler, requireFile, root, tinyF32 } from "./support/fixtures.js";
import { writeHeadlessCopy } from "./support/headless-model.js";

// one thread: the tests share a small machine, and ggml's spinning threads slow down many-fold when oversubscribed
const exact: LoadOptions = { flashAttention: false, kvCacheType: "f32", batchSize: 256, threads: 1 };
const longConversation = [
    { role: "user", content: filler(700, 11) },
    { role: "assistant", content: filler(200, 12) },
];
const cases = [...conversations, longConversation];
const cli = path.join(root, "dist", "src", "cli", "main.js");

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
    expect(a.length).toBe(b.length);
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    return m;
}

describe("hiddenStates", () => {
    let dir: string;
    let headless: string;
    let reference: ReferenceModel;

    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-hidden-"));
        headless = writeHeadlessCopy(requireFile(tinyF32), path.join(dir, "tiny-headless.gguf"));
        reference = loadReferenceModel(tinyF32);
    });

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it.each([
        ["a reward model", () => tinyF32],
        ["a file without a head", () => headless],
    ])("on %s match the float64 reference within 1e-4 (exact settings)", async (_label, file) => {
        const model = await RewardModel.load(file(), { ...exact, requireRewardHead: false });
        try {
            const hidden = await model.hiddenStates(cases);
            expect(model.tokenizeConversation(longConversation).length).toBeGreaterThan(256); // several decode steps
            let err = 0;
            cases.forEach((c, i) => {
                expect(hidden[i]).toHaveLength(reference.nEmbd);
                err = Math.max(err, maxAbsDiff(hidden[i]!, referenceLastHidden(reference, model.tokenizeConversation(c))));
            });
            console.log(`[hidden states] max |Δ| = ${err.toExponential(3)} over ${cases.length} conversations`);
            expect(err).toBeLessThanOrEqual(1e-4);
            // conversations differ, so their hidden states do
            expect(maxAbsDiff(hidden[0]!, hidden[1]!)).toBeGreaterThan(1e-2);
        } finally {
            await model.dispose();
        }
    });

    it("the head applied to hiddenStates() gives score() on a reward model", async () => {
        const model = await RewardModel.load(tinyF32, exact);
        try {
            const [hidden, rewards] = await Promise.all([model.hiddenStates(cases), model.scoreBatch(cases)]);
            cases.forEach((c, i) => {
                let dot = 0;
                for (let k = 0; k < reference.nEmbd; k++) dot += reference.clsWeight[k]! * hidden[i]![k]!;
                expect(Math.abs(dot - rewards[i]!)).toBeLessThanOrEqual(1e-5);
                expect(Math.abs(rewards[i]! - referenceRewards(reference, model.tokenizeConversation(c))[0]!)).toBeLessThanOrEqual(1e-4);
            });
        } finally {
            await model.dispose();
        }
    });

    it("a file without a head: load needs requireRewardHead: false, and scoring says ERR_NO_REWARD_HEAD", async () => {
        await expect(RewardModel.load(headless)).rejects.toMatchObject({ code: "ERR_NO_REWARD_HEAD" });
        const model = await RewardModel.load(headless, { requireRewardHead: false, threads: 1 });
        try {
            expect(model.info.hasRewardHead).toBe(false);
            expect(model.info.labels).toEqual([]);
            await expect(model.score(conversations[0]!)).rejects.toMatchObject({ code: "ERR_NO_REWARD_HEAD" });
            await expect(model.scoreBatch(conversations)).rejects.toMatchObject({ code: "ERR_NO_REWARD_HEAD" });
            await expect(model.scoreTokens([1, 2, 3])).rejects.toMatchObject({ code: "ERR_NO_REWARD_HEAD" });
            expect((await model.hiddenStates([conversations[0]!]))[0]).toHaveLength(reference.nEmbd);
        } finally {
            await model.dispose();
        }
        await expect(RewardModel.load(headless, { requireRewardHead: "no" as never })).rejects.toMatchObject({
            code: "ERR_INVALID_OPTION",
        });
    });

    it("reports progress, rejects bad input with codes, and rejects after dispose", async () => {
        const model = await RewardModel.load(tinyF32, { requireRewardHead: false, threads: 1 });
        const seen: number[] = [];
        await model.hiddenStates(conversations, { onProgress: ({ completed }) => seen.push(completed) });
        expect(seen).toEqual([1, 2, 3, 4]);
        await expect(model.hiddenStates([[]])).rejects.toMatchObject({ code: "ERR_INVALID_MESSAGES" });
        await expect(model.hiddenStatesOfTokens([[1, -5]])).rejects.toMatchObject({ code: "ERR_INVALID_TOKENS" });
        await expect(model.hiddenStates(conversations, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "ERR_ABORTED" });
        // loaded for hidden states, a reward model still scores (its rewards context is created on first use)
        expect(model.stats.steps).toBeGreaterThan(0);
        const [hidden] = await model.hiddenStates([conversations[0]!]);
        let head = 0;
        for (let k = 0; k < reference.nEmbd; k++) head += reference.clsWeight[k]! * hidden![k]!;
        expect(Math.abs((await model.score(conversations[0]!)) - head)).toBeLessThanOrEqual(1e-4);
        await model.dispose();
        await expect(model.hiddenStates(conversations)).rejects.toMatchObject({ code: "ERR_DISPOSED" });
    });

    it("llama-reward embed writes JSONL and .npy rows equal to hiddenStates()", async () => {
        const input = path.join(dir, "conversations.jsonl");
        fs.writeFileSync(input, `${conversations.map((c) => JSON.stringify({ messages: c })).join("\n")}\n`);
        const run = (args: string[]) =>
            spawnSync(process.execPath, [requireFile(cli), "embed", "-m", headless, "-i", input, "--threads", "1", ...args], {
                encoding: "utf8",
            });
        const model = await RewardModel.load(headless, { requireRewardHead: false, threads: 1 });
        let expected: Float32Array[];
        try {
            expected = await model.hiddenStates(conversations);
        } finally {
            await model.dispose();
        }

        const jsonl = run([]);
        expect(jsonl.status, jsonl.stderr).toBe(0);
        const rows = jsonl.stdout
            .trim()
            .split("\n")
            .map((l) => (JSON.parse(l) as { hidden: number[] }).hidden);
        expect(rows).toHaveLength(conversations.length);
        rows.forEach((r, i) => expect(maxAbsDiff(r, expected[i]!)).toBeLessThanOrEqual(1e-5));

        const npy = path.join(dir, "hidden.npy");
        const binary = run(["--format", "npy", "-o", npy]);
        expect(binary.status, binary.stderr).toBe(0);
        const bytes = fs.readFileSync(npy);
        expect(bytes.subarray(0, 6).toString("latin1")).toBe("\x93NUMPY");
        const headerLength = bytes.readUInt16LE(8);
        const header = bytes.subarray(10, 10 + headerLength).toString("latin1");
        expect(header).toContain(`'shape': (${conversations.length}, ${reference.nEmbd})`);
        expect(header).toContain("'descr': '<f4'");
        const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length));
        expect(data.length).toBe(conversations.length * reference.nEmbd);
        expected.forEach((e, i) =>
            expect(maxAbsDiff(data.subarray(i * reference.nEmbd, (i + 1) * reference.nEmbd), e)).toBeLessThanOrEqual(1e-5),
        );

        // a bad line: JSONL answers it in place (exit 2); npy fails whole, naming the line, and leaves no file
        fs.writeFileSync(input, `${JSON.stringify(conversations[0])}\n{not json\n`);
        const partial = run([]);
        expect(partial.status).toBe(2);
        expect(partial.stdout).toContain('"code":"ERR_INVALID_MESSAGES"');
        const failed = run(["--format", "npy", "-o", path.join(dir, "bad.npy")]);
        expect(failed.status).toBe(1);
        expect(failed.stderr).toMatch(/line 2.*ERR_INVALID_MESSAGES/);
        expect(fs.existsSync(path.join(dir, "bad.npy"))).toBe(false);
        expect(fs.existsSync(path.join(dir, "bad.npy.tmp"))).toBe(false);
    });
});
