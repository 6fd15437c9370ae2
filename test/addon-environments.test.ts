/**
 * The install/loader contract with the addon (test/unit/addon-candidates-gpu-selection.test.ts
 * has the parts that need none): a file that is not an addon, the `gpu`
 * option without the GPU, and the
 * contract an Electron app relies on (Electron itself cannot be downloaded
 * here): the same N-API addon loads unchanged in a worker thread and in a
 * forked process, backends register once per process, and a copy of the
 * addon folder moved elsewhere (as asarUnpack does) still finds its ggml
 * libraries and scores identically.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, addonInfo, backendDevices, isRewardModelError } from "../src/index.js";
import { conversations, requireFile, root, tinyF32 } from "./support/fixtures.js";

const exact = { flashAttention: false, kvCacheType: "f32", gpu: false } as const;
const distIndex = path.join(root, "dist", "src", "index.js");

/** Runs an ES module snippet in a fresh Node process (the compiled package in dist/). */
function runNode(code: string, env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
        cwd: root,
        env: { ...process.env, ...env },
        encoding: "utf8",
        timeout: 120_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const scoreSnippet = (model: string) => `
import { RewardModel, addonInfo } from ${JSON.stringify(pathToFileURL(distIndex).href)};
const m = await RewardModel.load(${JSON.stringify(model)}, ${JSON.stringify(exact)});
const rewards = await m.scoreBatch(${JSON.stringify(conversations)});
await m.dispose();
console.log(JSON.stringify({ addon: addonInfo(), rewards }));
`;

describe("loading", () => {
    it("a file that is not an addon: the reason is in the message", () => {
        const bogus = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-bogus-")), "llama_reward.node");
        fs.writeFileSync(bogus, "not an ELF file");
        const { stdout } = runNode(
            `
import { systemInfo } from ${JSON.stringify(pathToFileURL(distIndex).href)};
try { systemInfo(); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
`,
            { LLAMA_REWARD_ADDON_PATH: bogus },
        );
        const error = JSON.parse(stdout.trim()) as { code: string; message: string };
        expect(error.code).toBe("ERR_NATIVE_NOT_BUILT");
        expect(error.message).toMatch(/invalid ELF|wrong ELF|file too short/i);
    });
});

describe("gpu option", () => {
    it("an unknown gpu value is ERR_INVALID_OPTION", async () => {
        await expect(RewardModel.load(requireFile(tinyF32), { gpu: "opencl" as never })).rejects.toMatchObject({
            code: "ERR_INVALID_OPTION",
        });
    });

    it.skipIf(backendDevices().some((d) => d.backend === "CUDA"))(
        'gpu: "cuda" without a CUDA device rejects with ERR_GPU_UNAVAILABLE',
        async () => {
            const error = await RewardModel.load(requireFile(tinyF32), { gpu: "cuda" }).catch((e: unknown) => e);
            expect(isRewardModelError(error, "ERR_GPU_UNAVAILABLE")).toBe(true);
            expect((error as Error).message).toMatch(/CUDA|cuda/);
            console.log(`[gpu] cuda here: ${(error as Error).message}`);
        },
    );

    it("gpu: false keeps every layer on the CPU", async () => {
        const model = await RewardModel.load(requireFile(tinyF32), { gpu: false });
        try {
            expect(model.info.gpu).toBeNull();
            expect(model.info.offloadedLayers).toBe(0);
            expect(model.options.gpu).toBe(false);
        } finally {
            await model.dispose();
        }
    });
});

describe("the same addon in other JS environments (what Electron's main, utility and worker processes need)", () => {
    let expected: number[];
    beforeAll(async () => {
        requireFile(distIndex);
        const model = await RewardModel.load(requireFile(tinyF32), exact);
        expected = await model.scoreBatch(conversations);
        await model.dispose();
    });

    it("a worker thread loads it without a rebuild, registers no backend twice and scores identically", async () => {
        const before = addonInfo();
        const worker = new Worker(
            `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.index).then(async ({ RewardModel, addonInfo }) => {
    const m = await RewardModel.load(workerData.model, workerData.options);
    const rewards = await m.scoreBatch(workerData.conversations);
    await m.dispose();
    parentPort.postMessage({ addon: addonInfo(), rewards });
}).catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`,
            { eval: true, workerData: { index: pathToFileURL(distIndex).href, model: tinyF32, options: exact, conversations } },
        );
        const result = await new Promise<{ addon?: ReturnType<typeof addonInfo>; rewards?: number[]; error?: string }>(
            (resolve, reject) => {
                worker.once("message", resolve);
                worker.once("error", reject);
            },
        );
        await worker.terminate();
        expect(result.error).toBeUndefined();
        expect(result.addon!.path).toBe(before.path);
        expect(new Set(result.addon!.registries).size).toBe(result.addon!.registries.length);
        expect(result.rewards).toEqual(expected);
    });

    it("a forked process loads it and scores identically", () => {
        const { status, stdout, stderr } = runNode(scoreSnippet(tinyF32));
        expect(status, stderr).toBe(0);
        const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as { rewards: number[] };
        expect(result.rewards).toEqual(expected);
    });

    describe("moved out of place, as asarUnpack puts it", () => {
        let unpacked: string;
        afterAll(() => {
            if (unpacked) fs.rmSync(unpacked, { recursive: true, force: true });
        });

        it("the addon folder copied elsewhere finds its ggml libraries beside it ($ORIGIN) and scores identically", () => {
            const info = addonInfo();
            const from = path.dirname(info.path);
            unpacked = fs.mkdtempSync(path.join(os.tmpdir(), "app.asar.unpacked-"));
            const to = path.join(unpacked, "node_modules", "@llama-reward", `${process.platform}-${process.arch}`, "bin");
            fs.mkdirSync(to, { recursive: true });
            for (const f of fs.readdirSync(from)) {
                if (f.endsWith(".node") || /^libggml.*\.so$/.test(f)) fs.copyFileSync(path.join(from, f), path.join(to, f));
            }
            const { status, stdout, stderr } = runNode(scoreSnippet(tinyF32), {
                LLAMA_REWARD_ADDON_PATH: path.join(to, "llama_reward.node"),
            });
            expect(status, stderr).toBe(0);
            const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as { addon: ReturnType<typeof addonInfo>; rewards: number[] };
            expect(result.addon.source).toBe("env");
            expect(result.addon.path.startsWith(unpacked)).toBe(true);
            expect(result.addon.registries).toEqual(info.registries);
            expect(result.rewards).toEqual(expected);
        });
    });
});
