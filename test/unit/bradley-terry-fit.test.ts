/**
 * The Bradley–Terry head fit (src/train/bradley-terry-fit.ts) and the seeded
 * split (src/train/seeded-split.ts) on synthetic features, without the addon:
 * the fit reaches the minimum of its convex objective (gradient ≈ 0), L2
 * shrinks the head, early stopping returns the head of lowest validation
 * loss, and the split is deterministic.
 */
import { describe, expect, it } from "vitest";
import { fitBradleyTerry, type PairIndices } from "../../src/train/bradley-terry-fit.js";
import { seededRandom, splitIndices } from "../../src/train/seeded-split.js";

function synthetic(d: number, conversations: number, pairs: number, seed: number) {
    const random = seededRandom(seed);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const rows = Array.from({ length: conversations }, () => Float32Array.from({ length: d }, gauss));
    const planted = Float64Array.from({ length: d }, () => gauss() / Math.sqrt(d));
    const reward = rows.map((h) => h.reduce((s, x, k) => s + x * planted[k]!, 0) * 3);
    const chosen = new Int32Array(pairs);
    const rejected = new Int32Array(pairs);
    for (let i = 0; i < pairs; i++) {
        const a = Math.floor(random() * conversations);
        const b = (a + 1 + Math.floor(random() * (conversations - 1))) % conversations;
        const aWins = random() < 1 / (1 + Math.exp(reward[b]! - reward[a]!));
        chosen[i] = aWins ? a : b;
        rejected[i] = aWins ? b : a;
    }
    return { rows, planted, pairs: { chosen, rejected } };
}

function slice(p: PairIndices, from: number, to: number): PairIndices {
    return { chosen: p.chosen.slice(from, to), rejected: p.rejected.slice(from, to) };
}

/** The gradient of mean softplus(−margin) + l2/2 ‖w‖², computed directly. */
function gradient(rows: Float32Array[], pairs: PairIndices, w: Float64Array, l2: number): Float64Array {
    const g = w.map((x) => l2 * x);
    const n = pairs.chosen.length;
    for (let i = 0; i < n; i++) {
        const c = rows[pairs.chosen[i]!]!;
        const r = rows[pairs.rejected[i]!]!;
        let margin = 0;
        for (let k = 0; k < w.length; k++) margin += w[k]! * (c[k]! - r[k]!);
        const s = 1 / (1 + Math.exp(margin));
        for (let k = 0; k < w.length; k++) g[k]! -= (s * (c[k]! - r[k]!)) / n;
    }
    return g;
}

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
const cosine = (a: Float64Array, b: Float64Array) => a.reduce((s, x, k) => s + x * b[k]!, 0) / (norm(a) * norm(b));

describe("fitBradleyTerry", () => {
    const { rows, planted, pairs } = synthetic(16, 300, 6000, 11);

    it("converges to the minimum of the convex objective and recovers a planted head", () => {
        const fit = fitBradleyTerry(rows, 16, pairs, undefined, { l2: 1e-4, maxIterations: 500, patience: 20, tolerance: 1e-8 });
        expect(["converged", "line-search"]).toContain(fit.stopReason);
        expect(norm(gradient(rows, pairs, fit.weight, 1e-4))).toBeLessThan(1e-6);
        expect(cosine(fit.weight, planted)).toBeGreaterThan(0.97);
        expect(fit.validation).toBeUndefined();
        expect(fit.history.at(-1)!.train.loss).toBeLessThan(fit.history[0]!.train.loss);
    });

    it("starts from the given head and ends at the same minimum", () => {
        const options = { l2: 1e-3, maxIterations: 500, patience: 20, tolerance: 1e-9 };
        const fromZero = fitBradleyTerry(rows, 16, pairs, undefined, options);
        const fromPlanted = fitBradleyTerry(rows, 16, pairs, undefined, { ...options, init: planted });
        expect(fromPlanted.history[0]!.train.loss).not.toBe(fromZero.history[0]!.train.loss);
        for (let k = 0; k < 16; k++) expect(fromPlanted.weight[k]).toBeCloseTo(fromZero.weight[k]!, 5);
    });

    it("gives the same head whether pairs are fitted as difference vectors or over shared rows", () => {
        // 150 pairs over up to 300 rows are fitted as differences; the same pairs twice (300 pairs) over the
        // rows themselves. Repeating every pair leaves the mean loss, so the minimum, unchanged.
        const few = slice(pairs, 0, 150);
        const twice = {
            chosen: Int32Array.from([...few.chosen, ...few.chosen]),
            rejected: Int32Array.from([...few.rejected, ...few.rejected]),
        };
        expect(new Set([...few.chosen, ...few.rejected]).size).toBeGreaterThan(150);
        const options = { l2: 1e-2, maxIterations: 500, patience: 20, tolerance: 1e-10 };
        const a = fitBradleyTerry(rows, 16, few, undefined, options);
        const b = fitBradleyTerry(rows, 16, twice, undefined, options);
        for (let k = 0; k < 16; k++) expect(a.weight[k]).toBeCloseTo(b.weight[k]!, 6);
        expect(norm(gradient(rows, few, a.weight, 1e-2))).toBeLessThan(1e-6); // differences are held as float32
    });

    it("converges in few iterations when coordinates differ widely in spread (preconditioning)", () => {
        // hidden states have a few coordinates of very large magnitude; plain L-BFGS needs hundreds of iterations here
        const random = seededRandom(3);
        const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
        const spread = (k: number) => (k % 8 === 0 ? 30 : k % 5 === 0 ? 0.1 : 1);
        const skewed = Array.from({ length: 400 }, () => Float32Array.from({ length: 32 }, (_, k) => (gauss() + 3) * spread(k)));
        const head = Float64Array.from({ length: 32 }, (_, k) => gauss() / spread(k) / Math.sqrt(32));
        const reward = skewed.map((h) => h.reduce((s, x, k) => s + x * head[k]!, 0) * 3);
        const chosen = new Int32Array(3000);
        const rejected = new Int32Array(3000);
        for (let i = 0; i < 3000; i++) {
            const a = Math.floor(random() * 400);
            const b = (a + 1 + Math.floor(random() * 399)) % 400;
            const aWins = random() < 1 / (1 + Math.exp(reward[b]! - reward[a]!));
            chosen[i] = aWins ? a : b;
            rejected[i] = aWins ? b : a;
        }
        const fit = fitBradleyTerry(skewed, 32, { chosen, rejected }, undefined, {
            l2: 1e-3,
            maxIterations: 1000,
            patience: 20,
            tolerance: 1e-8,
        });
        expect(fit.stopReason).toBe("converged");
        expect(fit.iterations).toBeLessThan(60);
        // the objective stopped changing; the gradient is small next to the 30-fold coordinates it is measured on
        expect(norm(gradient(skewed, { chosen, rejected }, fit.weight, 1e-3))).toBeLessThan(1e-4);
        expect(fit.history.at(-1)!.train.loss).toBeLessThan(fit.history[0]!.train.loss);
    });

    it("L2 shrinks the head", () => {
        const options = { maxIterations: 500, patience: 20, tolerance: 1e-8 };
        const weak = fitBradleyTerry(rows, 16, pairs, undefined, { ...options, l2: 1e-4 });
        const strong = fitBradleyTerry(rows, 16, pairs, undefined, { ...options, l2: 1 });
        expect(norm(strong.weight)).toBeLessThan(0.5 * norm(weak.weight));
        expect(norm(gradient(rows, pairs, strong.weight, 1))).toBeLessThan(1e-6);
    });

    it("early stopping returns the head of lowest validation loss", () => {
        // few training pairs and no L2: the fit overfits, so validation loss turns up
        const small = synthetic(40, 120, 400, 5);
        const fit = fitBradleyTerry(small.rows, 40, slice(small.pairs, 0, 100), slice(small.pairs, 100, 400), {
            l2: 0,
            maxIterations: 500,
            patience: 5,
            tolerance: 1e-12,
        });
        const losses = fit.history.map((m) => m.validation!.loss);
        const best = losses.indexOf(Math.min(...losses));
        expect(fit.stopReason).toBe("early-stopping");
        expect(fit.bestIteration).toBe(best);
        expect(fit.iterations).toBe(best + 5);
        expect(fit.validation!.loss).toBe(losses[best]);
        expect(fit.train.loss).toBeGreaterThan(fit.history.at(-1)!.train.loss);
    });

    it("rejects empty training sets and negative L2", () => {
        const none = { chosen: new Int32Array(0), rejected: new Int32Array(0) };
        const options = { l2: 0, maxIterations: 5, patience: 5, tolerance: 1e-6 };
        expect(() => fitBradleyTerry(rows, 16, none, undefined, options)).toThrow(expect.objectContaining({ code: "ERR_INVALID_DATA" }));
        expect(() => fitBradleyTerry(rows, 16, pairs, undefined, { ...options, l2: -1 })).toThrow(
            expect.objectContaining({ code: "ERR_INVALID_OPTION" }),
        );
    });
});

describe("splitIndices", () => {
    it("is a seeded permutation with the held-out share rounded", () => {
        const a = splitIndices(101, 0.1, 42);
        expect(a).toEqual(splitIndices(101, 0.1, 42));
        expect(a.validation).toHaveLength(10);
        expect([...a.train, ...a.validation].sort((x, y) => x - y)).toEqual(Array.from({ length: 101 }, (_, i) => i));
        expect(splitIndices(101, 0.1, 43).validation).not.toEqual(a.validation);
        expect(splitIndices(5, 0, 1).validation).toEqual([]);
    });

    it("rejects a fraction outside [0, 1) and a bad seed", () => {
        expect(() => splitIndices(10, 1, 1)).toThrow(expect.objectContaining({ code: "ERR_INVALID_OPTION" }));
        expect(() => splitIndices(10, 0.1, -1)).toThrow(expect.objectContaining({ code: "ERR_INVALID_OPTION" }));
    });
});
