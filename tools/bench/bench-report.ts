/**
 * Turns one model type's measurements into table rows (value, reference,
 * ratio, target, PASS/MISS) and prints the whole table as aligned markdown,
 * plus a summary table with one line per file type.
 */
import type { LlamaBenchRow } from "./llama-bench-tool.js";
import type { MachineInfo } from "./machine-info.js";
import type { Fp32Arbiter, RewardAgreement, TorchResult } from "./torch-peer.js";
import type { OursResult, PeerResult } from "./worker-protocol.js";

export interface Row {
    metric: string;
    value: string;
    reference: string;
    ratio: string;
    target: string;
    verdict: "PASS" | "MISS" | "";
}

export interface TypeMeasurements {
    type: string;
    fileBytes: number;
    /**
     * llama-bench pp512 run just before and just after llama-reward. The
     * reference is the fastest single repetition of both: on a shared machine
     * noise only ever slows a run down, and a slowed reference would flatter
     * llama-reward.
     */
    llamaBench: { before: LlamaBenchRow; after: LlamaBenchRow };
    ours: OursResult;
    /** node-llama-cpp, absent with --peers torch. */
    peer?: PeerResult;
    /** The PyTorch peer on this file (bf16 on BF16, fp32 on F32), or why it did not run. */
    /** skipped: left out before it ran (no torch, reference BLAS); failed: it ran and did not finish. */
    /** arbiter: the fp32 forward of the same weights, run where the bf16 peer's rewards missed the bar against ours. */
    torch?: { result: TorchResult; agreement: RewardAgreement; arbiter?: Fp32Arbiter } | { skipped: string } | { failed: string };
}

/** Targets (issue 13): llama-bench pp512 on every type, the torch bf16 peer on the BF16 file, memory. */
export const TARGETS = { llamaBench: 1.0, nlcShort: 1.5, nlcLong: 1.0, torchBf16: 1.0, bestOf: 3.5, rssOverBudget: 1.15 } as const;

const tps = (x: number): string => `${x.toFixed(1)} tok/s`;
const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

function ratioRow(metric: string, value: number, reference: number, refLabel: string, min?: number, unit = tps): Row {
    const ratio = value / reference;
    return {
        metric,
        value: unit(value),
        reference: `${unit(reference)} ${refLabel}`.trim(),
        ratio: `${ratio.toFixed(2)}×`,
        target: min === undefined ? "" : `≥ ${min.toFixed(2)}×`,
        verdict: min === undefined ? "" : ratio >= min ? "PASS" : "MISS",
    };
}

/** KV cache bytes of a context: cells × layers × (K + V) × KV width × 2 bytes (f16). */
export function kvBytes(o: OursResult): number {
    const kvWidth = (o.info.embeddingSize / o.info.headCount) * o.info.kvHeadCount;
    return o.info.contextSize * o.info.layerCount * 2 * kvWidth * 2;
}

function llamaBenchReference(m: TypeMeasurements): number {
    return Math.max(...m.llamaBench.before.samples, ...m.llamaBench.after.samples);
}

function busiestLlamaBench(m: TypeMeasurements): number {
    return Math.max(m.llamaBench.before.otherCpuShare, m.llamaBench.after.otherCpuShare);
}

/**
 * Whether the peer's tokens/s may be compared with ours: its rewards agree with ours, or, where they do not, the
 * fp32 forward of the same weights shows the difference to be the bf16 peer's own rounding (Fp32Arbiter).
 */
function torchComparable(t: { agreement: RewardAgreement; arbiter?: Fp32Arbiter }): boolean {
    return t.agreement.agree || t.arbiter?.sameModel === true;
}

function torchRows(m: TypeMeasurements): Row[] {
    const t = m.torch;
    if (t === undefined) return [];
    if ("skipped" in t) return [{ metric: "f. vs PyTorch", value: "not run", reference: t.skipped, ratio: "", target: "", verdict: "" }];
    if ("failed" in t) {
        // the BF16 file's peer carries a target: a peer that failed leaves it unmet
        const target = m.type === "bf16" ? `≥ ${TARGETS.torchBf16.toFixed(2)}×` : "";
        return [{ metric: "f. vs PyTorch", value: "failed", reference: t.failed, ratio: "", target, verdict: target ? "MISS" : "" }];
    }
    const { result: r, agreement: a, arbiter } = t;
    const label = `torch ${r.torch} ${r.dtype}${r.dtype === "fp32" ? ` (${r.blas} BLAS)` : ""}`;
    const min = r.dtype === "bf16" ? TARGETS.torchBf16 : undefined;
    const comparable = torchComparable(t);
    // verdict "": a distance reported without a target
    const agreementRow = (metric: string, g: RewardAgreement, verdict: Row["verdict"], note = "", target = "≤ 0.05 of spread"): Row => ({
        metric,
        value: g.maxAbsDiff.toExponential(2),
        reference: `spread ${g.spread.toFixed(3)}, r = ${g.correlation.toFixed(5)}${note}`,
        ratio: `${(g.maxAbsDiff / g.spread).toFixed(3)}`,
        target: verdict === "" ? "" : target,
        verdict,
    });
    // over the bar but comparable: the fp32 arbiter put the difference on the peer's rounding
    const excused = !a.agree && comparable;
    const rows: Row[] = [
        agreementRow(
            `f. rewards vs ${label}: max |Δ|, correlation`,
            a,
            comparable ? "PASS" : "MISS",
            excused ? "; over the bar, but the fp32 forward of the same weights puts the difference on the peer's rounding" : "",
            excused ? "≤ 0.05 of spread, or the fp32 arbiter" : undefined,
        ),
    ];
    if (arbiter !== undefined) {
        rows.push(
            agreementRow(
                `f. arbiter, torch fp32 on the same weights: vs ours`,
                arbiter.oursVsFp32,
                arbiter.oursVsFp32.agree ? "PASS" : "MISS",
            ),
            agreementRow(`f. arbiter, torch fp32 on the same weights: vs torch ${r.dtype}`, arbiter.bf16VsFp32, ""),
        );
    }
    for (const [name, ours, peer] of [
        ["≤128 tok", m.ours.short, r.short],
        [">512 tok", m.ours.long, r.long],
    ] as const) {
        const metric = `f. vs PyTorch ${r.dtype}, ${peer.conversations} conv ${name}`;
        if (comparable) rows.push(ratioRow(metric, ours.tokensPerSecond, peer.tokensPerSecond, `torch ${r.dtype}`, min));
        else
            rows.push({
                metric,
                value: tps(ours.tokensPerSecond),
                reference: `${tps(peer.tokensPerSecond)} torch (rewards disagree: not compared)`,
                ratio: "",
                target: "",
                verdict: "",
            });
    }
    return rows;
}

export function rowsFor(m: TypeMeasurements): Row[] {
    const { ours, peer } = m;
    const rows: Row[] = [
        ratioRow(
            `a. scoreBatch, 64 mixed (${ours.mixed.tokens} tok, ${(ours.mixed.tokens / ours.mixed.steps).toFixed(0)} tok/decode)`,
            ours.mixed.tokensPerSecond,
            llamaBenchReference(m),
            "llama-bench pp512",
            TARGETS.llamaBench,
        ),
        ratioRow(
            `a. scoreBatch, ${ours.short.conversations} conv ≤128 tok`,
            ours.short.tokensPerSecond,
            llamaBenchReference(m),
            "llama-bench pp512",
        ),
        ratioRow(
            `a. scoreBatch, ${ours.long.conversations} conv >512 tok`,
            ours.long.tokensPerSecond,
            llamaBenchReference(m),
            "llama-bench pp512",
        ),
    ];
    const b = ours.bestOf;
    if (peer !== undefined) {
        rows.push(
            ratioRow(`b. vs node-llama-cpp, all 64`, ours.mixed.tokensPerSecond, peer.mixed.tokensPerSecond, "nlc"),
            ratioRow(
                `b. vs node-llama-cpp, ${ours.short.conversations} conv ≤128 tok`,
                ours.short.tokensPerSecond,
                peer.short.tokensPerSecond,
                "nlc",
                TARGETS.nlcShort,
            ),
            ratioRow(
                `b. vs node-llama-cpp, ${ours.long.conversations} conv >512 tok`,
                ours.long.tokensPerSecond,
                peer.long.tokensPerSecond,
                "nlc",
                TARGETS.nlcLong,
            ),
        );
        const maxDelta = Math.max(...ours.rewards.map((r, i) => Math.abs(r - peer.rewards[i]!)));
        const spread = Math.max(...ours.rewards) - Math.min(...ours.rewards);
        rows.push({
            metric: "b. rewards, max |Δ| vs node-llama-cpp + JS head",
            value: maxDelta.toExponential(2),
            reference: `spread ${spread.toFixed(3)}; own paths ${b.maxDiff.toExponential(1)}`,
            ratio: "",
            target: "",
            verdict: "",
        });
    }
    rows.push(
        ratioRow(
            `c. best-of-8 (${b.promptTokens}+8×${b.answerTokens[0]} tok): scoreResponses vs 8× score()`,
            b.scoreResponses.tokensPerSecond,
            b.naiveSequential.tokensPerSecond,
            "naive",
            TARGETS.bestOf,
        ),
    );
    rows.push(
        ratioRow(
            "c. scoreResponses vs scoreBatch(8 full conversations)",
            b.scoreResponses.tokensPerSecond,
            b.scoreBatch.tokensPerSecond,
            "scoreBatch",
        ),
    );
    const budget = m.fileBytes + kvBytes(ours);
    const rss = ours.maxRssBytes / budget;
    const others = [
        peer ? `nlc ${gib(peer.maxRssBytes)}` : "",
        m.torch && "result" in m.torch ? `torch ${gib(m.torch.result.maxRssBytes)}` : "",
    ]
        .filter(Boolean)
        .join(", ");
    rows.push({
        metric: `d. peak RSS (context ${ours.info.contextSize}, KV ${gib(kvBytes(ours))})`,
        value: gib(ours.maxRssBytes),
        reference: `${gib(budget)} file+KV${others ? ` (${others})` : ""}`,
        ratio: `${rss.toFixed(2)}×`,
        target: `≤ ${TARGETS.rssOverBudget.toFixed(2)}×`,
        verdict: rss <= TARGETS.rssOverBudget ? "PASS" : "MISS",
    });
    if (ours.residentAfter) {
        rows.push({
            metric: "d. resident after the runs: anonymous + file-backed",
            value: gib(ours.residentAfter.anonBytes + ours.residentAfter.fileBytes),
            reference: `${gib(ours.residentAfter.anonBytes)} anon + ${gib(ours.residentAfter.fileBytes)} file`,
            ratio: "",
            target: "",
            verdict: "",
        });
    }
    const loads = [
        peer ? `${peer.loadSeconds.toFixed(2)} s nlc` : "",
        m.torch && "result" in m.torch ? `${m.torch.result.loadSeconds.toFixed(2)} s torch` : "",
    ]
        .filter(Boolean)
        .join(", ");
    rows.push({
        metric: "d. load time (file in page cache)",
        value: `${ours.loadSeconds.toFixed(2)} s`,
        reference: loads,
        ratio: "",
        target: "",
        verdict: "",
    });
    rows.push(...torchRows(m));
    return rows;
}

/** One line per file type: the numbers the README's file-type table is made from. */
export function summaryTable(measured: TypeMeasurements[]): string {
    const header = [
        "type",
        "file",
        "pp512 (llama-bench)",
        "scoreBatch ≤128 tok",
        "scoreBatch >512 tok",
        "best-of-8",
        "peak RSS",
        "load",
        "torch ≤128 / >512",
    ];
    const lines = measured.map((m) => {
        const t = m.torch && "result" in m.torch && torchComparable(m.torch) ? m.torch.result : undefined;
        return [
            m.type.toUpperCase(),
            gib(m.fileBytes),
            tps(llamaBenchReference(m)),
            tps(m.ours.short.tokensPerSecond),
            tps(m.ours.long.tokensPerSecond),
            `${m.ours.bestOf.scoreResponses.seconds.toFixed(2)} s`,
            gib(m.ours.maxRssBytes),
            `${m.ours.loadSeconds.toFixed(2)} s`,
            t ? `${t.short.tokensPerSecond.toFixed(1)} / ${t.long.tokensPerSecond.toFixed(1)} (${t.dtype})` : "",
        ];
    });
    const width = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(width[i]!)).join(" | ")} |`;
    return [line(header), `|${width.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(line)].join("\n");
}

function table(rows: Row[]): string {
    const header: Row = { metric: "metric", value: "llama-reward", reference: "reference", ratio: "ratio", target: "target", verdict: "" };
    const cols = ["metric", "value", "reference", "ratio", "target", "verdict"] as const;
    const width = cols.map((c) => Math.max(...[header, ...rows].map((r) => r[c].length)));
    const line = (r: Row): string => `| ${cols.map((c, i) => r[c].padEnd(width[i]!)).join(" | ")} |`;
    return [line(header), `|${width.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

const BF16_KERNEL_NAMES: Record<MachineInfo["bf16Kernel"], string> = {
    amx: "llama-reward's AMX kernel",
    "avx512-bf16": "llama-reward's AVX-512 BF16 kernel",
    "avx512-fma": "llama-reward's AVX-512 FMA kernel (widened to F32)",
    "avx2-fma": "llama-reward's AVX2 FMA kernel (widened to F32)",
    "neon-fma": "llama-reward's NEON kernel (widened to F32)",
    ggml: "ggml's kernel",
};

const F32_KERNEL_NAMES: Record<MachineInfo["f32Kernel"], string> = {
    "avx512-f32": "llama-reward's AVX-512 F32 kernel",
    "avx2-f32": "llama-reward's AVX2 F32 kernel",
    "neon-f32": "llama-reward's NEON F32 kernel",
    ggml: "ggml's kernel",
};

const F16_KERNEL_NAMES: Record<MachineInfo["f16Kernel"], string> = {
    "avx512-f16": "llama-reward's AVX-512 kernel (widened to F32)",
    "avx2-f16": "llama-reward's AVX2 kernel (widened to F32)",
    "neon-f16": "llama-reward's NEON kernel (widened to F32)",
    ggml: "ggml's kernel",
};

/** `noAmx`: the run played a CPU without AMX (`--no-amx`, no-amx-play.ts). */
export function formatReport(machine: MachineInfo, measured: TypeMeasurements[], noAmx = false): string {
    const out = [
        `Machine: ${machine.cpu}, ${machine.cores} CPUs, ${machine.memoryGiB} GiB; threads ${machine.threads} for every peer`,
        ...(noAmx
            ? [
                  "Played: a CPU without AMX (--no-amx): llama-reward's AMX BF16 kernel off, ggml's zen4 CPU variant, " +
                      "PyTorch's oneDNN capped at AVX512_CORE_BF16 (node-llama-cpp's own ggml is not restricted)",
              ]
            : []),
        `Kernels: BF16 weights on ${BF16_KERNEL_NAMES[machine.bf16Kernel]}, F32 weights on ${F32_KERNEL_NAMES[machine.f32Kernel]}, F16 weights on ${F16_KERNEL_NAMES[machine.f16Kernel]}; intermediate tensors aligned to ${machine.computeAlignment} bytes; ggml CPU backend with ${machine.ggmlCpu.join(" ") || "(unknown)"}` +
            (machine.cpuBackend
                ? ` (${machine.cpuBackend.library}, built by ${machine.cpuBackend.builtBy}${machine.cpuBackend.compiler ? `, ${machine.cpuBackend.compiler}` : ""})`
                : ""),
        `Versions: node ${machine.node}, llama-reward ${machine.llamaReward}, llama.cpp ${machine.llamaCppTag}, node-llama-cpp ${machine.nodeLlamaCpp}`,
    ];
    for (const m of measured) {
        const { ours: o, peer: p } = m;
        const lb = (r: LlamaBenchRow): string =>
            `${r.tokensPerSecond.toFixed(1)} ± ${r.stddev.toFixed(1)}` +
            (r.otherCpuShare > 0.05 ? ` (others took ${(r.otherCpuShare * 100).toFixed(0)}% CPU)` : "");
        const fa = m.llamaBench.before.flashAttention === "-1" ? "auto" : m.llamaBench.before.flashAttention;
        out.push(
            "",
            `Model ${m.type.toUpperCase()}: random-weight Llama-3.2-1B shape, ${gib(m.fileBytes)} (rewards meaningless)`,
            `  llama-reward: default options (batchSize ${String(o.options.batchSize)}, parallel ${String(o.options.parallel)}, ` +
                `flashAttention ${String(o.options.flashAttention)}, contextSize ${o.info.contextSize})`,
            `  llama-bench pp512 (fa ${fa}): ${lb(m.llamaBench.before)} before, ${lb(m.llamaBench.after)} after llama-reward; ` +
                `reference = fastest repetition, ${llamaBenchReference(m).toFixed(1)}`,
            p
                ? `  node-llama-cpp: LlamaEmbeddingContext, contextSize ${p.contextSize}, batchSize ${p.batchSize}, flashAttention ${p.flashAttention}; ` +
                      `head-less copy, LAST pooling, head applied in JS to the raw vector (|v| = ${p.embeddingNorm.toFixed(1)}, not normalized)`
                : "  node-llama-cpp: not run (--peers)",
        );
        const t = m.torch && "result" in m.torch ? m.torch.result : undefined;
        if (t) {
            out.push(
                `  PyTorch ${t.torch}: plain LlamaForSequenceClassification forward in ${t.dtype}, ${t.threads} threads, ` +
                    `padded batches of ≤ ${t.maxBatch} similar-length conversations, full last layer on every token (as transformers)` +
                    (t.dtype === "fp32"
                        ? `; fp32 matmuls through ${t.blas} BLAS`
                        : `; bf16 matmuls through oneDNN (${t.onednn.bf16Matmul}, ${t.onednn.bf16Operands ? "bf16" : "NOT bf16"} operands; ISA: ${t.onednn.isa})`),
            );
        }
        const busy = Math.max(o.otherCpuShare, p?.otherCpuShare ?? 0, t?.otherCpuShare ?? 0, busiestLlamaBench(m));
        if (busy > 0.05)
            out.push(`  WARNING: other processes used ${(busy * 100).toFixed(0)}% of the CPUs while timing; rerun on an idle machine`);
        out.push(table(rowsFor(m)));
    }
    if (measured.length > 1) out.push("", "Summary (tokens/s, 2 threads unless stated above):", summaryTable(measured));
    return out.join("\n");
}
