/**
 * The reward server under load against its in-process peer. Starts
 * `llama-reward serve` as a child process on a loopback port and loads the
 * same model, with the same options, in this process; then, for 1, 8 and 32
 * clients, alternates in-process and server runs (ABBA over several rounds,
 * so the noise of a shared machine hits both sides) of the same workload:
 * `clients` closed loops over one shared list of conversations, each loop
 * scoring its next conversation when its previous one is answered: in this
 * process with `model.score()`, against the server with one-conversation
 * POST /v1/score requests on keep-alive connections (load-client.ts); only
 * answers inside a window after a warm-up count. A level reports the
 * server's median requests/s over the in-process median, and the rounds'
 * own ratios (median, range, pooled). Each run also records its decode steps
 * and tokens per step, the CPU time per request of the JS thread that
 * renders, tokenizes and schedules (this process's, or the server's), of the
 * server process and of the load generator, and the CPU the rest of the
 * machine took meanwhile. The same conversations through one scoreBatch call
 * give the ceiling. Random weights: only speed counts, and every reward is
 * checked against scoreBatch.
 */
import os from "node:os";
import type { ChatMessage } from "../../src/model/chat-template.js";
import { type LoadOptions, RewardModel } from "../../src/model/reward-model.js";
import { startServe, type ServeProcess } from "../../test/support/serve-process.js";
import { mixedConversations } from "./bench-conversations.js";
import { type ClosedLoopFigures, closedLoop, closedLoopWindow, LoadConnection, postRequestBytes } from "./load-client.js";
import { machineBusySeconds, processCpuSeconds, threadCpuSeconds } from "./process-cpu.js";

export interface ServerLoadJob {
    label: string;
    model: string;
    /** Requests per run of runLevel (the replica bench); the conversations are the first min(requests, 64) of the list. */
    requests: number;
    /** Conversation lengths, log-uniform in [min, max] tokens. */
    minTokens: number;
    maxTokens: number;
    /** runLevel stops a run after this many seconds even if requests remain. */
    capSeconds: number;
    /** In-process/server pairs of runs per level (default 6). */
    rounds?: number;
    /** Seconds of each run that count (default 4), after warmSeconds (default 1) filling the pipeline. */
    windowSeconds?: number;
    warmSeconds?: number;
    /** --threads of both sides (default: the model's default, every core). */
    threads?: number;
}

/** What one load run measured: requests sent and failed, throughput and latency. */
export type LoadFigures = ClosedLoopFigures;

/** One run of one side, with what it cost. */
export interface RunFigures extends LoadFigures {
    /** Decode steps of the run, and tokens decoded per step. */
    steps: number;
    tokensPerStep: number;
    /** CPU ms per request of the JS thread that renders, tokenizes, schedules (and for the server, does HTTP). */
    jsThreadMsPerRequest: number;
    /** CPU ms per request of the scoring process, every thread (this process in-process, the server's otherwise). */
    processMsPerRequest: number;
    /** CPU ms per request of the load generator (server runs only; in-process it is the scoring process). */
    clientMsPerRequest?: number;
    /** Cores the rest of the machine kept busy during the run. */
    otherCores: number;
    /** The 1-minute load average when the run started. */
    loadAverage: number;
}

export interface LoadRound {
    inProcess: RunFigures;
    server: RunFigures;
    /** Server requests/s over in-process calls/s. */
    ratio: number;
}

export interface LoadLevel {
    clients: number;
    rounds: LoadRound[];
    /**
     * The median server requests/s over the median in-process calls/s (the headline: a quiet or a stalled window
     * on one side moves it least); the median, smallest and largest ratio of a round; and the pooled one: every
     * server request of the level's windows over every in-process call of them (the windows are equally long).
     */
    ratio: { ofMedians: number; median: number; min: number; max: number; pooled: number };
    /** The median server requests/s over the scoreBatch ceiling. */
    ratioToScoreBatch: number;
}

export interface ServerLoadResult {
    label: string;
    model: string;
    threads: number;
    conversations: number;
    meanTokens: number;
    /** The same conversations through one scoreBatch call, before the levels and after them. */
    scoreBatch: { conversationsPerSecond: number; seconds: number }[];
    levels: LoadLevel[];
    /** Largest |reward - scoreBatch reward| of the in-process calls and of the server's replies. */
    maxRewardDiff: { inProcess: number; server: number };
    /** Exit status of the server after SIGTERM (0 expected). */
    exitCode: number | null;
}

const levels = [1, 8, 32];

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The job's conversations (deterministic) and their mean token count under `model`'s template. */
function workload(model: RewardModel, job: ServerLoadJob): { conversations: ChatMessage[][]; meanTokens: number } {
    const count = (m: ChatMessage[]) => model.tokenizeConversation(m).length;
    const conversations = mixedConversations(count, Math.min(job.requests, 64), job.minTokens, job.maxTokens, 0x5e_7e_01);
    return { conversations, meanTokens: conversations.reduce((n, c) => n + count(c), 0) / conversations.length };
}

async function timeScoreBatch(model: RewardModel, conversations: ChatMessage[][]): Promise<{ expected: number[]; seconds: number }> {
    const t = performance.now();
    const expected = await model.scoreBatch(conversations);
    return { expected, seconds: (performance.now() - t) / 1000 };
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
    const model = await RewardModel.load(job.model, loadOptions(job));
    try {
        const { conversations, meanTokens } = workload(model, job);
        await model.scoreBatch(conversations.slice(0, 8)); // warm-up
        log(`${job.label}: in-process scoreBatch on ${conversations.length} conversations (mean ${meanTokens.toFixed(0)} tokens)`);
        const { expected, seconds } = await timeScoreBatch(model, conversations);
        return { conversations, expected, meanTokens, inProcess: { seconds, conversationsPerSecond: conversations.length / seconds } };
    } finally {
        await model.dispose();
    }
}

function loadOptions(job: ServerLoadJob): LoadOptions {
    return job.threads === undefined ? {} : { threads: job.threads };
}

/** Reads a counter of the server's /metrics. */
async function serverCounters(url: string): Promise<{ steps: number; tokens: number }> {
    const connection = new LoadConnection(new URL(url));
    try {
        const reply = await connection.send(Buffer.from(`GET /metrics HTTP/1.1\r\nHost: ${new URL(url).host}\r\n\r\n`, "latin1"));
        const text = reply.body.toString("utf8");
        const counter = (name: string) => {
            const match = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
            if (!match) throw new Error(`the server's /metrics has no ${name}`);
            return Number(match[1]);
        };
        return { steps: counter("llama_reward_decode_steps_total"), tokens: counter("llama_reward_tokens_total") };
    } finally {
        connection.close();
    }
}

/** CPU and step counters at one moment, to subtract. */
interface Counters {
    steps: number;
    tokens: number;
    ownCpu: number;
    ownJs: number;
    serverCpu: number;
    serverJs: number;
    machine: number;
}

/** The side that scores: this process's model, or the server behind `connections`. */
interface Side {
    name: "in-process" | "server";
    /** Opens what a run needs (the server's connections: fresh ones, since the server closes idle ones). */
    open(clients: number): Promise<void>;
    close(): void;
    send(client: number, index: number): Promise<boolean>;
    counters(): Promise<{ steps: number; tokens: number }>;
}

async function measureRun(side: Side, clients: number, job: ServerLoadJob, server: ServeProcess): Promise<RunFigures> {
    const serverPid = server.child.pid!;
    const read = async (): Promise<Counters> => {
        const { steps, tokens } = await side.counters();
        const own = process.cpuUsage();
        return {
            steps,
            tokens,
            ownCpu: (own.user + own.system) / 1e6,
            ownJs: threadCpuSeconds(process.pid) ?? Number.NaN,
            serverCpu: processCpuSeconds(serverPid) ?? Number.NaN,
            serverJs: threadCpuSeconds(serverPid) ?? Number.NaN,
            machine: machineBusySeconds() ?? Number.NaN,
        };
    };
    await side.open(clients);
    const loadAverage = os.loadavg()[0]!;
    const before = await read();
    const started = performance.now();
    const { answered, ...figures } = await closedLoopWindow(clients, job.warmSeconds ?? 1, job.windowSeconds ?? 4, (client, index) =>
        side.send(client, index),
    );
    const elapsed = (performance.now() - started) / 1000;
    const after = await read();
    const d = (key: keyof Counters) => after[key] - before[key];
    // CPU over the whole run (warm-up and drain included) per request answered in it
    const perRequest = (seconds: number) => (seconds * 1000) / Math.max(1, answered);
    const inProcess = side.name === "in-process";
    return {
        ...figures,
        steps: d("steps"),
        tokensPerStep: d("tokens") / Math.max(1, d("steps")),
        jsThreadMsPerRequest: perRequest(inProcess ? d("ownJs") : d("serverJs")),
        processMsPerRequest: perRequest(inProcess ? d("ownCpu") : d("serverCpu")),
        ...(inProcess ? {} : { clientMsPerRequest: perRequest(d("ownCpu")) }),
        otherCores: (d("machine") - d("ownCpu") - d("serverCpu")) / elapsed,
        loadAverage,
    };
}

export async function runServerLoad(job: ServerLoadJob, log: (line: string) => void): Promise<ServerLoadResult> {
    const rounds = job.rounds ?? 6;
    const model = await RewardModel.load(job.model, loadOptions(job));
    const diffs = { inProcess: 0, server: 0 };
    let server: ServeProcess | undefined;
    try {
        const { conversations, meanTokens } = workload(model, job);
        await model.scoreBatch(conversations.slice(0, 8)); // warm-up
        log(`${job.label}: in-process scoreBatch on ${conversations.length} conversations (mean ${meanTokens.toFixed(0)} tokens)`);
        const first = await timeScoreBatch(model, conversations);
        const expected = first.expected;
        const threads = model.options.threads;
        server = await startServe(["--model", job.model, "--port", "0", "--max-queue", "4096", "--threads", String(threads)]);
        const url = server.url;
        const requests = conversations.map((messages) => postRequestBytes(new URL("/v1/score", url), JSON.stringify({ messages })));
        let connections: LoadConnection[] = [];
        const inProcessSide: Side = {
            name: "in-process",
            open: async () => undefined,
            close: () => undefined,
            send: async (_client, index) => {
                const k = index % conversations.length;
                const reward = await model.score(conversations[k]!);
                diffs.inProcess = Math.max(diffs.inProcess, Math.abs(reward - expected[k]!));
                return true;
            },
            counters: async () => model.stats,
        };
        const serverSide: Side = {
            name: "server",
            open: async (clients) => {
                for (const c of connections) c.close();
                connections = Array.from({ length: clients }, () => new LoadConnection(new URL(url)));
            },
            close: () => {
                for (const c of connections) c.close();
            },
            send: async (client, index) => {
                const k = index % conversations.length;
                const reply = await connections[client]!.send(requests[k]!);
                if (reply.status !== 200) return false;
                const reward = (JSON.parse(reply.body.toString("utf8")) as { rewards: number[] }).rewards[0]!;
                diffs.server = Math.max(diffs.server, Math.abs(reward - expected[k]!));
                return true;
            },
            counters: () => serverCounters(url),
        };
        const results: LoadLevel[] = [];
        for (const clients of levels) {
            log(`${job.label}: ${clients} client(s), ${rounds} rounds of an in-process and a server run`);
            const done: LoadRound[] = [];
            for (let r = 0; r < rounds; r++) {
                // ABBA: the side that runs first alternates, so a drifting load favours neither.
                const order = r % 2 === 0 ? [inProcessSide, serverSide] : [serverSide, inProcessSide];
                const figures: Partial<Record<Side["name"], RunFigures>> = {};
                for (const side of order) figures[side.name] = await measureRun(side, clients, job, server);
                const inProcess = figures["in-process"]!;
                const served = figures.server!;
                done.push({ inProcess, server: served, ratio: served.requestsPerSecond / inProcess.requestsPerSecond });
                log(
                    `  round ${r + 1}: in-process ${inProcess.requestsPerSecond.toFixed(1)}/s, server ${served.requestsPerSecond.toFixed(1)}/s ` +
                        `(${(served.requestsPerSecond / inProcess.requestsPerSecond).toFixed(2)}×), load ${inProcess.loadAverage.toFixed(1)}`,
                );
            }
            serverSide.close();
            const ratios = done.map((d) => d.ratio);
            results.push({
                clients,
                rounds: done,
                ratio: {
                    ofMedians: median(done.map((d) => d.server.requestsPerSecond)) / median(done.map((d) => d.inProcess.requestsPerSecond)),
                    median: median(ratios),
                    min: Math.min(...ratios),
                    max: Math.max(...ratios),
                    pooled: done.reduce((n, d) => n + d.server.requests, 0) / done.reduce((n, d) => n + d.inProcess.requests, 0),
                },
                ratioToScoreBatch: median(done.map((d) => d.server.requestsPerSecond)) / (conversations.length / first.seconds),
            });
        }
        const last = await timeScoreBatch(model, conversations);
        return {
            label: job.label,
            model: job.model,
            threads,
            conversations: conversations.length,
            meanTokens,
            scoreBatch: [first, last].map(({ seconds }) => ({ seconds, conversationsPerSecond: conversations.length / seconds })),
            levels: results,
            maxRewardDiff: diffs,
            exitCode: await stop(server),
        };
    } finally {
        if (server && server.child.exitCode === null) await stop(server);
        await model.dispose();
    }
}

function stop(server: ServeProcess): Promise<number | null> {
    server.child.kill("SIGTERM");
    return server.exit;
}

/**
 * One level through a load balancer or server at `url`: `clients` keep-alive connections sending
 * one-conversation POST /v1/score requests (the replica bench); each reward's distance to `expected` goes to `diffs`.
 */
export async function runLevel(
    url: string,
    bodies: string[],
    expected: number[],
    clients: number,
    job: ServerLoadJob,
    diffs: number[],
): Promise<LoadFigures & { clients: number }> {
    const target = new URL("/v1/score", url);
    const requests = bodies.map((body) => postRequestBytes(target, body));
    const connections = Array.from({ length: clients }, () => new LoadConnection(target));
    const send = async (client: number, index: number): Promise<boolean> => {
        const k = index % requests.length;
        let reply: Awaited<ReturnType<LoadConnection["send"]>>;
        try {
            reply = await connections[client]!.send(requests[k]!);
        } catch {
            connections[client]!.close();
            connections[client] = new LoadConnection(target); // a dropped connection: reconnect for the next request
            return false;
        }
        if (reply.status !== 200) return false;
        diffs.push(Math.abs((JSON.parse(reply.body.toString("utf8")) as { rewards: number[] }).rewards[0]! - expected[k]!));
        return true;
    };
    try {
        // Warm-up, not counted: a few requests (connections and JIT), bounded so slow models do not pay a full round per level.
        await closedLoop(Math.min(clients, 4), Math.min(clients, 4), job.capSeconds, send);
        return { clients, ...(await closedLoop(clients, job.requests, job.capSeconds, send)) };
    } finally {
        for (const c of connections) c.close();
    }
}

const fixed = (value: number, width: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "-").padStart(width);

export function formatServerLoad(results: ServerLoadResult[]): string {
    const lines = [
        "Reward server under load against in-process score() (POST /v1/score, one conversation per request, keep-alive, loopback;",
        "N clients against N concurrent in-process callers, interleaved rounds):",
    ];
    for (const r of results) {
        const batch = r.scoreBatch.map((b) => b.conversationsPerSecond.toFixed(1)).join(" / ");
        lines.push(
            `  ${r.label}, ${r.threads} threads: ${r.conversations} conversations cycled, mean ${r.meanTokens.toFixed(0)} tokens; ` +
                `scoreBatch of all ${batch} conv/s (before / after)`,
        );
        lines.push(
            "    clients  side        req/s     p50 ms    p99 ms  tok/step  JS ms/req  proc ms/req  client ms/req  other cores  load",
        );
        for (const l of r.levels) {
            for (const [i, round] of l.rounds.entries()) {
                for (const [side, f] of [
                    ["in-process", round.inProcess],
                    ["server", round.server],
                ] as const) {
                    lines.push(
                        `    ${(i === 0 && side === "in-process" ? String(l.clients) : "").padStart(7)}  ${side.padEnd(10)}  ${fixed(f.requestsPerSecond, 7)}  ` +
                            `${fixed(f.p50Ms, 8)}  ${fixed(f.p99Ms, 8)}  ${fixed(f.tokensPerStep, 8, 0)}  ${fixed(f.jsThreadMsPerRequest, 9, 2)}  ` +
                            `${fixed(f.processMsPerRequest, 11, 2)}  ${fixed(f.clientMsPerRequest ?? Number.NaN, 13, 2)}  ${fixed(f.otherCores, 11, 2)}  ` +
                            `${fixed(f.loadAverage, 4)}${f.failed > 0 ? `  ${f.failed} failed` : ""}`,
                    );
                }
            }
            lines.push(
                `           server / in-process: ${l.ratio.ofMedians.toFixed(2)}× (median rates); per round median ${l.ratio.median.toFixed(2)}×, ` +
                    `${l.ratio.min.toFixed(2)}–${l.ratio.max.toFixed(2)}× over ${l.rounds.length} rounds; pooled ${l.ratio.pooled.toFixed(2)}×; ` +
                    `server / scoreBatch ${l.ratioToScoreBatch.toFixed(2)}×`,
            );
        }
        lines.push(
            `    rewards vs scoreBatch: max |diff| in-process ${r.maxRewardDiff.inProcess.toExponential(1)}, server ` +
                `${r.maxRewardDiff.server.toExponential(1)}; server exit after SIGTERM: ${r.exitCode}`,
        );
    }
    return lines.join("\n");
}
