/**
 * `node dist/test/hardening/isolation-overhead.js [--model PATH] [--rounds N]`:
 * what the isolated mode costs on one model, in-process against isolated,
 * measured alternately in the same run: load time, the throughput of a
 * scoreBatch of 64 short conversations, and the latency of single score()
 * calls one after another. Prints a Markdown table (docs/model-validation.md
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
const rounds = Number(arg("rounds", "5"));
const singles = Number(arg("singles", "50"));
const options: LoadOptions = { contextSize: 4096, parallel: 8, threads: 2 };

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

async function measure(isolate: boolean): Promise<Figures> {
    const t0 = performance.now();
    const m: RewardModel | IsolatedRewardModel = isolate
        ? await RewardModel.load(model, { ...options, isolate: true })
        : await RewardModel.load(model, options);
    const loadMs = performance.now() - t0;
    try {
        await m.scoreBatch(batch); // warm-up
        const rates: number[] = [];
        for (let r = 0; r < rounds; r++) {
            const t = performance.now();
            await m.scoreBatch(batch);
            rates.push(batch.length / ((performance.now() - t) / 1000));
        }
        const latencies: number[] = [];
        for (let i = 0; i < singles; i++) {
            const t = performance.now();
            await m.score(batch[i % batch.length]!);
            latencies.push(performance.now() - t);
        }
        return { loadMs, batchPerSecond: median(rates), singleMedianMs: median(latencies), singleP90Ms: quantile(latencies, 0.9) };
    } finally {
        await m.dispose();
    }
}

const inProcess = await measure(false);
const isolated = await measure(true);
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
