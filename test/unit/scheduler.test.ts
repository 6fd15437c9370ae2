/**
 * The scheduler against a fake NativeContext (no llama.cpp): admission,
 * chunking, KV reservation, shared prefixes, abort, dispose, failures, and a
 * few hundred seeded random workloads in which every call must settle with
 * exactly the value of its sequence scored alone. The fake models the KV
 * cache, so lost, stale or misplaced KV gives a wrong value, and every
 * invariant the fake sees broken fails the test, also in the runs with
 * failing steps, where callers may see ERR_DECODE_FAILED.
 */
import { afterEach, describe, expect, it } from "vitest";
import { isRewardModelError } from "../../src/errors.js";
import { groupByPrefix } from "../../src/scoring/prefix-groups.js";
import { Scheduler } from "../../src/scoring/scheduler.js";
import { packStep, slotsToGrant } from "../../src/scoring/step-plan.js";
import { FakeContext, fakeReward, type FakeContextOptions } from "../support/fake-context.js";
import { randomWorkload, turns, type Workload } from "../support/random-workloads.js";

/** The fakes of the running test, checked after it for broken invariants. */
const fakes: FakeContext[] = [];

afterEach(() => {
    const violations = fakes.flatMap((f) => f.violations);
    fakes.length = 0;
    expect(violations).toEqual([]);
});

function setup(options: FakeContextOptions & { reproducible?: boolean }): { fake: FakeContext; scheduler: Scheduler } {
    const fake = new FakeContext(options);
    fakes.push(fake);
    const scheduler = new Scheduler(fake, { ...fake.info(), reproducible: options.reproducible ?? false });
    return { fake, scheduler };
}

function seq(n: number, start = 1): Int32Array {
    return Int32Array.from({ length: n }, (_, i) => start + i);
}

function join(a: Int32Array, b: Int32Array): Int32Array {
    const out = new Int32Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
}

/** 16 preference pairs, each pair sharing its own 20-token prompt: the shape that once never settled. */
function pairs(count: number): Int32Array[] {
    return Array.from({ length: count }, (_, p) => {
        const prompt = seq(20, 1000 * (p + 1));
        return [join(prompt, seq(5, 90)), join(prompt, seq(3, 70))];
    }).flat();
}

function expectIdle(scheduler: Scheduler, parallel: number): void {
    expect(scheduler.stats).toMatchObject({ queued: 0, active: 0, freeSlots: parallel, reservedCells: 0 });
}

describe("step planning (pure)", () => {
    it("packs sequences in order up to the batch size and chunks long ones", () => {
        const step = packStep(
            [
                { tokens: seq(5), pos0: 0, fed: 0, slot: 0, wantsOutput: true },
                { tokens: seq(10), pos0: 4, fed: 2, slot: 1, wantsOutput: true },
                { tokens: seq(3), pos0: 0, fed: 0, slot: 2, wantsOutput: true },
            ],
            { batchSize: 9, maxSequences: Infinity, alignChunks: false },
        );
        expect(step.takes).toEqual([5, 4, 0]);
        expect([...step.seqIds]).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1]);
        expect([...step.positions.subarray(5)]).toEqual([6, 7, 8, 9]);
        expect([...step.outputs]).toEqual([0]); // the second one is not finished
    });

    it("aligned chunks start at multiples of the batch size, one sequence at a time", () => {
        const step = packStep(
            [
                { tokens: seq(40), pos0: 20, fed: 0, slot: 3, wantsOutput: true },
                { tokens: seq(4), pos0: 0, fed: 0, slot: 1, wantsOutput: true },
            ],
            { batchSize: 16, maxSequences: 1, alignChunks: true },
        );
        expect(step.takes).toEqual([12, 0]); // positions 20..31, then 32..47 next time
        expect(step.positions[0]).toBe(20);
        expect(step.outputs.length).toBe(0);
    });

    it("admits only with every cell and the minimum slots, exclusively when reproducible", () => {
        const limits = { contextSize: 100, exclusive: false };
        expect(slotsToGrant({ cells: 60, minSlots: 2, maxSlots: 5 }, { freeSlots: 3, reservedCells: 40, admittedJobs: 1 }, limits)).toBe(3);
        expect(slotsToGrant({ cells: 61, minSlots: 2, maxSlots: 5 }, { freeSlots: 3, reservedCells: 40, admittedJobs: 1 }, limits)).toBe(0);
        expect(slotsToGrant({ cells: 10, minSlots: 2, maxSlots: 5 }, { freeSlots: 1, reservedCells: 0, admittedJobs: 1 }, limits)).toBe(0);
        expect(
            slotsToGrant(
                { cells: 10, minSlots: 1, maxSlots: 1 },
                { freeSlots: 4, reservedCells: 0, admittedJobs: 1 },
                { ...limits, exclusive: true },
            ),
        ).toBe(0);
        expect(
            slotsToGrant(
                { cells: 10, minSlots: 1, maxSlots: 1 },
                { freeSlots: 4, reservedCells: 0, admittedJobs: 0 },
                { ...limits, exclusive: true },
            ),
        ).toBe(1);
    });

    it("groups shared prefixes, keeps a token of each member's own, and aligns when asked", () => {
        const prompt = seq(40, 500);
        const lists = [join(prompt, seq(3)), seq(30, 9000), join(prompt, seq(2, 50)), prompt];
        const groups = groupByPrefix(lists, { minShared: 16, align: 1 });
        const shared = groups.find((g) => g.members.length > 1);
        expect(shared?.members).toEqual([0, 2, 3]);
        expect(shared?.prefixLength).toBe(39); // list 3 is the prompt itself and keeps its last token
        const aligned = groupByPrefix(lists, { minShared: 16, align: 16 });
        expect(aligned.find((g) => g.members.length > 1)?.prefixLength).toBe(32);
        expect(groupByPrefix(lists, { minShared: 16, align: 64 }).every((g) => g.prefixLength === 0)).toBe(true);
    });
});

describe("scheduler with a fake context", () => {
    it("settles 16 preference pairs with fewer slots than pairs, for every parallel from 1 to 16", async () => {
        for (let parallel = 1; parallel <= 16; parallel++) {
            const { fake, scheduler } = setup({ contextSize: 2048, batchSize: 512, parallel });
            const lists = pairs(16);
            const values = await Promise.all(scheduler.scoreMany(lists));
            expect(values.map((v) => v[0])).toEqual(lists.map(fakeReward));
            expectIdle(scheduler, parallel);
            // the prompts were shared: fewer tokens decoded than the lists hold
            if (parallel > 1)
                expect(fake.steps.reduce((n, s) => n + s.tokens.length, 0)).toBeLessThan(lists.reduce((n, l) => n + l.length, 0));
            expect(fake.maxInFlight).toBe(1);
        }
    });

    it("calls made in the same turn of the event loop share one step, the first one included", async () => {
        const { fake, scheduler } = setup({ contextSize: 512, batchSize: 128, parallel: 8 });
        const lists = Array.from({ length: 8 }, (_, i) => seq(10, 100 * (i + 1)));
        // one call per microtask, as concurrent score() callers and server requests arrive
        const calls: Promise<Float32Array>[] = [];
        for (const list of lists) {
            calls.push(scheduler.score(list));
            await Promise.resolve();
        }
        expect((await Promise.all(calls)).map((v) => v[0])).toEqual(lists.map(fakeReward));
        expect(fake.steps.length).toBe(1);
        expectIdle(scheduler, 8);
    });

    it("the work a finished step's results set off joins the very next step", async () => {
        const { fake, scheduler } = setup({ contextSize: 512, batchSize: 32, parallel: 4 });
        const long = seq(40, 1); // 24 tokens in step 0 beside the short one, its last 16 in step 1
        const followUp = seq(4, 500);
        const chained = scheduler.score(seq(8, 200)).then(() => scheduler.score(followUp)); // a caller's next call
        await Promise.all([scheduler.score(long), chained]);
        expect(fake.steps.length).toBe(2);
        expect([...fake.steps[1]!.tokens]).toEqual(expect.arrayContaining([...followUp]));
        expectIdle(scheduler, 4);
    });

    it("chunks a sequence longer than the batch into ceil(n / batch) steps", async () => {
        const { fake, scheduler } = setup({ contextSize: 256, batchSize: 16, parallel: 4 });
        const long = seq(100);
        expect((await scheduler.score(long))[0]).toBe(fakeReward(long));
        expect(fake.steps.length).toBe(Math.ceil(100 / 16));
    });

    it("hiddenAt reads every marked token across chunks in one pass, batched with other work", async () => {
        const { fake, scheduler } = setup({ contextSize: 512, batchSize: 16, parallel: 4 });
        const long = seq(50, 7);
        const marks = Int32Array.from([0, 3, 15, 16, 31, 40, 49]); // chunk edges included
        const others = [seq(20, 300), seq(9, 500)];
        const [rows, ...values] = await Promise.all([scheduler.hiddenAt(long, marks), ...scheduler.scoreMany(others)]);
        expect(values.map((v) => v![0])).toEqual(others.map(fakeReward));
        // each marked row is the prefix up to it, as if that prefix were scored alone: one decode of each token
        expect(Array.from({ length: marks.length }, (_, r) => [rows![2 * r], rows![2 * r + 1]])).toEqual(
            Array.from(marks, (m) => [fakeReward(long.subarray(0, m + 1)), m]),
        );
        expect(fake.steps.reduce((n, s) => n + s.tokens.length, 0)).toBe(50 + 20 + 9);
        expect(fake.steps.some((s) => s.rows!.length > 0 && new Set(s.seqIds).size > 1)).toBe(true);
        expectIdle(scheduler, 4);
    });

    it("hiddenAt rejects marks that are empty, unordered or outside the tokens", () => {
        const { scheduler } = setup({ contextSize: 64, batchSize: 16, parallel: 2 });
        for (const marks of [[], [3, 2], [1, 1], [-1], [10]]) {
            expect(() => scheduler.hiddenAt(seq(10), Int32Array.from(marks))).toThrow(
                expect.objectContaining({ code: "ERR_INVALID_TOKENS" }),
            );
        }
        expectIdle(scheduler, 2);
    });

    it("never reserves more KV cells than the context holds", async () => {
        const { fake, scheduler } = setup({ contextSize: 100, batchSize: 32, parallel: 8 });
        const lists = Array.from({ length: 10 }, (_, i) => seq(40 + i, i * 100));
        const values = await Promise.all(scheduler.scoreMany(lists));
        expect(values.map((v) => v[0])).toEqual(lists.map(fakeReward));
        expect(fake.maxCellsUsed).toBeLessThanOrEqual(100);
        expectIdle(scheduler, 8);
    });

    it("rejects aborted calls with ERR_ABORTED, finishes the others, and frees every slot", async () => {
        // Aborted while the second decode step is in flight: a known point, not a timer. (A microtask, because
        // the real addon runs no JavaScript inside decode(), so a signal cannot fire in the middle of the call.)
        const controller = new AbortController();
        const { fake, scheduler } = setup({
            contextSize: 512,
            batchSize: 8,
            parallel: 3,
            onDecode: (index) => {
                if (index === 1) queueMicrotask(() => controller.abort());
            },
        });
        const aborted = scheduler.scoreMany(pairs(6), controller.signal);
        const kept = scheduler.scoreMany(pairs(4));
        const settled = await Promise.allSettled(aborted);
        expect(fake.steps.length).toBeGreaterThan(1);
        expect(settled.filter((r) => r.status === "rejected").length).toBe(settled.length);
        for (const r of settled) if (r.status === "rejected") expect(isRewardModelError(r.reason, "ERR_ABORTED")).toBe(true);
        expect((await Promise.all(kept)).map((v) => v[0])).toEqual(pairs(4).map(fakeReward));
        await turns(2);
        expectIdle(scheduler, 3);
    });

    it("dispose rejects queued and running work with ERR_DISPOSED and waits for the running step", async () => {
        const { fake, scheduler } = setup({ contextSize: 512, batchSize: 8, parallel: 2, delayMs: 2 });
        const pending = Promise.allSettled(scheduler.scoreMany(pairs(8)));
        await turns(1);
        expect(fake.inFlight).toBe(1);
        await scheduler.dispose();
        expect(fake.disposed).toBe(true);
        expect(fake.inFlight).toBe(0);
        const settled = await pending;
        expect(settled.every((r) => r.status === "rejected" && isRewardModelError(r.reason, "ERR_DISPOSED"))).toBe(true);
        expect(() => scheduler.score(seq(3))).toThrow(/disposed/);
        expectIdle(scheduler, 2);
        await scheduler.dispose(); // idempotent
    });

    it("a failed decode rejects only the work in that step; later work still runs", async () => {
        const { scheduler } = setup({ contextSize: 512, batchSize: 64, parallel: 2, failStep: 0 });
        const first = scheduler.score(seq(10));
        await expect(first).rejects.toMatchObject({ code: "ERR_DECODE_FAILED" });
        expect((await scheduler.score(seq(12)))[0]).toBe(fakeReward(seq(12)));
        expectIdle(scheduler, 2);
    });

    it("a decode refused before it ran still removes the KV it owed and fails the jobs whose copies were lost", async () => {
        const { scheduler } = setup({ contextSize: 256, batchSize: 8, parallel: 2, throwStep: 1 });
        const first = await Promise.allSettled(scheduler.scoreMany([seq(3, 1), seq(20, 100)]));
        expect(first.some((r) => r.status === "rejected")).toBe(true);
        const second = await Promise.all(scheduler.scoreMany([seq(5, 300), seq(6, 400)]));
        expect(second.map((v) => v[0])).toEqual([fakeReward(seq(5, 300)), fakeReward(seq(6, 400))]);
        expectIdle(scheduler, 2);
    });

    it("an empty call with a signal leaves no listener behind", () => {
        const { scheduler } = setup({ contextSize: 256, batchSize: 8, parallel: 2 });
        const controller = new AbortController();
        let added = 0;
        let removed = 0;
        const signal = controller.signal;
        const add = signal.addEventListener.bind(signal);
        const remove = signal.removeEventListener.bind(signal);
        signal.addEventListener = ((...args: Parameters<typeof add>) => {
            added++;
            add(...args);
        }) as typeof add;
        signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
            removed++;
            remove(...args);
        }) as typeof remove;
        expect(scheduler.scoreMany([], signal)).toEqual([]);
        expect(added - removed).toBe(0);
    });

    it("work it cannot start rejects with ERR_INTERNAL instead of waiting forever", async () => {
        const { scheduler } = setup({ contextSize: 512, batchSize: 64, parallel: 2 });
        // Simulate a broken invariant: every slot leaked.
        (scheduler as unknown as { freeSlots: number[] }).freeSlots.length = 0;
        await expect(scheduler.score(seq(10))).rejects.toMatchObject({ code: "ERR_INTERNAL" });
    });

    it("reproducible mode decodes one sequence per step on aligned chunks", async () => {
        const { fake, scheduler } = setup({ contextSize: 512, batchSize: 16, parallel: 4, reproducible: true });
        const lists = pairs(3);
        const values = await Promise.all(scheduler.scoreMany(lists));
        expect(values.map((v) => v[0])).toEqual(lists.map(fakeReward));
        for (const step of fake.steps) {
            expect(new Set(step.seqIds).size).toBeLessThanOrEqual(1);
            const first = step.positions[0] ?? 0;
            expect(Math.floor(first / 16)).toBe(Math.floor((step.positions.at(-1) ?? first) / 16));
        }
        expectIdle(scheduler, 4);
    });
});

/** Runs a workload; every call settles, and each value equals the list scored alone unless its step was made to fail. */
async function runWorkload(workload: Workload, extra: Partial<FakeContextOptions> & { reproducible?: boolean } = {}) {
    const { fake, scheduler } = setup({ ...workload.limits, ...extra });
    const failing = extra.failStep !== undefined || extra.throwStep !== undefined;
    let settledCalls = 0;
    await Promise.all(
        workload.callers.map(async (calls) => {
            for (const call of calls) {
                const controller = call.abortAfterTurns === undefined ? undefined : new AbortController();
                if (controller) void turns(call.abortAfterTurns ?? 0).then(() => controller.abort());
                let promises: Promise<Float32Array>[];
                try {
                    promises = scheduler.scoreMany(call.lists, controller?.signal);
                } catch (error) {
                    expect(isRewardModelError(error, "ERR_ABORTED")).toBe(true);
                    settledCalls++;
                    continue;
                }
                const results = await Promise.allSettled(promises);
                results.forEach((r, i) => {
                    if (r.status === "fulfilled") expect(r.value[0]).toBe(fakeReward(call.lists[i] as Int32Array));
                    else if (
                        !(
                            failing &&
                            (isRewardModelError(r.reason, "ERR_DECODE_FAILED") || isRewardModelError(r.reason, "ERR_INVALID_TOKENS"))
                        )
                    ) {
                        expect(isRewardModelError(r.reason, "ERR_ABORTED") && controller !== undefined).toBe(true);
                    }
                });
                settledCalls++;
            }
        }),
    );
    expect(settledCalls).toBe(workload.callers.reduce((n, c) => n + c.length, 0));
    await turns(2);
    // A broken invariant reaches callers as ERR_DECODE_FAILED, which the failing runs accept: check the fake's record.
    expect(fake.violations).toEqual([]);
    expectIdle(scheduler, workload.limits.parallel);
    expect(fake.maxCellsUsed).toBeLessThanOrEqual(workload.limits.contextSize);
    expect(fake.maxInFlight).toBeLessThanOrEqual(1);
    if (extra.reproducible) {
        for (const step of fake.steps) expect(new Set(step.seqIds).size).toBeLessThanOrEqual(1);
    }
}

describe("random workloads (seeded)", () => {
    const seeds = Number(process.env.SCHEDULER_SEEDS ?? 300);
    it(`${seeds} schedules: every call settles with its value scored alone`, async () => {
        for (let seed = 1; seed <= seeds; seed++) {
            const workload = randomWorkload(seed, [64, 128, 256, 512], [1, 50_000]);
            try {
                await runWorkload(workload);
                await runWorkload(workload, { reproducible: true });
                await runWorkload(workload, seed % 2 === 0 ? { failStep: seed % 7 } : { throwStep: seed % 5 });
            } catch (error) {
                throw new Error(`seed ${seed} (${JSON.stringify(workload.limits)}): ${String(error)}`, { cause: error });
            }
        }
    }, 300_000);

    it("dispose at any moment settles every call and leaves nothing running", async () => {
        for (let seed = 1; seed <= 60; seed++) {
            const workload = randomWorkload(seed, [64, 128, 256], [1, 50_000]);
            const { fake, scheduler } = setup({ ...workload.limits });
            const all = workload.callers.flat().map((call) => Promise.allSettled(scheduler.scoreMany(call.lists)));
            await turns(seed % 13);
            await scheduler.dispose();
            for (const results of await Promise.all(all)) {
                for (const r of results)
                    if (r.status === "rejected") expect(isRewardModelError(r.reason, "ERR_DISPOSED"), `seed ${seed}`).toBe(true);
            }
            expect(fake.disposed && fake.inFlight === 0, `seed ${seed}`).toBe(true);
        }
    });
});
