/**
 * Benchmark worker for the peer, node-llama-cpp 3.21.1's LlamaEmbeddingContext
 * on its prebuilt CPU binary (no build, no download). It loads the head-less
 * copy (LAST pooling), feeds each conversation as the exact token array
 * llama-reward evaluates, one getEmbeddingFor call at a time (that API scores
 * one sequence per call), and applies the F32 reward head in JS to the raw,
 * unnormalized embedding it returns.
 */
import fs from "node:fs";
import path from "node:path";
import { LlamaLogLevel, getLlama, type Token } from "node-llama-cpp";
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { readTensorAsFloat64 } from "../../src/gguf/gguf-tensor-reader.js";
import { root } from "./bench-paths.js";
import { startContentionMeter } from "./cpu-idle.js";
import { ProgressBar } from "../../src/cli/progress-bar.js";
import { maxRssBytes, readJob, timed, writeResult, type PeerJob, type PeerResult, type WorkloadTokens } from "./worker-protocol.js";

/** Enough for the longest conversation (~1000 tokens); getEmbeddingFor needs length < contextSize. */
const CONTEXT_SIZE = 2048;

async function main(): Promise<void> {
    const job = readJob<PeerJob>();
    const workload = JSON.parse(fs.readFileSync(job.tokensPath, "utf8")) as WorkloadTokens;
    const head = readTensorAsFloat64(job.reward, readGgufHeader(job.reward), "cls.output.weight");
    const reward = (vector: readonly number[]): number => {
        let s = 0;
        for (let i = 0; i < head.length; i++) s += head[i]! * vector[i]!;
        return s;
    };

    const t0 = performance.now();
    const llama = await getLlama({
        gpu: false,
        build: "never",
        skipDownload: true,
        progressLogs: false,
        logLevel: LlamaLogLevel.error,
        maxThreads: job.threads,
    });
    const model = await llama.loadModel({ modelPath: job.headless, gpuLayers: 0 });
    const context = await model.createEmbeddingContext({ contextSize: CONTEXT_SIZE, threads: job.threads });
    const loadSeconds = (performance.now() - t0) / 1000;
    try {
        const lists = workload.conversations;
        const tokensPassedUnchanged = lists.every((l) => context.calculateInputLength(l as Token[]) === l.length);
        // Warm-up, as for llama-reward.
        await context.getEmbeddingFor(lists[workload.shortIndices[0] ?? 0] as Token[]);

        const contention = startContentionMeter();
        const perCall: number[] = [];
        const rewards: number[] = [];
        let embeddingNorm = 0;
        const progress = new ProgressBar("node-llama-cpp getEmbeddingFor, one conversation per call", lists.length, {
            plainLines: true,
        });
        for (const list of lists) {
            progress.update(perCall.length);
            const t = performance.now();
            const embedding = await context.getEmbeddingFor(list as Token[]);
            perCall.push((performance.now() - t) / 1000);
            rewards.push(reward(embedding.vector));
            if (rewards.length === 1) embeddingNorm = Math.hypot(...embedding.vector);
        }
        progress.finish(`${lists.length} conversations`);
        // As for llama-reward, the short ones run a second time and each call's faster time counts.
        const firstPass = perCall.slice();
        for (const i of workload.shortIndices) {
            const t = performance.now();
            await context.getEmbeddingFor(lists[i] as Token[]);
            perCall[i] = Math.min(perCall[i]!, (performance.now() - t) / 1000);
        }
        const subset = (idx: number[], times = perCall) => ({
            ...timed(
                idx.reduce((n, i) => n + lists[i]!.length, 0),
                idx.reduce((s, i) => s + times[i]!, 0),
            ),
            conversations: idx.length,
        });
        const all = lists.map((_, i) => i);
        // LlamaEmbeddingContext keeps its LlamaContext private; read its settings for the report.
        const inner = (context as unknown as { _llamaContext: { batchSize: number; flashAttention: unknown } })._llamaContext;
        const result: PeerResult = {
            loadSeconds,
            version: JSON.parse(fs.readFileSync(path.join(root, "node_modules", "node-llama-cpp", "package.json"), "utf8")).version,
            contextSize: CONTEXT_SIZE,
            batchSize: inner.batchSize,
            flashAttention: String(inner.flashAttention),
            mixed: subset(all, firstPass),
            short: subset(workload.shortIndices),
            long: subset(workload.longIndices),
            rewards,
            embeddingNorm,
            tokensPassedUnchanged,
            maxRssBytes: maxRssBytes(),
            otherCpuShare: contention(),
        };
        writeResult(job.resultPath, result);
    } finally {
        await context.dispose();
        await model.dispose();
        await llama.dispose();
    }
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
