/**
 * llama.cpp's own `llama-bench`, built from the same (patched) llama.cpp
 * sources as the addon into build/llama-tools when it is missing, and run
 * with `-o json` to give the prompt-processing ceiling for a model file.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { processTicks, startContentionMeter } from "./cpu-idle.js";
import { llamaBenchPath, llamaCppSourceDir, llamaToolsDir, root } from "./bench-paths.js";

export interface LlamaBenchRow {
    nPrompt: number;
    nDepth: number;
    nBatch: number;
    nUbatch: number;
    threads: number;
    flashAttention: string;
    /** Mean over the repetitions, as llama-bench prints it. */
    tokensPerSecond: number;
    stddev: number;
    /** Each repetition's tokens/s. */
    samples: number[];
    buildCommit: string;
    /** Share of all CPUs other processes used while it ran (should be ~0). */
    otherCpuShare: number;
}

export interface LlamaBenchOptions {
    prompts: number[];
    threads: number;
    repetitions?: number;
    /** Extra arguments, e.g. ["-fa", "0,1"] or ["-b", "64"]. */
    extra?: string[];
}

const cmakeOptions = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_SERVER=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DGGML_CPU_KLEIDIAI=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    // ggml's AMX int8 kernel, which -march=native compiles in on Sapphire Rapids and later, as in the addon:
    // amx/mmq.cpp needs -fno-dse under GCC 12 or its tile configuration is compiled away
    // (native/cmake/ggml-amx-tile-config.cmake, applied through this hook on ggml's project()).
    `-DCMAKE_PROJECT_ggml_INCLUDE=${path.join(root, "native", "cmake", "llama-bench-ggml.cmake")}`,
];

/** Runs cmake, echoing its build percentage now and then and keeping the tail of its output for errors. */
function runCmake(args: string[], log: (line: string) => void): Promise<void> {
    log(`$ cmake ${args.join(" ")}`);
    return new Promise<void>((resolve, reject) => {
        const child = spawn("cmake", args, { stdio: ["ignore", "pipe", "pipe"] });
        let tail = "";
        let lastPercent = -10;
        const keep = (d: Buffer): void => {
            tail = (tail + d.toString("utf8")).slice(-8000);
        };
        child.stdout.on("data", (d: Buffer) => {
            keep(d);
            for (const m of d.toString("utf8").matchAll(/\[\s*(\d+)%\]/g)) {
                const percent = Number(m[1]);
                if (percent >= lastPercent + 10) {
                    lastPercent = percent;
                    log(`  cmake: ${percent}%`);
                }
            }
        });
        child.stderr.on("data", keep);
        child.on("error", (e) => reject(new Error(`could not run cmake: ${e.message}`)));
        child.on("close", (code) => {
            if (code === 0) resolve();
            else reject(new Error(`cmake ${args[0]} ${args[1]} failed (exit ${code}):\n${tail}`));
        });
    });
}

/** The options llama-bench was last built with: a build with other options (one without AMX) is rebuilt. */
const optionsStampPath = path.join(llamaToolsDir, "llama-reward-cmake-options.json");

/** Builds llama-bench unless it exists, built with today's options; returns its path. */
export async function ensureLlamaBench(log: (line: string) => void): Promise<string> {
    const stamp = JSON.stringify(cmakeOptions);
    const builtWith = fs.existsSync(optionsStampPath) ? fs.readFileSync(optionsStampPath, "utf8") : undefined;
    if (fs.existsSync(llamaBenchPath) && builtWith === stamp) return llamaBenchPath;
    if (!fs.existsSync(`${llamaCppSourceDir}/CMakeLists.txt`)) {
        throw new Error(`llama.cpp sources are missing at ${llamaCppSourceDir}; run \`npm run build:native\` first`);
    }
    log(
        `llama-bench is ${fs.existsSync(llamaBenchPath) ? "built with other options" : "missing"}: building it into ${llamaToolsDir} ` +
            `from ${llamaCppSourceDir} (takes about 5 minutes the first time on 2 cores)`,
    );
    const started = Date.now();
    // options dropped since the last build (e.g. the -mno-amx-* flags) stay in CMake's cache: configure afresh
    if (builtWith !== stamp) fs.rmSync(path.join(llamaToolsDir, "CMakeCache.txt"), { force: true });
    await runCmake(["-S", llamaCppSourceDir, "-B", llamaToolsDir, ...cmakeOptions], log);
    await runCmake(["--build", llamaToolsDir, "--target", "llama-bench", "-j2"], log);
    if (!fs.existsSync(llamaBenchPath)) throw new Error(`the build finished but ${llamaBenchPath} is missing`);
    fs.writeFileSync(optionsStampPath, stamp);
    log(`built llama-bench in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return llamaBenchPath;
}

/** Runs `llama-bench -p <prompts> -n 0 -t <threads> -o json` on a model file. */
export async function runLlamaBench(model: string, options: LlamaBenchOptions): Promise<LlamaBenchRow[]> {
    const args = [
        "-m",
        model,
        "-p",
        options.prompts.join(","),
        "-n",
        "0",
        "-t",
        String(options.threads),
        "-r",
        String(options.repetitions ?? 5),
        "-o",
        "json",
        ...(options.extra ?? []),
    ];
    let childTicks = 0;
    const contention = startContentionMeter(() => childTicks);
    const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
        const child = spawn(llamaBenchPath, args, { stdio: ["ignore", "pipe", "pipe"] });
        // The child's CPU time can only be read while it lives: sample it (the last ~0.2 s is lost).
        const poll = setInterval(() => {
            childTicks = Math.max(childTicks, processTicks(child.pid ?? -1));
        }, 200);
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => {
            out += d.toString("utf8");
        });
        child.stderr.on("data", (d: Buffer) => {
            err += d.toString("utf8");
        });
        child.on("error", (e) => {
            clearInterval(poll);
            reject(e);
        });
        child.on("close", (c) => {
            clearInterval(poll);
            resolve({ stdout: out, stderr: err, code: c });
        });
    });
    const otherCpuShare = contention();
    if (code !== 0) throw new Error(`llama-bench ${args.join(" ")} exited with ${code}:\n${stderr.slice(-3000)}`);
    const rows = JSON.parse(stdout) as Record<string, unknown>[];
    return rows.map((r) => ({
        nPrompt: Number(r.n_prompt),
        nDepth: Number(r.n_depth ?? 0),
        nBatch: Number(r.n_batch),
        nUbatch: Number(r.n_ubatch),
        threads: Number(r.n_threads),
        flashAttention: String(r.flash_attn),
        tokensPerSecond: Number(r.avg_ts),
        stddev: Number(r.stddev_ts),
        samples: Array.isArray(r.samples_ts) ? (r.samples_ts as unknown[]).map(Number) : [Number(r.avg_ts)],
        buildCommit: String(r.build_commit ?? ""),
        otherCpuShare,
    }));
}
