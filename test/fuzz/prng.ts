/**
 * Deterministic randomness for the fuzzers: a mulberry32 generator whose
 * state is derived from (seed, case index), so any single case can be
 * replayed without running the cases before it.
 */

/** Mixes two 32-bit integers into a well-spread 32-bit state (murmur3 finaliser). */
export function mix32(a: number, b: number): number {
    let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
}

export class Rng {
    private state: number;

    constructor(seed: number) {
        this.state = seed >>> 0;
    }

    /** The generator of case `index` under `seed`. */
    static forCase(seed: number, index: number): Rng {
        return new Rng(mix32(seed, index));
    }

    /** A uniform unsigned 32-bit integer. */
    u32(): number {
        this.state = (this.state + 0x6d2b79f5) >>> 0;
        let t = this.state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return (t ^ (t >>> 14)) >>> 0;
    }

    /** Uniform in [0, 1). */
    float(): number {
        return this.u32() / 4294967296;
    }

    /** Uniform integer in [0, n). */
    int(n: number): number {
        if (n <= 0) throw new RangeError(`Rng.int(${n})`);
        return Math.floor(this.float() * n);
    }

    /** Uniform integer in [lo, hi]. */
    range(lo: number, hi: number): number {
        return lo + this.int(hi - lo + 1);
    }

    chance(p: number): boolean {
        return this.float() < p;
    }

    pick<T>(items: readonly T[]): T {
        if (items.length === 0) throw new RangeError("Rng.pick of an empty list");
        return items[this.int(items.length)]!;
    }

    /** Picks a key of `weights` with probability proportional to its weight. */
    weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
        const entries = Object.entries(weights) as [K, number][];
        const total = entries.reduce((s, [, w]) => s + w, 0);
        let x = this.float() * total;
        for (const [k, w] of entries) {
            x -= w;
            if (x < 0) return k;
        }
        return entries[entries.length - 1]![0];
    }
}
