/**
 * Runs in a worker thread or a child process for the worker and exit tests
 * (compiled to dist/ by `npm test`'s tsc). Modes:
 *   score      load, score the given conversations, post the rewards, dispose
 *   endless    load, post "busy" once decoding, keep big batches in flight forever
 *   exit-busy  (child process) load, start scores, process.exit(0) with them in flight and no dispose()
 *   exit-idle  (child process) load, score once, return without dispose()
 *   worker-exit (child process) start an "endless" worker, then process.exit(0) while it decodes
 */
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { fileURLToPath } from "node:url";

import { RewardModel, type ChatMessage } from "../../src/index.js";

interface Job {
    mode: "score" | "endless" | "exit-busy" | "exit-idle" | "worker-exit";
    model: string;
    conversations?: ChatMessage[][];
}

const long: ChatMessage[] = [
    { role: "user", content: "tell me everything ".repeat(120) },
    { role: "assistant", content: "here it is ".repeat(60) },
];

async function run(job: Job, post: (message: unknown) => void): Promise<void> {
    if (job.mode === "worker-exit") {
        const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { ...job, mode: "endless" } });
        worker.on("message", (m) => {
            if (m === "busy") process.exit(0);
        });
        return;
    }
    const model = await RewardModel.load(job.model, { contextSize: 1024, parallel: 4, threads: 1, reproducible: true });
    if (job.mode === "score") {
        const rewards: number[] = [];
        for (let round = 0; round < 3; round++) rewards.push(...(await model.scoreBatch(job.conversations ?? [])));
        await model.dispose();
        post({ rewards });
        return;
    }
    if (job.mode === "exit-idle") {
        post({ reward: await model.score(long) });
        return; // no dispose(): the process exits with the model alive
    }
    if (job.mode === "exit-busy") {
        const inFlight = Array.from({ length: 16 }, () => model.score(long));
        void Promise.allSettled(inFlight);
        setTimeout(() => process.exit(0), 30); // mid-decode, without dispose()
        return;
    }
    // endless: keep decoding until terminated
    let first = true;
    for (;;) {
        const batch = model.scoreBatch([long, long, long, long]);
        if (first) {
            setTimeout(() => post("busy"), 10);
            first = false;
        }
        await batch;
    }
}

if (!isMainThread && parentPort) {
    const port = parentPort;
    await run(workerData as Job, (m) => port.postMessage(m));
} else if (isMainThread && process.argv[2] !== undefined) {
    await run(JSON.parse(process.argv[2]) as Job, (m) => process.stdout.write(`${JSON.stringify(m)}\n`));
}
