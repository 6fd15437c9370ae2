/**
 * What the orchestrator and its worker processes exchange: each worker runs
 * in its own process (so its peak RSS is its own, and two copies of llama.cpp
 * never share one process), reads its job from argv[2] as JSON and writes its
 * result as JSON to the job's resultPath.
 */
import fs from "node:fs";

export interface TimedRun {
    tokens: number;
    seconds: number;
    tokensPerSecond: number;
}

export interface WorkloadTokens {
    /** The 64 mixed conversations exactly as llama-reward tokenizes them. */
    conversations: number[][];
    shortIndices: number[];
    longIndices: number[];
}

export interface OursJob {
    model: string;
    tokensPath: string;
    resultPath: string;
}

export interface OursResult {
    loadSeconds: number;
    options: Record<string, unknown>;
    info: {
        contextSize: number;
        fileType: string;
        sizeBytes: number;
        layerCount: number;
        kvHeadCount: number;
        headCount: number;
        embeddingSize: number;
    };
    mixed: TimedRun & { steps: number; conversations: number };
    short: TimedRun & { conversations: number };
    long: TimedRun & { conversations: number };
    rewards: number[];
    bestOf: {
        promptTokens: number;
        answerTokens: number[];
        scoreResponses: TimedRun;
        naiveSequential: TimedRun;
        scoreBatch: TimedRun;
        maxDiff: number;
    };
    maxRssBytes: number;
    /** Resident memory after the timed runs, anonymous (buffers, repacked weights) and file-backed (mapped weights); Linux only. */
    residentAfter?: { anonBytes: number; fileBytes: number };
    fileBytes: number;
    /** Share of all CPUs other processes used during the timed part (should be ~0). */
    otherCpuShare: number;
}

export interface PeerJob {
    headless: string;
    reward: string;
    tokensPath: string;
    resultPath: string;
    threads: number;
}

export interface PeerResult {
    loadSeconds: number;
    version: string;
    contextSize: number;
    batchSize: number;
    mixed: TimedRun;
    short: TimedRun & { conversations: number };
    long: TimedRun & { conversations: number };
    rewards: number[];
    /** |embedding| of the first conversation: far from 1, so the vector is not normalized. */
    embeddingNorm: number;
    tokensPassedUnchanged: boolean;
    flashAttention: string;
    maxRssBytes: number;
    otherCpuShare: number;
}

export function readJob<T>(): T {
    const raw = process.argv[2];
    if (raw === undefined) throw new Error("this is a benchmark worker; run `npm run bench` instead");
    return JSON.parse(raw) as T;
}

export function writeResult(path: string, result: unknown): void {
    fs.writeFileSync(path, JSON.stringify(result));
}

export function timed(tokens: number, seconds: number): TimedRun {
    return { tokens, seconds, tokensPerSecond: tokens / seconds };
}

export function maxRssBytes(): number {
    return process.resourceUsage().maxRSS * 1024;
}

/** RssAnon and RssFile of this process from /proc/self/status, or undefined off Linux. */
export function residentMemory(): { anonBytes: number; fileBytes: number } | undefined {
    try {
        const status = fs.readFileSync("/proc/self/status", "utf8");
        const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
        const out = { anonBytes: kib("RssAnon"), fileBytes: kib("RssFile") };
        return Number.isFinite(out.anonBytes) && Number.isFinite(out.fileBytes) ? out : undefined;
    } catch {
        return undefined;
    }
}
