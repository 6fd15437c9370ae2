/**
 * Replicas behind nginx under load (`npm run bench -- --server --replicas N`):
 * 1 and N replicas of `llama-reward serve` behind nginx
 * (examples/nginx/nginx.conf, run unprivileged in a temporary prefix): one
 * replica with every core, one with a share of them, and N with the cores
 * split between them (--threads), 32 clients on keep-alive
 * connections sending one-conversation POST /v1/score requests through the
 * balancer: requests/s and p50/p99. Then the same N replicas with the first
 * one killed a third of the way in (SIGTERM, then SIGKILL 50 ms later, as a
 * drain cut short): failed requests, latency, and how many requests nginx
 * passed on to another replica. Random weights: only speed counts, and every
 * reward is checked against scoreBatch in this process.
 */
import os from "node:os";
import { findNginx, startBalancer } from "../../test/support/nginx.js";
import { freePort, startServe, type ServeProcess } from "../../test/support/serve-process.js";
import { cpuBusyShare } from "./cpu-idle.js";
import { inProcessCeiling, runLevel, type LoadFigures, type ServerLoadJob } from "./server-load.js";

const clients = 32;

export interface ReplicaRun extends LoadFigures {
    replicas: number;
    threadsPerReplica: number;
    /** Killed mid-run: a replica got SIGTERM, then SIGKILL. */
    killed: boolean;
    /** Requests nginx tried on more than one replica. */
    passedOn: number;
    cpuBusyBefore: number;
}

export interface ReplicaLoadResult {
    label: string;
    model: string;
    conversations: number;
    meanTokens: number;
    inProcessConversationsPerSecond: number;
    runs: ReplicaRun[];
    maxRewardDiff: number;
}

async function withReplicas<T>(
    nginx: string,
    model: string,
    replicas: number,
    threads: number,
    body: (url: string, started: ServeProcess[], passedOn: () => number) => Promise<T>,
): Promise<T> {
    const ports = await Promise.all(Array.from({ length: replicas }, () => freePort()));
    const started: ServeProcess[] = [];
    try {
        for (const port of ports) {
            started.push(await startServe(["--model", model, "--port", String(port), "--threads", String(threads), "--max-queue", "4096"]));
        }
        const balancer = await startBalancer(nginx, await freePort(), ports);
        try {
            const passedOn = () => balancer.accessLog().filter((l) => /upstream=\S+, \S+/.test(l)).length;
            return await body(balancer.url, started, passedOn);
        } finally {
            await balancer.stop();
        }
    } finally {
        for (const s of started) {
            s.child.kill("SIGTERM");
            await s.exit;
        }
    }
}

export async function runReplicaLoad(job: ServerLoadJob, replicas: number, log: (line: string) => void): Promise<ReplicaLoadResult> {
    const nginx = findNginx();
    if (nginx === undefined) throw new Error("--replicas needs nginx (apt-get install nginx)");
    const { conversations, expected, meanTokens, inProcess } = await inProcessCeiling(job, log);
    const bodies = conversations.map((messages) => JSON.stringify({ messages }));
    const cores = os.availableParallelism();
    const diffs: number[] = [];
    const runs: ReplicaRun[] = [];
    const split = Math.max(1, Math.floor(cores / replicas));
    const configs = [
        { n: 1, threads: cores, killed: false },
        { n: 1, threads: split, killed: false },
        { n: replicas, threads: split, killed: false },
        { n: replicas, threads: split, killed: true },
    ];
    for (const { n, threads, killed } of configs) {
        log(`${job.label}: ${n} replica(s) × ${threads} thread(s) behind nginx, ${clients} clients${killed ? ", one killed mid-run" : ""}`);
        const run = await withReplicas(nginx, job.model, n, threads, async (url, started, passedOn) => {
            const cpuBusyBefore = await cpuBusyShare(500);
            // A third of the way into the run, timed by the same configuration's run without a kill.
            const killAfterMs = (Math.min(runs.at(-1)?.seconds ?? job.capSeconds, job.capSeconds) * 1000) / 3;
            const kill = killed
                ? (async () => {
                      await new Promise((r) => setTimeout(r, killAfterMs));
                      started[0]!.child.kill("SIGTERM");
                      await new Promise((r) => setTimeout(r, 50));
                      started[0]!.child.kill("SIGKILL");
                  })()
                : Promise.resolve();
            const level = await runLevel(url, bodies, expected, clients, job, diffs);
            await kill;
            return { ...level, passedOn: passedOn(), cpuBusyBefore };
        });
        runs.push({
            replicas: n,
            threadsPerReplica: threads,
            killed,
            requests: run.requests,
            failed: run.failed,
            seconds: run.seconds,
            requestsPerSecond: run.requestsPerSecond,
            p50Ms: run.p50Ms,
            p99Ms: run.p99Ms,
            passedOn: run.passedOn,
            cpuBusyBefore: run.cpuBusyBefore,
        });
    }
    return {
        label: job.label,
        model: job.model,
        conversations: conversations.length,
        meanTokens,
        inProcessConversationsPerSecond: inProcess.conversationsPerSecond,
        runs,
        maxRewardDiff: diffs.length > 0 ? Math.max(...diffs) : Number.NaN,
    };
}

export function formatReplicaLoad(results: readonly ReplicaLoadResult[]): string {
    const lines = [`Replicas behind nginx (POST /v1/score, one conversation per request, ${clients} clients, loopback):`];
    for (const r of results) {
        lines.push(
            `  ${r.label}: ${r.conversations} conversations cycled, mean ${r.meanTokens.toFixed(0)} tokens; ` +
                `in-process scoreBatch ${r.inProcessConversationsPerSecond.toFixed(1)} conv/s`,
        );
        lines.push("    replicas × threads  requests  failed  req/s     p50 ms    p99 ms    passed on by nginx");
        for (const run of r.runs) {
            const busy = run.cpuBusyBefore > 0.15 ? `  (CPU ${(run.cpuBusyBefore * 100).toFixed(0)}% busy before)` : "";
            lines.push(
                `    ${`${run.replicas} × ${run.threadsPerReplica}${run.killed ? ", 1 killed" : ""}`.padEnd(18)}  ${String(run.requests).padStart(8)}  ` +
                    `${String(run.failed).padStart(6)}  ${run.requestsPerSecond.toFixed(1).padStart(8)}  ${run.p50Ms.toFixed(1).padStart(8)}  ` +
                    `${run.p99Ms.toFixed(1).padStart(8)}  ${String(run.passedOn).padStart(6)}${busy}`,
            );
        }
        lines.push(`    rewards vs scoreBatch: max |diff| ${r.maxRewardDiff.toExponential(1)}`);
    }
    return lines.join("\n");
}
