/**
 * Tokens/s of each file type as different kinds of CPU run it, measured on
 * this one: the addon of build/Release (or --addon-dir, e.g. a copy with
 * node-llama-cpp's CPU variants) is copied into a scratch folder with
 * one of ggml's CPU variants only (zen4: AVX-512 BF16 and VNNI without AMX;
 * icelake: AVX-512 and VNNI without BF16; haswell: AVX2 only; or every
 * variant, ggml's own choice), and llama-reward's kernels are chosen with
 * LLAMA_REWARD_AMX_BF16 / _AVX512_BF16 / _BF16_FMA / _AVX512_F32 / _AVX512_F16 / _AVX2.
 * Each measurement runs in its own process: a warm-up, then short (~80
 * tokens) and long (~700 tokens) conversations through scoreBatch.
 *
 *   node dist/tools/bench/cpu-kinds.js --models A.gguf,B.gguf [--kinds amx,avx512-bf16,...] [--short 16] [--long 3] [--threads 2]
 *       [--addon-dir DIR]
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { RewardModel } from "../../src/model/reward-model.js";
import type { CpuBackendInfo } from "../../src/addon/cpu-backend.js";
import { addonInfo, cpuInfo } from "../../src/model/system.js";
import { kernelFor } from "../../src/bench/quick-bench.js";
import { mixedConversations } from "./bench-conversations.js";
import { addonFolderWithCpuVariant } from "./cpu-variant-addon.js";

/** How a kind of CPU is played on this machine: which ggml CPU variant is present and which BF16 kernel may run. */
interface CpuKindSetup {
    /** libggml-cpu-<variant>.so kept next to the addon; undefined: every variant (ggml picks). */
    variant?: string;
    env: Record<string, string>;
    describe: string;
}

/** Every kernel of llama-reward's off: ggml's kernels for every type. */
const ALL_OFF: Record<string, string> = {
    LLAMA_REWARD_AMX_BF16: "0",
    LLAMA_REWARD_AVX512_BF16: "0",
    LLAMA_REWARD_BF16_FMA: "0",
    LLAMA_REWARD_AVX512_F32: "0",
    LLAMA_REWARD_AVX512_F16: "0",
    LLAMA_REWARD_AVX2: "0",
};

const KINDS: Record<string, CpuKindSetup> = {
    amx: { env: {}, describe: "this CPU as it is (AMX BF16 kernel, ggml's AMX int8 for Q8_0)" },
    ggml: {
        env: ALL_OFF,
        describe: "this CPU with llama-reward's BF16, F32 and F16 kernels off: ggml's kernels for every type, in the variant ggml picks",
    },
    "avx512-bf16": {
        variant: "zen4",
        env: { LLAMA_REWARD_AMX_BF16: "0", LLAMA_REWARD_BF16_FMA: "0" },
        describe: "AVX-512 BF16 + VNNI, no AMX, as an AMD Zen 4 runs it (ggml's zen4 variant), llama-reward's AVX-512 BF16 kernel",
    },
    "avx512-fma": {
        variant: "icelake",
        env: { LLAMA_REWARD_AMX_BF16: "0", LLAMA_REWARD_BF16_FMA: "1" },
        describe:
            "AVX-512 + VNNI without BF16 or AMX (ggml's icelake variant: Intel Ice Lake-SP), llama-reward's AVX-512 FMA kernel for BF16",
    },
    "avx512-ggml": {
        variant: "icelake",
        env: ALL_OFF,
        describe: "AVX-512 + VNNI without BF16 or AMX (ggml's icelake variant), ggml's kernels for every type",
    },
    "avx512-bf16-ggml": {
        variant: "zen4",
        env: ALL_OFF,
        describe: "AVX-512 BF16 + VNNI, no AMX (ggml's zen4 variant), ggml's BF16, F32 and F16 kernels",
    },
    avx2: {
        variant: "haswell",
        env: { LLAMA_REWARD_AMX_BF16: "0", LLAMA_REWARD_AVX2: "1" },
        describe: "AVX2 only (ggml's haswell variant), llama-reward's AVX2 kernel for BF16, F32 and F16, as on an AVX2 CPU",
    },
    "avx2-ggml": {
        variant: "haswell",
        env: ALL_OFF,
        describe: "AVX2 only (ggml's haswell variant), ggml's kernels for every type",
    },
};

interface Measurement {
    kind: string;
    model: string;
    fileType: string;
    /** What multiplied the file's weights (kernelFor). */
    kernel: string;
    /** The ggml CPU backend's features in use (llama.cpp's system line). */
    ggmlCpu: string[];
    /** The CPU variant loaded and who built it (addonInfo().cpuBackend). */
    cpuBackend: string;
    short: Rate;
    long: Rate;
}

interface Rate {
    tokensPerSecond: number;
    /** Tokens per second of CPU time used by the process divided by the threads: steadier than wall time on a busy machine. */
    tokensPerThreadCpuSecond: number;
    tokens: number;
}

async function timed(m: RewardModel, conversations: Parameters<RewardModel["scoreBatch"]>[0], threads: number): Promise<Rate> {
    const tokens = conversations.reduce((n, c) => n + m.tokenizeConversation(c).length, 0);
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    await m.scoreBatch(conversations);
    const cpu = process.cpuUsage(cpuBefore);
    return {
        tokensPerSecond: tokens / (Number(process.hrtime.bigint() - started) / 1e9),
        tokensPerThreadCpuSecond: (tokens * threads) / ((cpu.user + cpu.system) / 1e6),
        tokens,
    };
}

/** In the child: one model, warm-up, short then long; one JSON line on stdout. */
async function measure(kind: string, model: string, shortCount: number, longCount: number, threads: number): Promise<void> {
    const m = await RewardModel.load(model, { threads, gpu: false });
    const count = (c: Parameters<RewardModel["tokenizeConversation"]>[0]): number => m.tokenizeConversation(c).length;
    const short = mixedConversations(count, shortCount, 80, 80, 0x5107);
    const long = mixedConversations(count, longCount, 700, 700, 0x1079);
    await m.scoreBatch(short.slice(0, 2));
    const result: Measurement = {
        kind,
        model: path.basename(model),
        fileType: m.info.fileType,
        kernel: kernelFor(m.info.fileType, addonInfo(), cpuInfo().build),
        ggmlCpu: cpuInfo().build,
        cpuBackend: describeBackend(addonInfo().cpuBackend),
        short: await timed(m, short, threads),
        long: await timed(m, long, threads),
    };
    await m.dispose();
    process.stdout.write(`${JSON.stringify(result)}\n`);
}

function describeBackend(backend: CpuBackendInfo | null): string {
    return backend === null ? "compiled in" : `${backend.library} (${backend.builtBy}, ${backend.compiler ?? "compiler unknown"})`;
}

function rate(r: Rate): string {
    return `${r.tokensPerSecond.toFixed(1).padStart(6)} tok/s (${r.tokensPerThreadCpuSecond.toFixed(1)} per thread-CPU-s)`;
}

function main(): void {
    const { values } = parseArgs({
        options: {
            models: { type: "string" },
            kinds: { type: "string", default: Object.keys(KINDS).join(",") },
            short: { type: "string", default: "16" },
            long: { type: "string", default: "3" },
            threads: { type: "string", default: "2" },
            child: { type: "string" },
            out: { type: "string" },
            "addon-dir": { type: "string" },
        },
    });
    const [shortCount, longCount, threads] = [Number(values.short), Number(values.long), Number(values.threads)];
    if (values.child !== undefined) {
        void measure(values.child, values.models!, shortCount, longCount, threads);
        return;
    }
    if (values.models === undefined) throw new Error("--models A.gguf,B.gguf is required");
    const models = values.models.split(",");
    const cpu = cpuInfo();
    process.stderr.write(
        `CPU: ${cpu.model}; load average ${os
            .loadavg()
            .map((l) => l.toFixed(2))
            .join(" ")}\n`,
    );
    const results: Measurement[] = [];
    for (const kind of values.kinds.split(",")) {
        const setup = KINDS[kind];
        if (setup === undefined) throw new Error(`unknown kind ${kind}; kinds: ${Object.keys(KINDS).join(", ")}`);
        const dir = addonFolderWithCpuVariant(setup.variant, values["addon-dir"] && path.resolve(values["addon-dir"]));
        try {
            for (const model of models) {
                const child = spawnSync(
                    process.execPath,
                    [
                        process.argv[1]!,
                        "--child",
                        kind,
                        "--models",
                        model,
                        "--short",
                        values.short,
                        "--long",
                        values.long,
                        "--threads",
                        values.threads,
                    ],
                    {
                        env: { ...process.env, ...setup.env, LLAMA_REWARD_ADDON_PATH: path.join(dir, "llama_reward.node") },
                        encoding: "utf8",
                        stdio: ["ignore", "pipe", "inherit"],
                    },
                );
                if (child.status !== 0) throw new Error(`${kind} ${model}: the measuring process exited with ${child.status}`);
                const r = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Measurement;
                results.push(r);
                process.stderr.write(
                    `${kind.padEnd(17)} ${r.fileType.padEnd(22)} kernel ${r.kernel.padEnd(13)} ` +
                        `short ${rate(r.short)}  long ${rate(r.long)}  ${r.cpuBackend}` +
                        `  (load ${os.loadavg()[0]!.toFixed(2)})\n`,
                );
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
    if (values.out !== undefined) fs.writeFileSync(values.out, JSON.stringify({ cpu: cpu.model, threads, results }, null, 2));
}

main();
