/**
 * Investigation worker: llama-reward's scoreBatch throughput under several
 * load-option variants, measured in one process in interleaved rounds
 * (A B C … A B C …) so that drift in the machine's speed (shared, noisy
 * virtual CPUs) hits every variant alike. One model is loaded at a time
 * (the CPU backend may repack weights into memory of its own).
 */
import type { ChatMessage } from "../../src/model/chat-template.js";
import type { LoadOptions } from "../../src/model/load-options.js";
import { RewardModel } from "../../src/model/reward-model.js";
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
    /** Token count of each conversation used. */
    lengths: number[];
    variants: SweepVariantResult[];
    otherCpuShare: number;
}

async function measure(
    path: string,
    options: Record<string, unknown>,
    pick: (count: (m: ChatMessage[]) => number) => ChatMessage[][],
): Promise<{ lengths: number[]; tokens: number; rate: number; steps: number }> {
    const model = await RewardModel.load(path, options as LoadOptions);
    try {
        const count = (m: ChatMessage[]): number => model.tokenizeConversation(m).length;
        const conversations = pick(count);
        const tokens = conversations.reduce((n, c) => n + count(c), 0);
        await model.scoreBatch(conversations.slice(0, 1)); // warm-up
        const before = model.stats.steps;
        const t = performance.now();
        await model.scoreBatch(conversations);
        const rate = tokens / ((performance.now() - t) / 1000);
        return { lengths: conversations.map(count), tokens, rate, steps: model.stats.steps - before };
    } finally {
        await model.dispose();
    }
}

async function main(): Promise<void> {
    const job = readJob<SweepJob>();
    const pick = (count: (m: ChatMessage[]) => number): ChatMessage[][] => mixedConversations(count).filter((_, i) => i % job.stride === 0);
    const rates: number[][] = job.variants.map(() => []);
    const steps: number[] = job.variants.map(() => 0);
    let lengths: number[] = [];
    let tokens = 0;
    const contention = startContentionMeter();
    for (let round = 0; round < job.rounds; round++) {
        for (const [i, options] of job.variants.entries()) {
            const m = await measure(job.model, options, pick);
            lengths = m.lengths;
            tokens = m.tokens;
            rates[i]!.push(m.rate);
            steps[i]! += m.steps;
            process.stderr.write(`sweep round ${round + 1}/${job.rounds}: ${JSON.stringify(options)} ${m.rate.toFixed(1)} tok/s\n`);
        }
    }
    const result: SweepResult = {
        conversations: lengths.length,
        tokens,
        lengths,
        variants: job.variants.map((options, i) => ({
            options,
            rounds: rates[i]!,
            tokensPerSecond: rates[i]!.reduce((a, b) => a + b, 0) / rates[i]!.length,
            tokensPerDecode: (tokens * job.rounds) / steps[i]!,
        })),
        otherCpuShare: contention(),
    };
    writeResult(job.resultPath, result);
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
