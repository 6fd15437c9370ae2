/**
 * `npm run bench`: throughput of llama-reward against its peers on a cached,
 * random-weight Llama-3.2-1B-shaped reward model, all in one run with the
 * same files and thread count:
 *   a. scoreBatch on 64 mixed conversations vs llama.cpp's llama-bench pp512
 *   b. the same token lists through node-llama-cpp's LlamaEmbeddingContext
 *   c. best-of-8 with scoreResponses vs eight sequential score() calls
 *   d. peak RSS and load time
 *   f. the same token lists through a PyTorch LlamaForSequenceClassification
 *      forward (torch-peer.py: bf16 on the BF16 file, fp32 on the F32 file),
 *      when a python3 with torch is found; its rewards must agree with ours, or
 *      (bf16) be further than ours from its own fp32 forward of the same weights
 * Prints a table with PASS/MISS per target and writes .bench/results.json
 * (after each file type, so an interrupted run keeps what it measured).
 *
 * Flags: --types f32,bf16,f16,q8_0,q4_k_m (default all five, ~12 min each on
 * 2 cores), --peers nlc,torch (default both), --no-amx (an AMX CPU played as
 * one without AMX, on llama-reward's and PyTorch's side: no-amx-play.ts), --reps N
 * (llama-bench repetitions, default 5), --investigate (instead of the table:
 * sweeps that explain a missed target, i.e. llama-bench prompt sizes, depth
 * and flash attention, and llama-reward's throughput on every 4th mixed
 * conversation under other contextSize/parallel/batchSize/flashAttention,
 * in interleaved rounds; written to .bench/investigation.json).
 * Then the reward server under load (server-load.ts): requests/s and p50/p99
 * at 1, 8 and 32 clients on the tiny and the Q8_0 bench model, against as
 * many concurrent in-process callers in interleaved rounds; --server runs
 * only that part (~20 min on 2 cores, plus the bench model's generation the
 * first time), written to .bench/server-load.json.
 * --server --replicas N instead compares 1 and N replicas behind nginx at 32
 * clients, then N with one killed mid-run (replica-load.ts), written to
 * .bench/replica-load.json.
 * Not part of `npm test`.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
    BENCH_TYPES,
    cacheDir,
    investigationPath,
    resultsPath,
    root,
    replicaLoadPath,
    serverLoadPath,
    workerResultPath,
    type BenchType,
} from "./bench-paths.js";
import { formatReport, rowsFor, type TypeMeasurements } from "./bench-report.js";
import { waitForIdleCpu } from "./cpu-idle.js";
import { ensureLlamaBench, runLlamaBench, type LlamaBenchRow } from "./llama-bench-tool.js";
import { machineInfo } from "./machine-info.js";
import { prepareBenchModels } from "./prepare-models.js";
import { formatReplicaLoad, runReplicaLoad, type ReplicaLoadResult } from "./replica-load.js";
import { formatServerLoad, runServerLoad, type ServerLoadResult } from "./server-load.js";
import type { SweepJob, SweepResult } from "./sweep-worker.js";
import { playWithoutAmx } from "./no-amx-play.js";
import {
    arbitrate,
    findTorchPython,
    type Fp32Arbiter,
    rewardAgreement,
    runTorchPeer,
    type TorchDtype,
    type TorchJob,
    type TorchPython,
    type TorchResult,
    torchSkipReason,
} from "./torch-peer.js";
import type { OursJob, OursResult, PeerJob, PeerResult } from "./worker-protocol.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const log = (line: string): void => {
    process.stderr.write(`bench: ${line}\n`);
};

interface Args {
    types: BenchType[];
    reps: number;
    investigate: boolean;
    /** Only the reward server load run. */
    server: boolean;
    /** With server: 1 vs this many replicas behind nginx instead. */
    replicas: number | undefined;
    peers: { nlc: boolean; torch: boolean };
    /** Play a CPU without AMX (no-amx-play.ts). */
    noAmx: boolean;
}

function parseArgs(argv: string[]): Args {
    const args: Args = {
        types: [...BENCH_TYPES],
        reps: 5,
        investigate: false,
        server: false,
        replicas: undefined,
        peers: { nlc: true, torch: true },
        noAmx: false,
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        const value = (): string => {
            const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
            if (v === undefined) throw new Error(`${a} needs a value`);
            return v;
        };
        if (a.startsWith("--types")) {
            const types = value()
                .split(",")
                .map((t) => t.trim().toLowerCase());
            for (const t of types)
                if (!(BENCH_TYPES as readonly string[]).includes(t)) throw new Error(`unknown type ${t} (${BENCH_TYPES.join(", ")})`);
            args.types = types as BenchType[];
        } else if (a.startsWith("--reps")) {
            args.reps = Number(value());
            if (!Number.isInteger(args.reps) || args.reps < 1) throw new Error("--reps needs a positive integer");
        } else if (a === "--investigate") {
            args.investigate = true;
        } else if (a === "--no-amx") {
            args.noAmx = true;
        } else if (a === "--server") {
            args.server = true;
        } else if (a.startsWith("--replicas")) {
            args.replicas = Number(value());
            if (!Number.isInteger(args.replicas) || args.replicas < 2) throw new Error("--replicas needs an integer of at least 2");
        } else if (a.startsWith("--peers")) {
            const peers = value()
                .split(",")
                .map((t) => t.trim().toLowerCase())
                .filter(Boolean);
            for (const t of peers) if (t !== "nlc" && t !== "torch") throw new Error(`unknown peer ${t} (nlc, torch)`);
            args.peers = { nlc: peers.includes("nlc"), torch: peers.includes("torch") };
        } else {
            throw new Error(
                `unknown argument ${a}; use --types ${BENCH_TYPES.join(",")} --peers nlc,torch --no-amx --reps N --investigate --server [--replicas N]`,
            );
        }
    }
    return args;
}

/** Runs a worker script in its own process and returns what it wrote. */
async function runWorker<T>(script: string, job: { resultPath: string }): Promise<T> {
    fs.rmSync(job.resultPath, { force: true });
    const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(here, script), JSON.stringify(job)], { stdio: ["ignore", "inherit", "inherit"] });
        child.on("error", reject);
        child.on("close", resolve);
    });
    if (code !== 0 || !fs.existsSync(job.resultPath)) throw new Error(`${script} failed (exit ${code})`);
    const result = JSON.parse(fs.readFileSync(job.resultPath, "utf8")) as T;
    fs.rmSync(job.resultPath, { force: true });
    return result;
}

interface Investigation {
    llamaBench: LlamaBenchRow[];
    sweep: SweepResult;
    /** llama-bench on each sweep conversation's length alone: llama.cpp's own ceiling for that workload. */
    perConversation: { rows: LlamaBenchRow[]; tokensPerSecond: number };
}

/**
 * Option variants compared with the defaults ({}) on every 8th mixed
 * conversation (8 of them, ~2,200 tokens, ~25 s a run), in 3 interleaved
 * rounds; each variant is judged by its median ratio to the defaults' run of
 * the same round, which cancels the machine's slow drift. parallel 1 is the
 * no-batching baseline: every conversation decoded alone, as llama-bench does.
 */
const SWEEP: Omit<SweepJob, "model" | "resultPath"> = {
    variants: [{}, { parallel: 1 }, { parallel: 4 }, { contextSize: 4096 }, { flashAttention: false }, { batchSize: 256 }],
    rounds: 3,
    stride: 8,
};

async function investigate(model: string, threads: number): Promise<Investigation> {
    await waitForIdleCpu(log);
    log("investigation: llama-bench pp16..pp512, pp512 without flash attention, pp512 after 512/1024 tokens of context");
    const llamaBench = [
        ...(await runLlamaBench(model, { prompts: [16, 32, 64, 128, 256, 512], threads, repetitions: 2 })),
        ...(await runLlamaBench(model, { prompts: [512], threads, repetitions: 2, extra: ["-fa", "0"] })),
        ...(await runLlamaBench(model, { prompts: [512], threads, repetitions: 2, extra: ["-d", "512,1024"] })),
    ];
    await waitForIdleCpu(log);
    log(`investigation: llama-reward scoreBatch under ${SWEEP.variants.length} option sets, ${SWEEP.rounds} interleaved rounds`);
    const job: SweepJob = { model, resultPath: workerResultPath("sweep"), ...SWEEP };
    const sweep = await runWorker<SweepResult>("sweep-worker.js", job);
    await waitForIdleCpu(log);
    log(`investigation: llama-bench -p ${sweep.lengths.join(",")} (each sweep conversation alone)`);
    const rows = await runLlamaBench(model, { prompts: sweep.lengths, threads, repetitions: 2 });
    const seconds = rows.reduce((s, r) => s + r.nPrompt / r.tokensPerSecond, 0);
    return { llamaBench, sweep, perConversation: { rows, tokensPerSecond: sweep.tokens / seconds } };
}

function formatInvestigation(type: string, inv: Investigation): string {
    const lines = [`Investigation (${type.toUpperCase()}):`, "  llama-bench:"];
    for (const r of inv.llamaBench) {
        const fa = r.flashAttention === "-1" ? "auto" : r.flashAttention;
        const busy = r.otherCpuShare > 0.05 ? ` (others took ${(r.otherCpuShare * 100).toFixed(0)}% CPU)` : "";
        lines.push(
            `    pp${r.nPrompt}${r.nDepth ? ` @ depth ${r.nDepth}` : ""} fa ${fa}: ${r.tokensPerSecond.toFixed(1)} ± ${r.stddev.toFixed(1)} tok/s${busy}`,
        );
    }
    const s = inv.sweep;
    const base = s.variants[0]!;
    lines.push(`  llama-reward scoreBatch, ${s.conversations} mixed conversations (${s.tokens} tokens), rounds interleaved:`);
    for (const v of s.variants) {
        const rel = v.rounds.map((r, i) => r / base.rounds[i]!).sort((a, b) => a - b);
        const median = rel[Math.floor(rel.length / 2)]!;
        lines.push(
            `    ${JSON.stringify(v.options).padEnd(28)} ${v.tokensPerSecond.toFixed(1)} tok/s ` +
                `(rounds ${v.rounds.map((r) => r.toFixed(1)).join(", ")}; median ${median.toFixed(2)}× defaults), ` +
                `${v.tokensPerDecode.toFixed(0)} tok/decode`,
        );
    }
    lines.push(
        `  llama-bench with each of those ${s.conversations} conversations' lengths as its own pp test ` +
            `(llama.cpp alone, one sequence at a time): ${inv.perConversation.tokensPerSecond.toFixed(1)} tok/s`,
    );
    if (s.otherCpuShare > 0.05)
        lines.push(`  WARNING: other processes took ${(s.otherCpuShare * 100).toFixed(0)}% of the CPUs during the sweep`);
    return lines.join("\n");
}

/** The server load run on the tiny model and the Q8_0 bench model; prints and writes .bench/server-load.json. */
async function serverLoad(benchModel: string): Promise<ServerLoadResult[]> {
    const tiny = path.join(root, "models", "tiny-reward-f32.gguf");
    const jobs = [
        {
            label: "tiny model",
            model: tiny,
            requests: 64,
            minTokens: 50,
            maxTokens: 300,
            capSeconds: 15,
            rounds: 6,
            warmSeconds: 1,
            windowSeconds: 4,
        },
        {
            label: "bench model Q8_0",
            model: benchModel,
            requests: 64,
            minTokens: 50,
            maxTokens: 300,
            capSeconds: 45,
            rounds: 2,
            warmSeconds: 10,
            windowSeconds: 30,
        },
    ];
    const results: ServerLoadResult[] = [];
    for (const job of jobs) {
        const result = await runServerLoad(job, log);
        results.push(result);
        log(`\n${formatServerLoad([result])}`); // each as soon as it is measured
    }
    process.stdout.write(`\n${formatServerLoad(results)}\n`);
    fs.writeFileSync(
        serverLoadPath,
        `${JSON.stringify({ date: new Date().toISOString(), machine: machineInfo(os.availableParallelism()), results }, null, 2)}\n`,
    );
    process.stdout.write(`wrote ${serverLoadPath}\n`);
    return results;
}

/** 1 vs N replicas behind nginx on the tiny and the Q8_0 bench model; prints and writes .bench/replica-load.json. */
async function replicaLoad(benchModel: string, replicas: number): Promise<void> {
    const tiny = path.join(root, "models", "tiny-reward-f32.gguf");
    const jobs = [
        { label: "tiny model", model: tiny, requests: 1024, minTokens: 50, maxTokens: 300, capSeconds: 30 },
        { label: "bench model Q8_0", model: benchModel, requests: 96, minTokens: 50, maxTokens: 300, capSeconds: 60 },
    ];
    const results: ReplicaLoadResult[] = [];
    for (const job of jobs) {
        results.push(await runReplicaLoad(job, replicas, log));
        log(`\n${formatReplicaLoad(results.slice(-1))}`);
    }
    process.stdout.write(`\n${formatReplicaLoad(results)}\n`);
    fs.writeFileSync(
        replicaLoadPath,
        `${JSON.stringify({ date: new Date().toISOString(), machine: machineInfo(os.availableParallelism()), results }, null, 2)}\n`,
    );
    process.stdout.write(`wrote ${replicaLoadPath}\n`);
}

/**
 * Where a bf16 peer's rewards miss the bar against ours: the same peer once in fp32 on the same weights, and the
 * judgement of whose rounding the difference is (arbitrate). Undefined, logged, where it cannot run or failed.
 */
async function fp32Arbiter(
    py: TorchPython,
    job: Omit<TorchJob, "dtype" | "once">,
    dtype: TorchDtype,
    ours: readonly number[],
    peer: TorchResult,
    type: BenchType,
): Promise<Fp32Arbiter | undefined> {
    const skip = dtype === "bf16" ? torchSkipReason(py, "fp32") : "not a bf16 peer";
    if (skip !== undefined) {
        log(`${type}: no fp32 arbiter (${skip}): the peer's speed is not compared`);
        return undefined;
    }
    log(`${type}: PyTorch fp32 on the same weights, once, to tell whose rounding it is`);
    try {
        const arbiter = arbitrate(ours, peer, await runTorchPeer(py, { ...job, dtype: "fp32", once: true }));
        log(`${type}: fp32 arbiter ${JSON.stringify(arbiter)}`);
        return arbiter;
    } catch (error) {
        // without the arbiter the peer stays as measured: rewards disagree, speed not compared
        log(`warning: ${type}: the fp32 arbiter failed: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
    }
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const endPlay = args.noAmx ? playWithoutAmx(log) : () => {};
    try {
        await bench(args);
    } finally {
        endPlay();
    }
}

async function bench(args: Args): Promise<void> {
    if (args.server && args.replicas !== undefined) {
        const [q8] = await prepareBenchModels(["q8_0"]);
        await replicaLoad(q8!.reward, args.replicas);
        return;
    }
    if (args.server) {
        const [q8] = await prepareBenchModels(["q8_0"]);
        await serverLoad(q8!.reward);
        return;
    }
    const threads = os.availableParallelism();
    const started = Date.now();
    await ensureLlamaBench(log);
    const files = await prepareBenchModels(args.types);
    const machine = machineInfo(threads);
    const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s in all`;

    if (args.investigate) {
        const investigations: Record<string, Investigation> = {};
        for (const f of files) investigations[f.type] = await investigate(f.reward, threads);
        for (const [type, inv] of Object.entries(investigations)) process.stdout.write(`\n${formatInvestigation(type, inv)}\n`);
        fs.writeFileSync(investigationPath, `${JSON.stringify({ date: new Date().toISOString(), machine, investigations }, null, 2)}\n`);
        process.stdout.write(`\nwrote ${investigationPath} (${elapsed()})\n`);
        return;
    }

    const torchPython = args.peers.torch ? findTorchPython() : undefined;
    if (args.peers.torch) {
        log(
            torchPython
                ? `PyTorch peer: ${torchPython.python}, torch ${torchPython.torch}, fp32 BLAS ${torchPython.blas}`
                : "PyTorch peer: no python3 with torch and numpy (Debian: apt-get install python3-torch libopenblas0-pthread); left out",
        );
    }
    const torchDtype: Partial<Record<BenchType, TorchDtype>> = { bf16: "bf16", f32: "fp32" };
    const writeResults = (measured: TypeMeasurements[]): void => {
        const json = {
            date: new Date().toISOString(),
            machine,
            noAmx: args.noAmx,
            totalSeconds: (Date.now() - started) / 1000,
            results: measured.map((m) => ({ ...m, rows: rowsFor(m) })),
        };
        fs.writeFileSync(resultsPath, `${JSON.stringify(json, null, 2)}\n`);
    };
    const measured: TypeMeasurements[] = [];
    for (const f of files) {
        const llamaBench = async (when: string): Promise<LlamaBenchRow> => {
            await waitForIdleCpu(log);
            log(`${f.type}: llama-bench -p 512 -n 0 -t ${threads} -r ${args.reps} (${when})`);
            return (await runLlamaBench(f.reward, { prompts: [512], threads, repetitions: args.reps }))[0]!;
        };
        const before = await llamaBench("before llama-reward");
        const tokensPath = path.join(cacheDir, `tokens-${f.type}.json`);
        await waitForIdleCpu(log);
        log(`${f.type}: llama-reward (default options)`);
        const oursJob: OursJob = { model: f.reward, tokensPath, resultPath: workerResultPath("ours") };
        const ours = await runWorker<OursResult>("ours-worker.js", oursJob);
        const after = await llamaBench("after llama-reward");
        let peer: PeerResult | undefined;
        if (args.peers.nlc) {
            await waitForIdleCpu(log);
            log(`${f.type}: node-llama-cpp ${machine.nodeLlamaCpp} LlamaEmbeddingContext on the head-less copy`);
            const peerJob: PeerJob = { headless: f.headless, reward: f.reward, tokensPath, resultPath: workerResultPath("peer"), threads };
            peer = await runWorker<PeerResult>("node-llama-cpp-worker.js", peerJob);
            if (!peer.tokensPassedUnchanged) log("warning: node-llama-cpp changed the token lists (added BOS/EOS)");
        }
        let torch: TypeMeasurements["torch"];
        const dtype = torchDtype[f.type];
        if (args.peers.torch && dtype !== undefined) {
            const skip = torchSkipReason(torchPython, dtype);
            if (skip !== undefined) {
                torch = { skipped: skip };
                log(`${f.type}: PyTorch peer left out: ${skip}`);
            } else {
                await waitForIdleCpu(log);
                log(`${f.type}: PyTorch ${torchPython!.torch} ${dtype} forward on the same file and token lists`);
                try {
                    const job = { model: f.reward, tokensPath, resultPath: workerResultPath("torch"), threads };
                    const result = await runTorchPeer(torchPython!, { ...job, dtype });
                    const agreement = rewardAgreement(ours.rewards, result);
                    if (!agreement.agree) log(`warning: the torch peer's rewards disagree with ours (${JSON.stringify(agreement)})`);
                    const arbiter = agreement.agree ? undefined : await fp32Arbiter(torchPython!, job, dtype, ours.rewards, result, f.type);
                    torch = { result, agreement, ...(arbiter ? { arbiter } : {}) };
                } catch (error) {
                    // A failed peer leaves its column empty; the other measurements of this type still count.
                    torch = { failed: error instanceof Error ? error.message : String(error) };
                    log(`warning: ${f.type}: the PyTorch peer failed and is left out: ${torch.failed}`);
                }
            }
        }
        measured.push({ type: f.type, fileBytes: fs.statSync(f.reward).size, llamaBench: { before, after }, ours, peer, torch });
        writeResults(measured);
    }
    const report = formatReport(machine, measured, args.noAmx);
    process.stdout.write(`\n${report}\n`);
    const json = {
        date: new Date().toISOString(),
        machine,
        noAmx: args.noAmx,
        totalSeconds: (Date.now() - started) / 1000,
        results: measured.map((m) => ({ ...m, rows: rowsFor(m) })),
    };
    fs.writeFileSync(resultsPath, `${JSON.stringify(json, null, 2)}\n`);
    process.stdout.write(`\nwrote ${resultsPath} (${elapsed()})\n`);
    const q8 = files.find((f) => f.type === "q8_0") ?? files[0]!;
    await serverLoad(q8.reward);
}

main().catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
});
