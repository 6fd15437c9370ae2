/**
 * The PyTorch peer of `npm run bench`: finds a python3 that has torch and
 * numpy (LLAMA_REWARD_BENCH_PYTHON, then `python3` on PATH, then
 * /usr/bin/python3, where Debian's python3-torch installs), asks its oneDNN
 * which instruction set it runs and how it multiplies bf16 matrices, runs
 * torch-peer.py on one file in its own process, and checks that its rewards
 * agree with llama-reward's before its tokens/s may be compared (where a bf16
 * peer's do not, its fp32 forward of the same weights arbitrates).
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { root } from "./bench-paths.js";
import type { TimedRun } from "./worker-protocol.js";

/** The script is run from the sources (tsc does not copy it to dist/). */
const script = path.join(root, "tools", "bench", "torch-peer.py");

export type TorchDtype = "bf16" | "fp32";

/** What oneDNN (ONEDNN_VERBOSE) said while torch multiplied two bf16 matrices in the probe. */
export interface OneDnnInfo {
    /** The instruction set oneDNN runs, e.g. "Intel AVX-512 with Intel DL Boost and bfloat16 support" (ONEDNN_MAX_CPU_ISA caps it). */
    isa: string;
    /** The matmul implementation that ran, e.g. "brg:avx512_core_amx_bf16"; "none" when oneDNN was not called. */
    bf16Matmul: string;
    /** Its source and weights were bf16 (not converted to fp32 first). */
    bf16Operands: boolean;
}

export interface TorchPython {
    python: string;
    torch: string;
    /** The BLAS torch's fp32 matmuls load (libblas.so.3): "openblas", "reference" or what /proc/self/maps names. */
    blas: string;
    onednn: OneDnnInfo;
}

export interface TorchJob {
    model: string;
    tokensPath: string;
    resultPath: string;
    threads: number;
    dtype: TorchDtype;
    /** Each set once, for its rewards only (the fp32 arbiter): its timings mean nothing. */
    once?: boolean;
}

export interface TorchResult {
    torch: string;
    dtype: TorchDtype;
    threads: number;
    blas: string;
    loadSeconds: number;
    maxBatch: number;
    /** cpuSeconds: the process's CPU time (all threads) during the timed run; steadier than wall time on a busy machine. */
    short: TimedRun & { conversations: number; cpuSeconds: number };
    long: TimedRun & { conversations: number; cpuSeconds: number };
    /** oneDNN's instruction set and bf16 matmul in the probe, with the same environment. */
    onednn: OneDnnInfo;
    /** Conversation indices (into the workload) and their rewards. */
    indices: number[];
    rewards: number[];
    maxRssBytes: number;
    otherCpuShare: number;
}

const PROBE = [
    "import ctypes, ctypes.util, re, numpy, torch",
    "torch.mm(torch.ones(64, 64), torch.ones(64, 64))",
    "torch.nn.functional.linear(torch.ones(16, 64, dtype=torch.bfloat16), torch.ones(64, 64, dtype=torch.bfloat16))",
    "maps = open('/proc/self/maps').read()",
    "libs = sorted(set(re.findall(r'/\\S*(?:openblas|blis|mkl_rt|libblas)\\S*', maps)))",
    "blas = 'openblas' if any('openblas' in l for l in libs) else 'reference' if any('libblas' in l for l in libs) else (libs[0] if libs else 'none found')",
    "print(torch.__version__ + ' ' + blas)",
].join("\n");

/** oneDNN's verbose lines (onednn_verbose or, before v2.5, dnnl_verbose; newer ones carry a timestamp field). */
export function parseOneDnnVerbose(text: string): OneDnnInfo {
    const isa = /^(?:onednn|dnnl)_verbose,(?:[\d.]+,)?info,cpu,isa:(.*)$/m.exec(text)?.[1]?.trim() ?? "unknown";
    const matmul = /^(?:onednn|dnnl)_verbose,(?:[\d.]+,)?exec,cpu,matmul,([^,]*),[^,]*,([^,]*)/m.exec(text);
    return {
        isa,
        bf16Matmul: matmul?.[1] ?? "none",
        bf16Operands: matmul !== null && /\bsrc_bf16\b/.test(matmul[2]!) && /\bwei_bf16\b/.test(matmul[2]!),
    };
}

/** A python3 with torch and numpy, or undefined (the peer is then left out of the table). */
export function findTorchPython(): TorchPython | undefined {
    const candidates = [process.env.LLAMA_REWARD_BENCH_PYTHON, "python3", "/usr/bin/python3"].filter((c): c is string => !!c);
    for (const python of new Set(candidates)) {
        const r = spawnSync(python, ["-c", PROBE], {
            encoding: "utf8",
            timeout: 120_000,
            env: { ...process.env, ONEDNN_VERBOSE: "1", DNNL_VERBOSE: "1" },
        });
        if (r.status !== 0) continue;
        const last = r.stdout
            .trim()
            .split("\n")
            .filter((l) => !/^(?:onednn|dnnl)_verbose,/.test(l))
            .at(-1);
        const [torch, blas] = (last ?? "").split(" ");
        if (torch) return { python, torch, blas: blas ?? "unknown", onednn: parseOneDnnVerbose(r.stdout) };
    }
    return undefined;
}

/**
 * Why the peer is left out for this dtype, or undefined when it runs: no
 * python3 with torch, or an fp32 run on the reference BLAS (about 1 token/s on
 * the bench model: over an hour for its workload, which would hold up the run).
 */
export function torchSkipReason(py: TorchPython | undefined, dtype: TorchDtype): string | undefined {
    if (py === undefined) return "no python3 with torch (apt-get install python3-torch libopenblas0-pthread)";
    if (dtype === "fp32" && py.blas === "reference")
        return "torch's fp32 matrix products would run on the reference BLAS (libblas3), about 1 token/s: apt-get install libopenblas0-pthread";
    return undefined;
}

/** Runs torch-peer.py on one file and dtype; its progress lines go to stderr. */
export async function runTorchPeer(py: TorchPython, job: TorchJob): Promise<TorchResult> {
    fs.rmSync(job.resultPath, { force: true });
    const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(py.python, [script, JSON.stringify({ ...job, blas: py.blas })], { stdio: ["ignore", "inherit", "inherit"] });
        child.on("error", reject);
        child.on("close", resolve);
    });
    if (code !== 0 || !fs.existsSync(job.resultPath)) throw new Error(`torch-peer.py failed (exit ${code})`);
    const result = JSON.parse(fs.readFileSync(job.resultPath, "utf8")) as Omit<TorchResult, "onednn">;
    fs.rmSync(job.resultPath, { force: true });
    return { ...result, onednn: py.onednn };
}

export interface RewardAgreement {
    maxAbsDiff: number;
    /** Largest minus smallest of llama-reward's rewards on the same conversations. */
    spread: number;
    correlation: number;
    agree: boolean;
}

/** Max |Δ| may be at most this share of the rewards' spread, and the correlation at least MIN_CORRELATION. */
export const MAX_DIFF_OF_SPREAD = 0.05;
export const MIN_CORRELATION = 0.995;

/**
 * Whether the peer computes the same thing: its rewards against ours on the
 * same conversations. Both round differently (bf16 activations, f16 KV cache),
 * so agreement is judged against the spread of the rewards, not bit for bit.
 */
export function rewardAgreement(ours: readonly number[], peer: Pick<TorchResult, "indices" | "rewards">): RewardAgreement {
    const a = peer.indices.map((i) => ours[i]!);
    const b = peer.rewards;
    const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
    const ma = mean(a);
    const mb = mean(b);
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < a.length; i++) {
        sab += (a[i]! - ma) * (b[i]! - mb);
        saa += (a[i]! - ma) ** 2;
        sbb += (b[i]! - mb) ** 2;
    }
    const correlation = saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN;
    const maxAbsDiff = Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
    const spread = Math.max(...a) - Math.min(...a);
    return { maxAbsDiff, spread, correlation, agree: correlation >= MIN_CORRELATION && maxAbsDiff <= MAX_DIFF_OF_SPREAD * spread };
}

/**
 * Where the bf16 peer and llama-reward disagree by more than the bar, the same network in fp32 on the same
 * file's weights (exactly widened) tells whose rounding it is: ours against it, and the bf16 peer against it.
 */
export interface Fp32Arbiter {
    oursVsFp32: RewardAgreement;
    bf16VsFp32: RewardAgreement;
    /** Ours agrees with the fp32 forward, and the bf16 peer is further from it than ours but still correlated. */
    sameModel: boolean;
}

/**
 * The arbiter's judgement from llama-reward's rewards (by workload index), the bf16 peer's and the fp32 forward's.
 * Both distances are measured against the fp32 forward's spread, on the conversations the fp32 forward scored.
 */
export function arbitrate(
    ours: readonly number[],
    bf16: Pick<TorchResult, "indices" | "rewards">,
    fp32: Pick<TorchResult, "indices" | "rewards">,
): Fp32Arbiter {
    const fp32ByIndex: number[] = [];
    fp32.indices.forEach((i, k) => {
        fp32ByIndex[i] = fp32.rewards[k]!;
    });
    const oursVsFp32 = rewardAgreement(fp32ByIndex, { indices: fp32.indices, rewards: fp32.indices.map((i) => ours[i]!) });
    const bf16VsFp32 = rewardAgreement(fp32ByIndex, bf16);
    const sameModel = oursVsFp32.agree && bf16VsFp32.correlation >= MIN_CORRELATION && oursVsFp32.maxAbsDiff <= bf16VsFp32.maxAbsDiff;
    return { oursVsFp32, bf16VsFp32, sameModel };
}
