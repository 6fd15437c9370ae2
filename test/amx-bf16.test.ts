/**
 * BF16 weight products on AMX tiles (native/src/amx_bf16_matmul.cpp) on a
 * BF16 copy of the tiny model: in use wherever the CPU has AMX-BF16, close to
 * the float64 reference and to ggml's own BF16 kernel (a child process with
 * every BF16 kernel of llama-reward's off, GGML_BF16_ENV: every AMX CPU has
 * AVX-512, which would otherwise take one of llama-reward's other kernels)
 * without being bitwise that kernel, and row independent: bitwise the same
 * reward alone and in a batch with flash attention off, and with the defaults
 * within BF16's own rounding error, which flash attention's batch effect can
 * reach (docs/fidelity.md#batch-invariance). Skipped where the addon has no
 * AMX (other CPUs).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addonInfo, cpuInfo, quantize, RewardModel } from "../src/index.js";
import { loadReferenceModel, referenceRewards } from "./reference/llama-reference.js";
import { kernelCases, requireFile, root, tinyF32 } from "./support/fixtures.js";
import { GGML_BF16_ENV } from "./support/kernel-child.js";

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
    /** the float64 reference's reward of each case on the same BF16 weights */
    let expected: number[];
    /** each case's reward on ggml's own BF16 kernel, with the defaults */
    let ggml: number[];

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-amx-"));
        bf16File = path.join(dir, "tiny-reward-bf16.gguf");
        await quantize(requireFile(tinyF32), bf16File, "BF16");
        model = await RewardModel.load(bf16File, { contextSize: 2048 });
        const reference = loadReferenceModel(bf16File);
        expected = cases.map((c) => referenceRewards(reference, model.tokenizeConversation(c))[0]!);
        const lines = cases.map((c) => JSON.stringify({ messages: c })).join("\n");
        const plain = spawnSync(process.execPath, [requireFile(cli), "score", "--model", bf16File, "--context-size", "2048"], {
            input: lines,
            encoding: "utf8",
            cwd: root,
            env: { ...process.env, ...GGML_BF16_ENV },
        });
        expect(plain.stderr).toBe("");
        expect(plain.status).toBe(0);
        ggml = plain.stdout
            .trim()
            .split("\n")
            .map((l) => (JSON.parse(l) as { reward: number }).reward);
    }, 120_000);

    afterAll(async () => {
        await model?.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("matches the float64 reference on the same BF16 weights and ggml's own BF16 kernel", async () => {
        const got = await model.scoreBatch(cases);
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
        // (padding, blocking, the per-thread split) would move it. On the tiny model without flash attention
        // nothing else in the step mixes these conversations' rows: the rewards are bitwise equal.
        const flashOff = await RewardModel.load(bf16File, { contextSize: 2048, flashAttention: false });
        try {
            const alone = [];
            for (const c of cases.slice(0, 6)) alone.push(await flashOff.score(c));
            const batched = await flashOff.scoreBatch(cases);
            const diff = maxAbsDiff(batched.slice(0, 6), alone);
            console.log(`[amx-bf16] flash attention off: alone vs in a batch of ${cases.length}: max |Δ| ${diff.toExponential(3)}`);
            expect(diff).toBe(0);
        } finally {
            await flashOff.dispose();
        }
    });

    it("with the defaults, alone and in a batch differ by less than BF16's own rounding error", async () => {
        // Flash attention's output differs by a few float32 ulps between the two runs; rounded to BF16 for the
        // next product, one value now and then moves by a whole BF16 ulp, and on a reward's row that moves the
        // reward (5.4e-4 on the AVX-512 BF16 kernel for one of these conversations). Whether a kernel draws
        // such a flip is chance, so the bound is BF16's error against the float64 reference (ggml's kernel's);
        // a kernel that read a wrong or stale row would move rewards by the order of their spread.
        const alone = [];
        for (const c of cases.slice(0, 6)) alone.push(await model.score(c));
        const batched = await model.scoreBatch(cases);
        const diff = maxAbsDiff(batched.slice(0, 6), alone);
        const bf16Error = maxAbsDiff(ggml, expected);
        console.log(
            `[amx-bf16] defaults: alone vs in a batch of ${cases.length}: max |Δ| ${diff.toExponential(3)}; ggml vs reference ${bf16Error.toExponential(3)}`,
        );
        expect(diff).toBeLessThanOrEqual(bf16Error);
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
