/**
 * BF16 weight products on AMX tiles (native/src/amx_bf16_matmul.cpp) on a
 * BF16 copy of the tiny model: in use wherever the CPU has AMX-BF16, close to
 * the float64 reference and to ggml's own BF16 kernel (a child process with
 * LLAMA_REWARD_AMX_BF16=0) without being bitwise that kernel, and row
 * independent: a reward is the same alone and in a batch. Skipped where
 * the addon has no AMX (other CPUs).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addonInfo, cpuInfo, quantize, RewardModel } from "../src/index.js";
import { loadReferenceModel, referenceRewards } from "./reference/llama-reference.js";
import { kernelCases, requireFile, root, tinyF32 } from "./support/fixtures.js";

const cli = path.join(root, "dist", "src", "cli", "main.js");
const amx = addonInfo().amxBf16;
const cases = kernelCases;

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
    return Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
}

describe("AMX BF16 kernel", () => {
    it("is in use on a CPU with AMX-BF16 (x86-64 Linux)", () => {
        const cpu = cpuInfo();
        const hasAmxBf16 = process.platform === "linux" && process.arch === "x64" && cpu.cpu.amxBf16;
        expect(amx).toBe(hasAmxBf16);
    });
});

describe.skipIf(!amx)("AMX BF16 kernel on the tiny model", () => {
    let dir: string;
    let bf16File: string;
    let model: RewardModel;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-amx-"));
        bf16File = path.join(dir, "tiny-reward-bf16.gguf");
        await quantize(requireFile(tinyF32), bf16File, "BF16");
        model = await RewardModel.load(bf16File, { contextSize: 2048 });
    });

    afterAll(async () => {
        await model?.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("matches the float64 reference on the same BF16 weights and ggml's own BF16 kernel", async () => {
        const got = await model.scoreBatch(cases);
        const reference = loadReferenceModel(bf16File);
        const expected = cases.map((c) => referenceRewards(reference, model.tokenizeConversation(c))[0]!);
        const lines = cases.map((c) => JSON.stringify({ messages: c })).join("\n");
        const plain = spawnSync(process.execPath, [requireFile(cli), "score", "--model", bf16File, "--context-size", "2048"], {
            input: lines,
            encoding: "utf8",
            cwd: root,
            env: { ...process.env, LLAMA_REWARD_AMX_BF16: "0" },
        });
        expect(plain.stderr).toBe("");
        expect(plain.status).toBe(0);
        const ggml = plain.stdout
            .trim()
            .split("\n")
            .map((l) => (JSON.parse(l) as { reward: number }).reward);
        const spread = Math.max(...expected) - Math.min(...expected);
        const amxError = maxAbsDiff(got, expected);
        const ggmlError = maxAbsDiff(ggml, expected);
        console.log(
            `[amx-bf16] max |Δ| vs reference: AMX ${amxError.toExponential(3)}, ggml ${ggmlError.toExponential(3)}; AMX vs ggml ${maxAbsDiff(got, ggml).toExponential(3)}; spread ${spread.toFixed(3)}`,
        );
        expect(amxError).toBeLessThanOrEqual(Math.max(2 * ggmlError, 1e-3));
        expect(maxAbsDiff(got, ggml)).toBeLessThanOrEqual(Math.max(2 * ggmlError, 1e-3));
        expect(got).not.toEqual(ggml); // the two kernels are told apart: the AMX path really ran
    });

    it("a reward does not depend on the other rows of the batch", async () => {
        // Rows of other sequences share every weight product with the target; a kernel that mixed rows
        // (padding, blocking, the per-thread split) would move it by far more than the attention's own batch effect.
        const alone = [];
        for (const c of cases.slice(0, 6)) alone.push(await model.score(c));
        const batched = await model.scoreBatch(cases);
        const diff = maxAbsDiff(batched.slice(0, 6), alone);
        console.log(`[amx-bf16] alone vs in a batch of ${cases.length}: max |Δ| ${diff.toExponential(3)}`);
        expect(diff).toBeLessThanOrEqual(1e-5);
    });

    it("leaves llama.cpp's own AMX kernels their tile configuration (a Q8_0 model in the same process)", async () => {
        // ggml loads its tile configuration once per thread and keeps using it; a kernel that released or
        // replaced it would kill the process with SIGILL on the next Q8_0 step that lands on the same thread.
        const q8File = path.join(dir, "tiny-reward-q8_0.gguf");
        await quantize(requireFile(tinyF32), q8File, "Q8_0");
        const q8 = await RewardModel.load(q8File, { contextSize: 2048 });
        try {
            const first = await q8.scoreBatch(cases);
            for (let round = 0; round < 24; round++) {
                await model.score(cases[round % cases.length]!);
                expect(await q8.score(cases[round % cases.length]!)).toBeCloseTo(first[round % cases.length]!, 4);
            }
        } finally {
            await q8.dispose();
        }
    });
});
