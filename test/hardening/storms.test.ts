/**
 * Abort and dispose storms: hundreds of score / scoreBatch / scoreResponses
 * calls with AbortSignals firing at random moments, then dispose() with work
 * in flight. Every promise settles (a reward, ERR_ABORTED or ERR_DISPOSED),
 * nothing hangs, a second model keeps scoring exactly as before, and the
 * scheduler's slots and KV cells are all free afterwards (model.stats).
 */
import { getEventListeners } from "node:events";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { RewardModel, RewardModelError, type ChatMessage } from "../../src/index.js";
import { conversations, filler, requireFile, tinyF16, tinyF32 } from "../support/fixtures.js";
import { Rng } from "../fuzz/prng.js";

// reproducible: rewards do not depend on what they are batched with, so "unaffected" can mean bit-identical
const options = { contextSize: 1024, parallel: 4, threads: 1, reproducible: true } as const;
let bystander: RewardModel;
let bystanderBaseline: number[];

beforeAll(async () => {
    bystander = await RewardModel.load(requireFile(tinyF16), options);
    bystanderBaseline = await Promise.all(conversations.map((c) => bystander.score(c)));
});

afterAll(async () => {
    await bystander?.dispose();
});

type Outcome = "ok" | "ERR_ABORTED" | "ERR_DISPOSED";

/** Settles `p` into an outcome; anything but a reward or an abort/dispose error fails the test. */
function outcomeOf(p: Promise<unknown>): Promise<Outcome> {
    return p.then(
        (v) => {
            const values = Array.isArray(v) ? v : [v];
            if (!values.every((x) => typeof x === "number" && Number.isFinite(x))) throw new Error(`bad result ${String(v)}`);
            return "ok" as const;
        },
        (e: unknown) => {
            if (e instanceof RewardModelError && (e.code === "ERR_ABORTED" || e.code === "ERR_DISPOSED")) return e.code;
            throw e;
        },
    );
}

/** Rejects when `p` has not settled within `ms`: a hang. */
function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
        p.finally(() => clearTimeout(timer)),
        new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hang)`)), ms);
        }),
    ]);
}

function conversation(rng: Rng): ChatMessage[] {
    return [
        { role: "user", content: filler(rng.range(3, 120), rng.u32()) },
        { role: "assistant", content: filler(rng.range(1, 60), rng.u32()) },
    ];
}

/** One random call (with an abort plan) against `model`. */
function randomCall(model: RewardModel, rng: Rng, shared: AbortController[]): Promise<unknown> {
    const roll = rng.int(10);
    let signal: AbortSignal | undefined;
    if (roll < 2) {
        signal = undefined;
    } else if (roll < 3) {
        signal = AbortSignal.abort(new Error("aborted before the call"));
    } else if (roll < 5) {
        signal = rng.pick(shared).signal; // aborted together with other calls
    } else {
        const controller = new AbortController();
        const when = rng.int(4);
        const delay = rng.int(40);
        if (when === 0) queueMicrotask(() => controller.abort());
        else if (when === 1) setImmediate(() => controller.abort());
        else if (when === 2) setTimeout(() => controller.abort(), delay);
        // when === 3: never fires
        signal = controller.signal;
    }
    const kind = rng.int(3);
    const call = (): Promise<unknown> => {
        if (kind === 0) return model.score(conversation(rng), { signal });
        if (kind === 1) {
            const prompt = conversation(rng);
            const batch = Array.from({ length: rng.range(1, 6) }, () =>
                rng.chance(0.5)
                    ? [...prompt.slice(0, 1), { role: "assistant", content: filler(rng.range(1, 30), rng.u32()) }]
                    : conversation(rng),
            );
            return model.scoreBatch(batch, { signal });
        }
        const prompt = [
            { role: "system", content: filler(rng.range(5, 40), rng.u32()) },
            { role: "user", content: filler(rng.range(5, 80), rng.u32()) },
        ];
        return model.scoreResponses(
            prompt,
            Array.from({ length: rng.range(1, 6) }, () => filler(rng.range(1, 40), rng.u32())),
            { signal },
        );
    };
    try {
        return call();
    } catch (error) {
        return Promise.reject(error); // a synchronous throw (already aborted) is an outcome too
    }
}

function expectAllFree(model: RewardModel): void {
    const s = model.stats;
    expect({ queued: s.queued, active: s.active, freeSlots: s.freeSlots, reservedCells: s.reservedCells }).toEqual({
        queued: 0,
        active: 0,
        freeSlots: model.options.parallel,
        reservedCells: 0,
    });
}

describe("abort storm", () => {
    it("400 calls with random aborts all settle, slots and KV cells are freed, scores are unchanged", async () => {
        const model = await RewardModel.load(requireFile(tinyF32), options);
        try {
            const baseline = await Promise.all(conversations.map((c) => model.score(c)));
            const rng = Rng.forCase(0x57, 1);
            const shared = Array.from({ length: 5 }, () => new AbortController());
            const calls = Array.from({ length: 400 }, () => outcomeOf(randomCall(model, rng, shared)));
            const sharedAborts = shared.map(
                (c, i) =>
                    new Promise<void>((r) =>
                        setTimeout(
                            () => {
                                c.abort();
                                r();
                            },
                            5 + i * 15,
                        ),
                    ),
            );
            // the bystander model scores throughout the storm
            const bystanding = Promise.all(Array.from({ length: 20 }, (_, i) => bystander.score(conversations[i % conversations.length]!)));
            const outcomes = await deadline(Promise.all(calls), 120_000, "the abort storm");
            await Promise.all(sharedAborts);
            const counts = { ok: 0, ERR_ABORTED: 0, ERR_DISPOSED: 0 };
            for (const o of outcomes) counts[o]++;
            console.log(`abort storm: ${JSON.stringify(counts)}`);
            expect(counts.ok).toBeGreaterThan(20);
            expect(counts.ERR_ABORTED).toBeGreaterThan(50);
            expect(counts.ERR_DISPOSED).toBe(0);
            const byScores = await bystanding;
            byScores.forEach((v, i) => expect(v).toBe(bystanderBaseline[i % conversations.length]));
            expectAllFree(model);
            expect(await Promise.all(conversations.map((c) => model.score(c)))).toEqual(baseline);
            expectAllFree(model);
        } finally {
            await model.dispose();
        }
    });
});

describe("a long-lived signal", () => {
    it("keeps no abort listener once its calls settle (an app-wide signal shared by thousands of calls)", async () => {
        const controller = new AbortController();
        for (let i = 0; i < 300; i++) {
            await Promise.all([
                bystander.score(conversations[i % 4]!, { signal: controller.signal }),
                bystander.scoreBatch([conversations[0]!, conversations[1]!], { signal: controller.signal }),
            ]);
        }
        expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    });
});

describe("dispose storm", () => {
    it("dispose() with hundreds of calls in flight: every promise settles, the other model is unaffected", async () => {
        const rng = Rng.forCase(0x57, 2);
        const summary = { ok: 0, ERR_ABORTED: 0, ERR_DISPOSED: 0 };
        for (let round = 0; round < 4; round++) {
            const model = await RewardModel.load(requireFile(tinyF32), options);
            const shared = [new AbortController()];
            const witness = outcomeOf(model.score(conversations[0]!));
            const calls = Array.from({ length: 150 }, () => outcomeOf(randomCall(model, rng, shared)));
            const bystanding = Promise.all(conversations.map((c) => bystander.score(c)));
            // dispose at a random moment (in the last round only once a call has finished), sometimes twice and concurrently
            await new Promise((r) => setTimeout(r, rng.pick([0, 5, 60, 250])));
            if (round === 3) expect(await witness).toBe("ok");
            const disposals = [model.dispose(), ...(rng.chance(0.5) ? [model.dispose()] : [])];
            const late = outcomeOf(model.score(conversations[0]!));
            const outcomes = await deadline(Promise.all([witness, ...calls, late]), 60_000, `dispose storm round ${round}`);
            await deadline(Promise.all(disposals), 30_000, "dispose()");
            for (const o of outcomes) summary[o]++;
            expect(outcomes.at(-1)).toBe("ERR_DISPOSED");
            expect(model.disposed).toBe(true);
            // (after dispose() the scheduler keeps its last active/freeSlots/reservedCells counts; its context is freed)
            expect(model.stats.queued).toBe(0);
            expect(await bystanding).toEqual(bystanderBaseline);
        }
        console.log(`dispose storm: ${JSON.stringify(summary)}`);
        expect(summary.ERR_DISPOSED).toBeGreaterThan(0);
        expect(summary.ok).toBeGreaterThan(0);
        expect(await Promise.all(conversations.map((c) => bystander.score(c)))).toEqual(bystanderBaseline);
    });

    it("dispose() racing a model's first calls and a second dispose() right after load", async () => {
        for (let i = 0; i < 2; i++) {
            const model = await RewardModel.load(requireFile(tinyF32), options);
            const first = outcomeOf(model.scoreBatch(conversations));
            const d1 = model.dispose();
            const d2 = model.dispose();
            expect(d1).toBe(d2);
            expect(["ok", "ERR_DISPOSED"]).toContain(await deadline(first, 30_000, "a call racing dispose()"));
            await deadline(d1, 30_000, "dispose()");
        }
    });
});
