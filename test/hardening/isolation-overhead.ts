/**
 * `node dist/test/hardening/isolation-overhead.js [--model PATH] [--rounds N]`:
 * what the isolated mode costs on one model, in-process against isolated,
 * both loaded at once and measured alternately: load time, the throughput of
 * a scoreBatch of 64 short conversations (median of the rounds), and the
 * latency of single score() calls one after another. `--threads N` (default 1:
 * the engine and this process then hold one core each while the other idles). Prints a Markdown table (docs/model-validation.md
 * quotes it) with the CPU model.
 */
import * as os from "node:os";
import { performance } from "node:perf_hooks";

import { RewardModel, type ChatMessage, type IsolatedRewardModel, type LoadOptions } from "../../src/index.js";
import { filler, tinyF32 } from "../support/fixtures.js";

function arg(name: string, fallback: string): string {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const model = arg("model", tinyF32);
const rounds = Number(arg("rounds", "10"));
const singles = Number(arg("singles", "100"));
const options: LoadOptions = { contextSize: 4096, parallel: 8, threads: Number(arg("threads", "1")) };

const batch: ChatMessage[][] = Array.from({ length: 64 }, (_, i) => [
    { role: "user", content: `Question ${i}: ${filler(12, i + 1)}` },
    { role: "assistant", content: filler(16, i + 500) },
]);

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
}

function quantile(xs: number[], q: number): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

interface Figures {
    loadMs: number;
    batchPerSecond: number;
    singleMedianMs: number;
    singleP90Ms: number;
}

type AnyModel = RewardModel | IsolatedRewardModel;

async function timed<T>(fn: () => Promise<T>): Promise<number> {
    const t = performance.now();
    await fn();
    return performance.now() - t;
}

// both models loaded, then every measurement alternates between them (which goes first alternates too),
// so load on the machine from anything else hits both alike
const loads: number[] = [];
let local: AnyModel | undefined;
let isolatedModel: AnyModel | undefined;
loads.push(
    await timed(async () => {
        local = await RewardModel.load(model, options);
    }),
);
loads.push(
    await timed(async () => {
        isolatedModel = await RewardModel.load(model, { ...options, isolate: true });
    }),
);
const models = [local!, isolatedModel!] as const;
const batchMs: [number[], number[]] = [[], []];
const singleMs: [number[], number[]] = [[], []];
try {
    for (const m of models) await m.scoreBatch(batch); // warm-up
    for (let r = 0; r < rounds; r++) {
        for (const k of r % 2 === 0 ? [0, 1] : [1, 0]) batchMs[k]!.push(await timed(() => models[k]!.scoreBatch(batch)));
    }
    for (let i = 0; i < singles; i++) {
        for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) singleMs[k]!.push(await timed(() => models[k]!.score(batch[i % batch.length]!)));
    }
} finally {
    for (const m of models) await m.dispose();
}
const figures = (k: 0 | 1): Figures => ({
    loadMs: loads[k]!,
    batchPerSecond: batch.length / (median(batchMs[k]) / 1000),
    singleMedianMs: median(singleMs[k]),
    singleP90Ms: quantile(singleMs[k], 0.9),
});
const inProcess = figures(0);
const isolated = figures(1);
const cpu = os.cpus()[0]?.model ?? "unknown CPU";
const f = (x: number, d = 1) => x.toFixed(d);
console.log(`${model}, ${os.cpus().length} CPUs (${cpu}), threads ${options.threads}, ${rounds} batch rounds, ${singles} single calls\n`);
console.log("| | in-process | isolated | isolated / in-process |");
console.log("|---|---|---|---|");
console.log(`| load (ms) | ${f(inProcess.loadMs, 0)} | ${f(isolated.loadMs, 0)} | ${f(isolated.loadMs / inProcess.loadMs, 2)} |`);
console.log(
    `| scoreBatch of 64 (conversations/s, median) | ${f(inProcess.batchPerSecond)} | ${f(isolated.batchPerSecond)} | ${f(isolated.batchPerSecond / inProcess.batchPerSecond, 2)} |`,
);
console.log(
    `| score() latency, median (ms) | ${f(inProcess.singleMedianMs, 2)} | ${f(isolated.singleMedianMs, 2)} | ${f(isolated.singleMedianMs / inProcess.singleMedianMs, 2)} |`,
);
console.log(
    `| score() latency, p90 (ms) | ${f(inProcess.singleP90Ms, 2)} | ${f(isolated.singleP90Ms, 2)} | ${f(isolated.singleP90Ms / inProcess.singleP90Ms, 2)} |`,
);
