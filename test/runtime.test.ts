/**
 * The runtime contract: scoring never blocks the event loop, the addon works
 * inside worker_threads, the self-reference import resolves, and a process
 * that exits without dispose() exits cleanly.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { RewardModel } from "../src/index.js";
import { conversations, filler, requireFile, root, tinyF32 } from "./support/fixtures.js";

const distIndex = path.join(root, "dist", "src", "index.js");

describe("runtime", () => {
    it("keeps the event loop ticking during a big batch", async () => {
        const model = await RewardModel.load(requireFile(tinyF32), { parallel: 4, batchSize: 256 });
        try {
            const big = Array.from({ length: 48 }, (_, i) => [
                { role: "user", content: filler(300, i) },
                { role: "assistant", content: filler(60, i + 100) },
            ]);
            const before = model.stats.steps;
            // scoreBatch renders and tokenizes on this thread before it returns; the clock starts
            // after that, when only decode steps are left to run.
            const batch = model.scoreBatch(big);
            let ticks = 0;
            let longestGap = 0;
            const started = performance.now();
            let last = started;
            const timer = setInterval(() => {
                const now = performance.now();
                longestGap = Math.max(longestGap, now - last);
                last = now;
                ticks++;
            }, 5);
            await batch;
            const elapsed = performance.now() - started;
            clearInterval(timer);
            longestGap = Math.max(longestGap, performance.now() - last);
            const steps = model.stats.steps - before;
            console.log(`[event-loop] ${steps} steps in ${elapsed.toFixed(0)} ms, ${ticks} ticks, longest gap ${longestGap.toFixed(1)} ms`);
            expect(steps).toBeGreaterThan(10);
            // Decoding on this thread would stall the timer for the whole batch (the scheduler
            // chains steps through promises, which timers cannot interleave), so the longest gap
            // would be about the batch's duration. Off the thread, gaps stay near the 5 ms period.
            // The bound scales with the batch's duration, so a slow or busy machine does not fail it.
            expect(longestGap).toBeLessThan(Math.max(elapsed / 4, 250));
        } finally {
            await model.dispose();
        }
    });

    it("loads, scores and disposes inside worker_threads, matching the main thread", async () => {
        requireFile(distIndex);
        const model = await RewardModel.load(tinyF32, { contextSize: 512 });
        const expected = await model.score(conversations[1]!);
        await model.dispose();
        const code = `
            const { parentPort, workerData } = require("node:worker_threads");
            import(workerData.index).then(async ({ RewardModel }) => {
                const model = await RewardModel.load(workerData.model, { contextSize: 512 });
                const reward = await model.score(workerData.messages);
                await model.dispose();
                parentPort.postMessage(reward);
            }).catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
        `;
        const results = await Promise.all(
            [0, 1].map(
                () =>
                    new Promise<unknown>((resolve, reject) => {
                        const worker = new Worker(code, {
                            eval: true,
                            workerData: { index: distIndex, model: tinyF32, messages: conversations[1] },
                        });
                        worker.once("message", resolve);
                        worker.once("error", reject);
                    }),
            ),
        );
        for (const r of results) {
            expect(typeof r).toBe("number");
            expect(Math.abs((r as number) - expected)).toBeLessThan(1e-6);
        }
    });

    it("a worker that exits without dispose() is cleaned up", async () => {
        const code = `
            const { parentPort, workerData } = require("node:worker_threads");
            import(workerData.index).then(async ({ RewardModel }) => {
                const model = await RewardModel.load(workerData.model, { contextSize: 256 });
                parentPort.postMessage(await model.score(workerData.messages));
                process.exit(0);
            });
        `;
        const exitCode = await new Promise<number>((resolve, reject) => {
            const worker = new Worker(code, { eval: true, workerData: { index: distIndex, model: tinyF32, messages: conversations[0] } });
            worker.once("error", reject);
            worker.once("exit", resolve);
        });
        expect(exitCode).toBe(0);
    });

    it("a process that exits without dispose() exits cleanly, and the package imports by name", () => {
        const script = `
            import { RewardModel } from "llama-reward";
            const model = await RewardModel.load(${JSON.stringify(tinyF32)}, { contextSize: 256 });
            console.log(await model.score([{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }]));
        `;
        const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(Number.isFinite(Number(result.stdout.trim()))).toBe(true);
    });
});
