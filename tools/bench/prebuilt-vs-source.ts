/**
 * A short, bounded version of `npm run bench`'s batch throughput (a.), run
 * for two addon files: the prebuilt one (our libllama on node-llama-cpp's
 * ggml, CPU variant chosen at run time) and a native source build
 * (ggml compiled with -march=native). Each measurement runs in its own
 * process (LLAMA_REWARD_ADDON_PATH), alternating A/B, and keeps the best of
 * the rounds; the ratio must stay >= 0.95.
 *
 *   node dist/tools/bench/prebuilt-vs-source.js --prebuilt A.node --source B.node [--model M.gguf] [--rounds 3] [--count 24]
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { RewardModel } from "../../src/model/reward-model.js";
import { addonInfo } from "../../src/model/system.js";
import { mixedConversations } from "./bench-conversations.js";
import { rewardModelPath } from "./bench-paths.js";

interface Measurement {
    tokensPerSecond: number;
    /** Tokens per second of CPU time used by the process: steadier than wall time on a busy machine. */
    tokensPerCpuSecond: number;
    tokens: number;
    seconds: number;
    registries: string[];
}

/** In the child: score the workload once after a warm-up and print one JSON line. */
async function measure(model: string, count: number, threads: number): Promise<void> {
    const m = await RewardModel.load(model, { threads, gpu: false });
    const conversations = mixedConversations((c) => m.tokenizeConversation(c).length, count);
    const tokens = conversations.reduce((n, c) => n + m.tokenizeConversation(c).length, 0);
    await m.scoreBatch(conversations.slice(0, 4));
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    await m.scoreBatch(conversations);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    await m.dispose();
    const result: Measurement = {
        tokensPerSecond: tokens / seconds,
        tokensPerCpuSecond: tokens / cpuSeconds,
        tokens,
        seconds,
        registries: addonInfo().registries,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(addon: string, model: string, count: number, threads: number): Measurement {
    const child = spawnSync(
        process.execPath,
        [process.argv[1]!, "--child", "--model", model, "--count", String(count), "--threads", String(threads)],
        {
            env: { ...process.env, LLAMA_REWARD_ADDON_PATH: addon },
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
        },
    );
    if (child.status !== 0) throw new Error(`measurement with ${addon} failed (${child.status})`);
    return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Measurement;
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            child: { type: "boolean", default: false },
            prebuilt: { type: "string" },
            source: { type: "string" },
            model: { type: "string" },
            rounds: { type: "string", default: "3" },
            count: { type: "string", default: "24" },
            threads: { type: "string", default: String(os.availableParallelism()) },
        },
    });
    const count = Number(values.count);
    const threads = Number(values.threads);
    const model = values.model ?? ["q8_0", "f16"].map((t) => rewardModelPath(t as "q8_0" | "f16")).find((p) => fs.existsSync(p));
    if (model === undefined) throw new Error("no benchmark model in .bench/: run `npm run bench` once, or pass --model");
    if (values.child) return measure(model, count, threads);
    if (!values.prebuilt || !values.source) throw new Error("pass --prebuilt A.node --source B.node");
    const best = { prebuilt: 0, source: 0 };
    const bestCpu = { prebuilt: 0, source: 0 };
    for (let round = 0; round < Number(values.rounds); round++) {
        for (const which of ["prebuilt", "source"] as const) {
            const r = runChild(values[which]!, model, count, threads);
            best[which] = Math.max(best[which], r.tokensPerSecond);
            bestCpu[which] = Math.max(bestCpu[which], r.tokensPerCpuSecond);
            process.stderr.write(
                `round ${round + 1} ${which}: ${r.tokensPerSecond.toFixed(1)} tokens/s, ${r.tokensPerCpuSecond.toFixed(1)} tokens/CPU-s (${r.tokens} tokens in ${r.seconds.toFixed(2)} s; backends ${r.registries.join(",")})\n`,
            );
        }
    }
    const ratio = best.prebuilt / best.source;
    const cpuRatio = bestCpu.prebuilt / bestCpu.source;
    process.stdout.write(`${JSON.stringify({ model, count, threads, best, ratio, bestCpu, cpuRatio })}\n`);
    process.stderr.write(
        `prebuilt / source batch throughput: ${ratio.toFixed(3)} wall, ${cpuRatio.toFixed(3)} per CPU-second ` +
            `(${Math.min(ratio, cpuRatio) >= 0.95 ? "PASS" : "MISS"} >= 0.95)\n`,
    );
}

await main();
