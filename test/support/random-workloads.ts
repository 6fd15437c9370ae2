/**
 * Seeded random scoring workloads for the scheduler tests: mixes of unrelated
 * sequences, preference pairs, best-of-N groups and groups too large for the
 * context, from several concurrent callers, some of them aborted. The same
 * seed always gives the same workload, so a failing seed can be replayed.
 */
import { Rng } from "../fuzz/prng.js";

export interface WorkloadLimits {
    contextSize: number;
    batchSize: number;
    parallel: number;
}

export interface WorkloadCall {
    /** Token lists scored in one call (one list: a single score call). */
    lists: Int32Array[];
    /** Abort this call after this many event-loop turns; undefined: never. */
    abortAfterTurns?: number;
}

export interface Workload {
    limits: WorkloadLimits;
    /** Each caller makes its calls one after another; callers run concurrently. */
    callers: WorkloadCall[][];
}

function tokens(rng: Rng, n: number, vocab: readonly [number, number]): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = rng.range(vocab[0], vocab[1]);
    return out;
}

function withPrompt(prompt: Int32Array, answer: Int32Array): Int32Array {
    const out = new Int32Array(prompt.length + answer.length);
    out.set(prompt, 0);
    out.set(answer, prompt.length);
    return out;
}

/** One scored batch of a random shape, every list fitting `context` tokens. */
function randomBatch(rng: Rng, context: number, vocab: readonly [number, number]): Int32Array[] {
    const kind = rng.weighted({ unrelated: 3, pairs: 4, bestOfN: 2, oversized: 1 });
    const short = Math.max(2, Math.floor(context / 6));
    switch (kind) {
        case "unrelated":
            return Array.from({ length: rng.range(1, 12) }, () => tokens(rng, rng.range(1, context), vocab));
        case "pairs": {
            const out: Int32Array[] = [];
            for (let p = rng.range(1, 16); p > 0; p--) {
                const prompt = tokens(rng, rng.range(16, Math.max(16, context - 2 * short)), vocab);
                out.push(
                    withPrompt(prompt, tokens(rng, rng.range(1, short), vocab)),
                    withPrompt(prompt, tokens(rng, rng.range(1, short), vocab)),
                );
            }
            return out;
        }
        case "bestOfN": {
            const prompt = tokens(rng, rng.range(16, Math.max(16, context - short)), vocab);
            return Array.from({ length: rng.range(3, 12) }, () => withPrompt(prompt, tokens(rng, rng.range(1, short), vocab)));
        }
        default: {
            // Together the answers need more cells than the context holds: the group must be split.
            const prompt = tokens(rng, rng.range(16, Math.floor(context / 2)), vocab);
            const room = context - prompt.length;
            const n = Math.ceil((2 * context) / Math.max(1, Math.floor(room / 2))) + 1;
            return Array.from({ length: n }, () =>
                withPrompt(prompt, tokens(rng, rng.range(Math.max(1, Math.floor(room / 2)), room), vocab)),
            );
        }
    }
}

/** A random workload; `contexts` bounds the context sizes tried (the native test keeps them small). */
export function randomWorkload(
    seed: number,
    contexts: readonly number[],
    vocab: readonly [number, number],
    batchSizes: readonly number[] = [1, 7, 16, 32, 64, 512],
): Workload {
    const rng = new Rng(seed);
    const contextSize = rng.pick(contexts);
    const batchSize = Math.min(contextSize, rng.pick(batchSizes));
    const limits: WorkloadLimits = { contextSize, batchSize, parallel: rng.range(1, Math.min(16, batchSize)) };
    const callers = Array.from({ length: rng.range(1, 4) }, () =>
        Array.from({ length: rng.range(1, 3) }, (): WorkloadCall => {
            const lists = rng.chance(0.3) ? [tokens(rng, rng.range(1, contextSize), vocab)] : randomBatch(rng, contextSize, vocab);
            return rng.chance(0.15) ? { lists, abortAfterTurns: rng.range(0, 20) } : { lists };
        }),
    );
    return { limits, callers };
}

/** Resolves after `turns` turns of the event loop. */
export async function turns(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Waits (up to `ms`) until `done()` holds: a step aborted callers no longer wait for may still be running. */
export async function until(done: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 5));
}
