/**
 * Investigation worker: llama-reward's scoreBatch throughput under several
 * load-option variants, measured in one process in interleaved rounds
 * (A B C … A B C …) so that drift in the machine's speed (shared, noisy
 * virtual CPUs) hits every variant alike. Each variant is its own
 * RewardModel on the same memory-mapped file.
 */
import type { ChatMessage } from "../../src/chat-template.js";
import type { LoadOptions } from "../../src/load-options.js";
import { RewardModel } from "../../src/reward-model.js";
import { mixedConversations } from "./bench-conversations.js";
import { startContentionMeter } from "./cpu-idle.js";
import { readJob, writeResult } from "./worker-protocol.js";

export interface SweepJob {
    model: string;
    resultPath: string;
    variants: Record<string, unknown>[];
    rounds: number;
    /** Every `stride`-th of the 64 mixed conversations is used. */
    stride: number;
}

export interface SweepVariantResult {
    options: Record<string, unknown>;
    /** tokens/s of each round, in order. */
    rounds: number[];
    tokensPerSecond: number;
    tokensPerDecode: number;
}

export interface SweepResult {
    conversations: number;
    tokens: number;
    variants: SweepVariantResult[];
    otherCpuShare: number;
}

async function main(): Promise<void> {
    const job = readJob<SweepJob>();
    const models: RewardModel[] = [];
    try {
        for (const options of job.variants) models.push(await RewardModel.load(job.model, options as LoadOptions));
        const first = models[0]!;
        const count = (m: ChatMessage[]): number => first.tokenizeConversation(m).length;
        const conversations = mixedConversations(count).filter((_, i) => i % job.stride === 0);
        const tokens = conversations.reduce((n, c) => n + count(c), 0);
        for (const model of models) await model.scoreBatch(conversations.slice(0, 1));   // warm-up
        const rates: number[][] = models.map(() => []);
        const steps: number[] = models.map(() => 0);
        const contention = startContentionMeter();
        for (let round = 0; round < job.rounds; round++) {
            for (const [i, model] of models.entries()) {
                const before = model.stats.steps;
                const t = performance.now();
                await model.scoreBatch(conversations);
                const rate = tokens / ((performance.now() - t) / 1000);
                rates[i]!.push(rate);
                steps[i]! += model.stats.steps - before;
                process.stderr.write(`sweep round ${round + 1}/${job.rounds}: ${JSON.stringify(job.variants[i])} ${rate.toFixed(1)} tok/s\n`);
            }
        }
        const result: SweepResult = {
            conversations: conversations.length,
            tokens,
            variants: job.variants.map((options, i) => ({
                options,
                rounds: rates[i]!,
                tokensPerSecond: rates[i]!.reduce((a, b) => a + b, 0) / rates[i]!.length,
                tokensPerDecode: (tokens * job.rounds) / steps[i]!,
            })),
            otherCpuShare: contention(),
        };
        writeResult(job.resultPath, result);
    } finally {
        for (const model of models) await model.dispose();
    }
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
