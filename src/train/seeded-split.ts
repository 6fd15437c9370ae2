/**
 * The seeded train/validation split of train-head: a small deterministic
 * PRNG (mulberry32) and a Fisher–Yates shuffle, so the same seed and data
 * give the same split on every platform and Node.js version.
 */
import { invalidArgument } from "../errors.js";

/** Uniform floats in [0, 1) from a 32-bit seed (mulberry32). */
export function seededRandom(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

export interface Split {
    /** Indices of the training items, in shuffled order. */
    train: number[];
    /** Indices of the validation items, in shuffled order. */
    validation: number[];
}

/** Shuffles 0..count-1 with `seed` and holds out round(count · fraction) of them for validation. */
export function splitIndices(count: number, fraction: number, seed: number): Split {
    if (!(fraction >= 0 && fraction < 1)) {
        throw invalidArgument(`validation must be a fraction from 0 to below 1, got ${String(fraction)}`);
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
        throw invalidArgument(`seed must be an integer from 0 to 4294967295, got ${String(seed)}`);
    }
    const order = Array.from({ length: count }, (_, i) => i);
    const random = seededRandom(seed);
    for (let i = count - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const held = Math.round(count * fraction);
    return { validation: order.slice(0, held), train: order.slice(held) };
}
