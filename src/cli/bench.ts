/**
 * `llama-reward bench --quick MODEL...`: tokens/s of each GGUF file on this
 * CPU within a time budget (src/bench/quick-bench.ts), the kernel that ran
 * each, the fastest type, and the recommendation of cpuInfo() beside it.
 * Progress lines go to stderr; the table (or, with --json, the report) to
 * stdout.
 */
import { parseArgs } from "node:util";
import { invalidArgument } from "../errors.js";
import {
    QUICK_DEFAULT_SECONDS,
    QUICK_LONG_TOKENS,
    QUICK_SHORT_TOKENS,
    type QuickBenchKernel,
    type QuickBenchProgress,
    type QuickBenchReport,
    quickBench,
} from "../bench/quick-bench.js";
import { integerFlag, numberFlag } from "./flag-values.js";

export const benchUsage = `bench options (the full benchmark is \`npm run bench\` in a clone of the repository):
      --quick               measure each MODEL on this CPU in about a minute (required: the only mode)
  MODEL...                  GGUF reward models, typically file types of one model (BF16, Q8_0, ...)
      --threads N           CPU threads (default: all)
      --seconds S           the time the run should take (default: ${QUICK_DEFAULT_SECONDS}); at least 2 short and
                            1 long conversation per file are scored however long they take
      --json                print the report as JSON instead of the table
`;

const KERNEL_NAMES: Record<QuickBenchKernel, string> = {
    amx: "llama-reward AMX BF16",
    "avx512-bf16": "llama-reward AVX-512 BF16",
    "avx512-fma": "llama-reward AVX-512 FMA (BF16 widened)",
    "avx512-f32": "llama-reward AVX-512 F32",
    "avx512-f16": "llama-reward AVX-512 F16",
    "avx2-fma": "llama-reward AVX2 FMA (BF16 widened)",
    "avx2-f32": "llama-reward AVX2 F32",
    "avx2-f16": "llama-reward AVX2 F16",
    "neon-fma": "llama-reward NEON (BF16 widened)",
    "neon-f32": "llama-reward NEON F32",
    "neon-f16": "llama-reward NEON F16",
    "ggml-amx-int8": "ggml, AMX int8",
    ggml: "ggml",
};

function basename(path: string): string {
    return path.split(/[\\/]/).at(-1) ?? path;
}

function progressLine(p: QuickBenchProgress): string {
    if (p.phase === "estimate") {
        const e = p.estimate;
        return `estimate ${p.index + 1}/${p.count} ${basename(e.path)} (${e.fileType}): ${e.tokensPerSecond.toFixed(1)} tok/s on one conversation`;
    }
    if (p.phase === "workload") {
        return (
            `workload per file: ${p.short} conversations of ~${QUICK_SHORT_TOKENS} tokens, ${p.long} of ~${QUICK_LONG_TOKENS}` +
            ` (about ${Math.round(p.plannedSeconds)} s in all at the estimated speeds)`
        );
    }
    const f = p.file;
    return (
        `${p.index + 1}/${p.count} ${basename(f.path)} (${f.fileType}, ${KERNEL_NAMES[f.kernel]}): ` +
        `short ${f.short.tokensPerSecond.toFixed(1)} tok/s, long ${f.long.tokensPerSecond.toFixed(1)} tok/s`
    );
}

/** The report as a table and two sentences: the fastest file, and the recommendation beside it. */
export function formatQuickBench(r: QuickBenchReport): string {
    const header = ["file", "type", "kernel", "short tok/s", "long tok/s", "all tok/s"];
    const rows = r.files.map((f) => [
        basename(f.path),
        f.fileType,
        KERNEL_NAMES[f.kernel],
        f.short.tokensPerSecond.toFixed(1),
        f.long.tokensPerSecond.toFixed(1),
        f.tokensPerSecond.toFixed(1),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const line = (cells: string[]): string =>
        cells
            .map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
            .join("  ")
            .trimEnd();
    const first = r.files[0];
    const tokens = first ? `${first.short.tokens} and ${first.long.tokens} tokens` : "";
    const check = {
        agrees: "the measurement agrees",
        disagrees: `the measurement disagrees: ${r.fastest.fileType} scored fastest here`,
        "not-measured": "no file of that type was measured",
    }[r.check];
    // the AMX BF16 kernel multiplies weights where they lie in the mapped file; the AVX-512 kernels stage rows that
    // are off cache lines (docs/performance.md, "Weights on cache-line boundaries")
    const misaligned = r.files
        .filter((f) => f.weightAlignment < 64 && f.kernel === "amx")
        .map(
            (f) =>
                `note: ${basename(f.path)}'s weight matrices are aligned to ${f.weightAlignment} bytes, not to cache lines (64): ` +
                "its figures are 5-12% below what the same weights score aligned; `llama-reward convert` writes them aligned, " +
                "and loading with useMmap: false (--no-mmap) aligns them in memory",
        );
    return [
        `CPU: ${r.cpu.model} (kind ${r.cpu.kind}), ${r.threads} threads; ggml CPU backend: ${r.cpu.ggmlCpu.join(" ") || "unknown"}`,
        `workload per file: ${r.workload.short} conversations of ~${QUICK_SHORT_TOKENS} tokens and ${r.workload.long} of ~${QUICK_LONG_TOKENS} (${tokens}); ` +
            `${r.elapsedSeconds.toFixed(0)} s in all, load average ${r.loadAverage.map((l) => l.toFixed(2)).join(" ")}`,
        "",
        line(header),
        ...rows.map(line),
        ...misaligned,
        "",
        `fastest here: ${r.fastest.fileType} (${basename(r.fastest.path)}), ${r.fastest.tokensPerSecond.toFixed(1)} tok/s`,
        `recommended for this CPU: ${r.recommendation.fileType} (${r.recommendation.reason}); ${check}`,
    ].join("\n");
}

export async function commandBench(argv: string[]): Promise<number> {
    const { positionals, values } = parseArgs({
        args: argv,
        options: {
            quick: { type: "boolean" },
            threads: { type: "string" },
            seconds: { type: "string" },
            json: { type: "boolean" },
        },
        strict: true,
        allowPositionals: true,
    });
    if (!values.quick) throw invalidArgument("bench needs --quick (the full benchmark is `npm run bench` in a clone of the repository)");
    if (positionals.length === 0) throw invalidArgument("bench --quick needs at least one MODEL.gguf");
    const report = await quickBench(positionals, {
        threads: integerFlag(values.threads, "threads", 1),
        seconds: numberFlag(values.seconds, "seconds", 0),
        onProgress: (p) => process.stderr.write(`llama-reward bench: ${progressLine(p)}\n`),
    });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatQuickBench(report)}\n`);
    return 0;
}
