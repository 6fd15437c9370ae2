/**
 * Preference pairs and random schedules on the real engine: the 16-pair
 * scoreBatch that once never settled, the CLI on a pairs file, and seeded
 * random workloads (pairs, best-of-N, oversized groups, concurrent callers,
 * aborts) whose every reward must equal the same tokens scored alone.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, isRewardModelError, type ChatMessage } from "../src/index.js";
import { requireFile, root, tinyF32 } from "./support/fixtures.js";
import { randomWorkload, turns, until } from "./support/random-workloads.js";

const exact = { flashAttention: false, kvCacheType: "f32" } as const;

function weatherPairs(n: number): ChatMessage[][] {
    return Array.from({ length: n }, (_, i) => {
        const prompt: ChatMessage[] = [
            {
                role: "user",
                content: `Question ${i}: which of these two answers is more helpful to someone asking about the weather today?`,
            },
        ];
        return [
            [...prompt, { role: "assistant", content: "It will be sunny." }],
            [...prompt, { role: "assistant", content: "No idea." }],
        ];
    }).flat();
}

let model: RewardModel;
let alone: RewardModel;

beforeAll(async () => {
    model = await RewardModel.load(requireFile(tinyF32), { contextSize: 2048 });
    alone = await RewardModel.load(tinyF32, { ...exact, contextSize: 512, parallel: 1 });
});

afterAll(async () => {
    await model?.dispose();
    await alone?.dispose();
});

describe("preference pairs", () => {
    it("scoreBatch settles on 16 pairs with default options, each pair sharing its prompt", async () => {
        const conversations = weatherPairs(16);
        const rewards = await model.scoreBatch(conversations);
        expect(rewards).toHaveLength(32);
        for (const i of [0, 1, 17, 31]) expect(Math.abs(rewards[i]! - (await model.score(conversations[i]!)))).toBeLessThan(1e-3);
        expect(model.stats).toMatchObject({ queued: 0, active: 0, freeSlots: model.options.parallel, reservedCells: 0 });
    });

    for (const parallel of [2, 4, 8]) {
        it(`settles with parallel ${parallel} and shares the prompts`, async () => {
            const m = await RewardModel.load(tinyF32, { parallel, contextSize: 1024 });
            try {
                const conversations = weatherPairs(16);
                const before = m.stats.tokens;
                await m.scoreBatch(conversations);
                const total = conversations.reduce((n, c) => n + m.tokenizeConversation(c).length, 0);
                expect(m.stats.tokens - before).toBeLessThan(total * 0.75);
            } finally {
                await m.dispose();
            }
        });
    }

    it("the CLI scores a pairs file: one reward per line, exit 0", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-pairs-"));
        const file = path.join(dir, "pairs.jsonl");
        const conversations = weatherPairs(32);
        fs.writeFileSync(file, conversations.map((c) => JSON.stringify({ messages: c })).join("\n"));
        const result = spawnSync(
            process.execPath,
            [path.join(root, "dist", "src", "cli", "main.js"), "score", "--model", tinyF32, "--input", file, "--parallel", "4"],
            { encoding: "utf8" },
        );
        fs.rmSync(dir, { recursive: true, force: true });
        expect(result.status).toBe(0);
        const lines = result.stdout
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as { reward?: number });
        expect(lines).toHaveLength(64);
        expect(lines.every((l) => typeof l.reward === "number")).toBe(true);
    });
});

describe("slots and batch", () => {
    it("more slots than the batch holds is an option error, not a process abort", async () => {
        await expect(RewardModel.load(tinyF32, { batchSize: 4, parallel: 8 })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        const m = await RewardModel.load(tinyF32, { batchSize: 4, contextSize: 256 });
        try {
            expect(m.options.parallel).toBe(4);
            const rewards = await m.scoreBatch(weatherPairs(3));
            expect(rewards.every(Number.isFinite)).toBe(true);
        } finally {
            await m.dispose();
        }
    });
});

describe("random schedules on the real engine (seeded)", () => {
    // A few in npm test (each is a model load and up to a few hundred decodes); NATIVE_SCHEDULE_SEEDS=200 for more.
    const seeds = Number(process.env.NATIVE_SCHEDULE_SEEDS ?? 6);
    it(`${seeds} workloads: every call settles, every reward equals its tokens scored alone (≤ 1e-4, exact settings)`, async () => {
        const cache = new Map<string, number>();
        const scoreAlone = async (tokens: Int32Array): Promise<number> => {
            const key = tokens.join(",");
            let v = cache.get(key);
            if (v === undefined) {
                v = await alone.scoreTokens(tokens);
                cache.set(key, v);
            }
            return v;
        };
        let calls = 0;
        for (let seed = 1; seed <= seeds; seed++) {
            const workload = randomWorkload(seed * 7919, [64, 128, 256], [100, 30_000], [7, 16, 32, 64]);
            const m = await RewardModel.load(tinyF32, { ...exact, ...workload.limits });
            try {
                await Promise.all(
                    workload.callers.map(async (callerCalls) => {
                        for (const call of callerCalls) {
                            calls++;
                            const controller = call.abortAfterTurns === undefined ? undefined : new AbortController();
                            if (controller) void turns(call.abortAfterTurns ?? 0).then(() => controller.abort());
                            const results = await Promise.allSettled(
                                call.lists.length === 1
                                    ? [m.scoreTokens(call.lists[0]!, { signal: controller?.signal }).then((r) => [r])]
                                    : [m.scoreTokenBatch(call.lists, { signal: controller?.signal }).then((v) => v.map((x) => x[0]!))],
                            );
                            const r = results[0]!;
                            if (r.status === "rejected") {
                                expect(
                                    controller !== undefined && isRewardModelError(r.reason, "ERR_ABORTED"),
                                    `seed ${seed}: ${String(r.reason)}`,
                                ).toBe(true);
                                continue;
                            }
                            for (let i = 0; i < call.lists.length; i++) {
                                const expected = await scoreAlone(call.lists[i]!);
                                expect(Math.abs(r.value[i]! - expected), `seed ${seed}, list ${i}`).toBeLessThanOrEqual(
                                    1e-4 * Math.max(1, Math.abs(expected)),
                                );
                            }
                        }
                    }),
                );
                await until(() => m.stats.active === 0);
                expect(m.stats, `seed ${seed}`).toMatchObject({
                    queued: 0,
                    active: 0,
                    freeSlots: workload.limits.parallel,
                    reservedCells: 0,
                });
            } finally {
                await m.dispose();
            }
        }
        expect(calls).toBeGreaterThan(seeds);
    }, 600_000);
});
