/**
 * worker_threads and process exit: models in several workers at once score
 * what the main thread scores; a worker terminated mid-decode goes away
 * cleanly; a process exiting with work in flight and without dispose(), or
 * while a worker decodes, exits with status 0. Nothing crashes or hangs.
 * The worker script runs from dist/ (`npm test` compiles it first).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { Worker } from "node:worker_threads";

import { beforeAll, describe, expect, it } from "vitest";

import { RewardModel } from "../../src/index.js";
import { conversations, requireFile, root, tinyF16, tinyF32 } from "../support/fixtures.js";

const script = path.join(root, "dist", "test", "hardening", "worker-script.js");
let expected: number[];

beforeAll(async () => {
    requireFile(script);
    const model = await RewardModel.load(requireFile(tinyF32), { contextSize: 1024, parallel: 4, threads: 1, reproducible: true });
    expected = await model.scoreBatch(conversations);
    await model.dispose();
});

function startWorker(data: unknown): Worker {
    return new Worker(script, { workerData: data });
}

function nextMessage(worker: Worker, ms: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message from the worker within ${ms} ms`)), ms);
        worker.once("message", (m) => {
            clearTimeout(timer);
            resolve(m);
        });
        worker.once("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        worker.once("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`the worker exited with ${code}`));
        });
    });
}

function child(job: object, timeoutMs = 60_000) {
    return spawnSync(process.execPath, [script, JSON.stringify(job)], { encoding: "utf8", cwd: root, timeout: timeoutMs });
}

describe("worker_threads", () => {
    it("three workers with their own models at once score exactly what the main thread scores", async () => {
        const workers = [tinyF32, tinyF32, tinyF16].map((model) => startWorker({ mode: "score", model, conversations }));
        const exits = workers.map((w) => new Promise((r) => w.once("exit", r)));
        const results = (await Promise.all(workers.map((w) => nextMessage(w, 90_000)))) as { rewards: number[] }[];
        // each worker ends by itself once its model is disposed
        expect(await Promise.all(exits)).toEqual([0, 0, 0]);
        for (const [i, r] of results.entries()) {
            expect(r.rewards).toHaveLength(3 * conversations.length);
            const want = i < 2 ? expected : undefined; // the F16 model has its own rewards
            r.rewards.forEach((v, k) => {
                expect(Number.isFinite(v)).toBe(true);
                if (want) expect(v).toBe(want[k % conversations.length]);
            });
        }
    });

    it("terminate() while a worker decodes: the worker goes away, the main thread keeps scoring", async () => {
        for (let i = 0; i < 2; i++) {
            const worker = startWorker({ mode: "endless", model: tinyF32 });
            expect(await nextMessage(worker, 60_000)).toBe("busy");
            const exitCode = await Promise.race([
                worker.terminate(),
                new Promise((_, reject) => setTimeout(() => reject(new Error("terminate() hung")), 30_000)),
            ]);
            expect(exitCode).toBe(1);
        }
        const model = await RewardModel.load(tinyF32, { contextSize: 1024, parallel: 4, threads: 1, reproducible: true });
        expect(await model.scoreBatch(conversations)).toEqual(expected);
        await model.dispose();
    });
});

describe("process exit", () => {
    it("exits with status 0 with scores in flight and no dispose()", () => {
        const r = child({ mode: "exit-busy", model: tinyF32 });
        expect(r.signal).toBeNull();
        expect(r.status).toBe(0);
    });

    it("exits with status 0 when the script ends with a live model and no dispose()", () => {
        const r = child({ mode: "exit-idle", model: tinyF32 });
        expect(r.signal).toBeNull();
        expect(r.status).toBe(0);
        expect(JSON.parse(r.stdout.trim()).reward).toEqual(expect.any(Number));
    });

    it("exits with status 0 while a worker thread decodes", () => {
        const r = child({ mode: "worker-exit", model: tinyF32 });
        expect(r.signal).toBeNull();
        expect(r.status).toBe(0);
    });
});
