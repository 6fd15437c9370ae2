/**
 * Leak check, run as `node --expose-gc dist/test/hardening/leak-check.js
 * [--scores N] [--cycles M]` (`npm run test:leaks` runs the large sizes;
 * leaks.test.ts a small one). Phase 1 scores N conversations on one model;
 * phase 2 loads, scores and disposes the model M times. Each phase measures
 * RSS and V8 external memory after a warm-up and at the end (after a full
 * GC) and prints one JSON line with the figures.
 */
import { RewardModel } from "../../src/index.js";
import { conversations, tinyF32 } from "../support/fixtures.js";

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

async function settle(): Promise<{ rss: number; external: number; heapUsed: number }> {
    for (let i = 0; i < 3; i++) {
        gc!();
        await new Promise((r) => setImmediate(r));
    }
    const m = process.memoryUsage();
    return { rss: m.rss, external: m.external, heapUsed: m.heapUsed };
}

const MiB = 1024 * 1024;

function growth(before: { rss: number; external: number }, after: { rss: number; external: number }): object {
    return {
        rssBeforeMiB: +(before.rss / MiB).toFixed(1),
        rssAfterMiB: +(after.rss / MiB).toFixed(1),
        rssGrowthMiB: +((after.rss - before.rss) / MiB).toFixed(2),
        externalGrowthKiB: +((after.external - before.external) / 1024).toFixed(1),
    };
}
const options = { contextSize: 512, parallel: 4, threads: 1 } as const;

async function scores(n: number): Promise<object> {
    const model = await RewardModel.load(tinyF32, options);
    const batch = async (): Promise<void> => {
        await Promise.all([
            model.score(conversations[0]!),
            model.scoreBatch([conversations[1]!, conversations[3]!]),
            model.scoreResponses(conversations[1]!.slice(0, 2), ["one", "two"]),
        ]);
    };
    const warmup = Math.max(50, Math.floor(n / 10));
    for (let i = 0; i < warmup; i += 5) await batch();
    const before = await settle();
    const samples: number[] = [];
    for (let i = 0; i < n; i += 5) {
        await batch(); // 5 rewards per batch
        if ((i + 5) % Math.ceil(n / 5) < 5) samples.push(Math.round((await settle()).rss / MiB));
    }
    const after = await settle();
    await model.dispose();
    return { phase: "scores", scores: n, warmup, ...growth(before, after), rssSamplesMiB: samples };
}

async function cycles(n: number): Promise<object> {
    const once = async (): Promise<void> => {
        const model = await RewardModel.load(tinyF32, options);
        await model.score(conversations[0]!);
        await model.dispose();
    };
    const warmup = Math.max(5, Math.floor(n / 10));
    for (let i = 0; i < warmup; i++) await once();
    const before = await settle();
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
        await once();
        if ((i + 1) % Math.ceil(n / 5) === 0) samples.push(Math.round((await settle()).rss / MiB));
    }
    const after = await settle();
    // the allocator may step up once in the first cycles after warm-up; a leak keeps growing between samples
    return {
        phase: "cycles",
        cycles: n,
        warmup,
        ...growth(before, after),
        rssSamplesMiB: samples,
        lateGrowthMiB: (samples[samples.length - 1] ?? 0) - (samples[0] ?? 0),
    };
}

const nScores = arg("scores", 2000);
const nCycles = arg("cycles", 100);
if (nScores > 0) console.log(JSON.stringify(await scores(nScores)));
if (nCycles > 0) console.log(JSON.stringify(await cycles(nCycles)));
