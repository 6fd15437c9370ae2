/**
 * The persistent CPU thread pool of each context (native/src/cpu_threadpool.h):
 * with threads > 1 its workers live as long as the model and are joined on
 * dispose; scoring starts no thread per decode step; rewards do not depend on it.
 * Reads the process's threads from /proc (Linux only).
 */
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { RewardModel } from "../src/index.js";
import { conversations, tinyF32 } from "./support/fixtures.js";

const threadIds = () => new Set(fs.readdirSync("/proc/self/task"));

describe.skipIf(process.platform !== "linux")("CPU thread pool", () => {
    it("threads: 3 keeps two pool workers for the model's life, starts none per step, and joins them on dispose", async () => {
        const single = await RewardModel.load(tinyF32, { contextSize: 512, threads: 1 });
        const expected = await single.scoreBatch(conversations);
        await single.dispose();

        const before = threadIds();
        const model = await RewardModel.load(tinyF32, { contextSize: 512, threads: 3, batchSize: 16 });
        await model.score(conversations[0]!); // creates the context and its pool
        const withPool = threadIds();
        const workers = [...withPool].filter((t) => !before.has(t));
        // Two pool workers, plus at most the thread-pool threads libuv starts on first use.
        expect(workers.length).toBeGreaterThanOrEqual(2);

        // Many small steps: a pool created per step would show threads that come and go.
        const seen = new Set<string>();
        const sampler = setInterval(() => {
            for (const t of threadIds()) seen.add(t);
        }, 1);
        const steps0 = model.stats.steps;
        const rewards = await model.scoreBatch(conversations);
        clearInterval(sampler);
        expect(model.stats.steps - steps0).toBeGreaterThan(5);
        expect([...seen].filter((t) => !withPool.has(t))).toEqual([]);
        rewards.forEach((r, i) => expect(Math.abs(r - expected[i]!)).toBeLessThan(1e-4));

        await model.dispose();
        const after = threadIds();
        const poolLeft = workers.filter((t) => after.has(t));
        // What remains are libuv's pool threads (they live with the process); the ggml workers are gone.
        expect(poolLeft.length).toBeLessThanOrEqual(workers.length - 2);
    });
});
