/**
 * The reward server under load: starts `llama-reward serve` as a child
 * process on a loopback port and, for 1, 8 and 32 concurrent clients on
 * keep-alive connections, sends a fixed list of one-conversation
 * POST /v1/score requests, measuring requests/s and p50/p99 latency. The
 * ceiling is the same conversations through scoreBatch in this process
 * (before the server starts, so the two never share the CPUs). Bounded by a
 * request count and a time cap per level. Random weights: only speed counts.
 */
import http from "node:http";
import type { ChatMessage } from "../../src/model/chat-template.js";
import { RewardModel } from "../../src/model/reward-model.js";
import { startServe } from "../../test/support/serve-process.js";
import { mixedConversations } from "./bench-conversations.js";
import { cpuBusyShare } from "./cpu-idle.js";

export interface ServerLoadJob {
    label: string;
    model: string;
    /** Requests per concurrency level (the conversation list is cycled). */
    requests: number;
    /** Conversation lengths, log-uniform in [min, max] tokens. */
    minTokens: number;
    maxTokens: number;
    /** Stop a level after this many seconds even if requests remain. */
    capSeconds: number;
}

/** What one load run measured: requests sent and failed, throughput and latency. */
export interface LoadFigures {
    requests: number;
    failed: number;
    seconds: number;
    requestsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
}

export interface LoadLevel extends LoadFigures {
    clients: number;
    /** Requests/s over the in-process scoreBatch conversations/s. */
    ratio: number;
    /** Share of the CPUs busy just before the level (others' load shows here). */
    cpuBusyBefore: number;
}

export interface ServerLoadResult {
    label: string;
    model: string;
    conversations: number;
    meanTokens: number;
    inProcess: { conversationsPerSecond: number; seconds: number };
    levels: LoadLevel[];
    /** Largest |server reward - scoreBatch reward| over the requests checked. */
    maxRewardDiff: number;
    /** Exit status of the server after SIGTERM (0 expected). */
    exitCode: number | null;
}

const levels = [1, 8, 32];

function percentile(sorted: number[], p: number): number {
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function postJson(agent: http.Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request(
            url,
            {
                method: "POST",
                agent,
                headers: { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)) },
            },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (d: string) => {
                    text += d;
                });
                res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
                res.on("error", reject);
            },
        );
        req.on("error", reject);
        req.end(body);
    });
}

/** `llama-reward serve` on a free port, once it prints its ready line (the model is loaded). */
async function startServer(model: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
    const served = await startServe(["--model", model, "--port", "0", "--max-queue", "4096"]);
    return {
        url: served.url,
        stop: () => {
            served.child.kill("SIGTERM");
            return served.exit;
        },
    };
}

/** One level: `clients` loops, each sending the next request when its previous one is answered. */
export async function runLevel(
    url: string,
    bodies: string[],
    expected: number[],
    clients: number,
    job: ServerLoadJob,
    diffs: number[],
): Promise<Omit<LoadLevel, "ratio" | "cpuBusyBefore">> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
    const target = new URL("/v1/score", url);
    // Warm-up, not counted: a few requests (connections and JIT), bounded so slow models do not pay a full round per level.
    await Promise.all(Array.from({ length: Math.min(clients, 4) }, (_, i) => postJson(agent, target, bodies[i % bodies.length]!)));
    const latencies: number[] = [];
    let next = 0;
    let failed = 0;
    const started = performance.now();
    const capAt = started + job.capSeconds * 1000;
    const worker = async (): Promise<void> => {
        while (next < job.requests && performance.now() < capAt) {
            const i = next++;
            const k = i % bodies.length;
            const t = performance.now();
            const reply = await postJson(agent, target, bodies[k]!);
            latencies.push(performance.now() - t);
            if (reply.status !== 200) {
                failed++;
                continue;
            }
            const reward = (JSON.parse(reply.text) as { rewards: number[] }).rewards[0]!;
            diffs.push(Math.abs(reward - expected[k]!));
        }
    };
    await Promise.all(Array.from({ length: clients }, worker));
    const seconds = (performance.now() - started) / 1000;
    agent.destroy();
    latencies.sort((a, b) => a - b);
    return {
        clients,
        requests: latencies.length,
        failed,
        seconds,
        requestsPerSecond: latencies.length / seconds,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
    };
}

/** The conversations of a job, their rewards and conversations/s through scoreBatch in this process (the ceiling). */
export interface InProcessCeiling {
    conversations: ChatMessage[][];
    expected: number[];
    meanTokens: number;
    inProcess: { conversationsPerSecond: number; seconds: number };
}

/** Scores the job's conversations with scoreBatch in this process, with the server's default load options. */
export async function inProcessCeiling(job: ServerLoadJob, log: (line: string) => void): Promise<InProcessCeiling> {
    const model = await RewardModel.load(job.model);
    try {
        const count = (m: ChatMessage[]) => model.tokenizeConversation(m).length;
        const conversations = mixedConversations(count, Math.min(job.requests, 64), job.minTokens, job.maxTokens, 0x5e_7e_01);
        const meanTokens = conversations.reduce((n, c) => n + count(c), 0) / conversations.length;
        await model.scoreBatch(conversations.slice(0, 8)); // warm-up
        log(`${job.label}: in-process scoreBatch on ${conversations.length} conversations (mean ${meanTokens.toFixed(0)} tokens)`);
        const t = performance.now();
        const expected = await model.scoreBatch(conversations);
        const seconds = (performance.now() - t) / 1000;
        return { conversations, expected, meanTokens, inProcess: { seconds, conversationsPerSecond: conversations.length / seconds } };
    } finally {
        await model.dispose();
    }
}

export async function runServerLoad(job: ServerLoadJob, log: (line: string) => void): Promise<ServerLoadResult> {
    // In-process ceiling first, with the server's default load options.
    const { conversations, expected, meanTokens, inProcess } = await inProcessCeiling(job, log);

    const bodies = conversations.map((messages) => JSON.stringify({ messages }));
    const server = await startServer(job.model);
    const results: LoadLevel[] = [];
    const diffs: number[] = [];
    let exitCode: number | null = null;
    try {
        for (const clients of levels) {
            const cpuBusyBefore = await cpuBusyShare(500);
            log(`${job.label}: ${clients} client(s), up to ${job.requests} requests or ${job.capSeconds} s`);
            const level = await runLevel(server.url, bodies, expected, clients, job, diffs);
            results.push({ ...level, ratio: level.requestsPerSecond / inProcess.conversationsPerSecond, cpuBusyBefore });
        }
    } finally {
        exitCode = await server.stop();
    }
    return {
        label: job.label,
        model: job.model,
        conversations: conversations.length,
        meanTokens,
        inProcess,
        levels: results,
        maxRewardDiff: diffs.length > 0 ? Math.max(...diffs) : NaN,
        exitCode,
    };
}

export function formatServerLoad(results: ServerLoadResult[]): string {
    const lines = ["Reward server under load (POST /v1/score, one conversation per request, keep-alive, loopback):"];
    for (const r of results) {
        lines.push(
            `  ${r.label}: ${r.conversations} conversations cycled, mean ${r.meanTokens.toFixed(0)} tokens; ` +
                `in-process scoreBatch ${r.inProcess.conversationsPerSecond.toFixed(1)} conv/s`,
        );
        lines.push("    clients  requests  req/s     p50 ms    p99 ms    ratio to in-process");
        for (const l of r.levels) {
            const busy = l.cpuBusyBefore > 0.15 ? `  (CPU ${(l.cpuBusyBefore * 100).toFixed(0)}% busy before)` : "";
            lines.push(
                `    ${String(l.clients).padStart(7)}  ${String(l.requests).padStart(8)}  ${l.requestsPerSecond.toFixed(1).padStart(8)}  ` +
                    `${l.p50Ms.toFixed(1).padStart(8)}  ${l.p99Ms.toFixed(1).padStart(8)}  ${l.ratio.toFixed(2).padStart(6)}×` +
                    `${l.failed > 0 ? `  ${l.failed} failed` : ""}${busy}`,
            );
        }
        lines.push(`    rewards vs scoreBatch: max |diff| ${r.maxRewardDiff.toExponential(1)}; server exit after SIGTERM: ${r.exitCode}`);
    }
    return lines.join("\n");
}
