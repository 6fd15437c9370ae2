/**
 * Turns one model type's measurements into table rows (value, reference,
 * ratio, target, PASS/MISS) and prints the whole table as aligned markdown.
 */
import type { LlamaBenchRow } from "./llama-bench-tool.js";
import type { MachineInfo } from "./machine-info.js";
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
    peer: PeerResult;
}

const tps = (x: number): string => `${x.toFixed(1)} tok/s`;
const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

function ratioRow(metric: string, value: number, reference: number, refLabel: string, min?: number, unit = tps): Row {
    const ratio = value / reference;
    return {
        metric, value: unit(value), reference: `${unit(reference)} ${refLabel}`.trim(), ratio: `${ratio.toFixed(2)}×`,
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

export function rowsFor(m: TypeMeasurements): Row[] {
    const { ours, peer } = m;
    const rows: Row[] = [
        ratioRow(`a. scoreBatch, 64 mixed (${ours.mixed.tokens} tok, ${(ours.mixed.tokens / ours.mixed.steps).toFixed(0)} tok/decode)`,
            ours.mixed.tokensPerSecond, llamaBenchReference(m), "llama-bench pp512", 0.9),
        ratioRow(`b. vs node-llama-cpp, all 64`, ours.mixed.tokensPerSecond, peer.mixed.tokensPerSecond, "nlc"),
        ratioRow(`b. vs node-llama-cpp, ${ours.short.conversations} conv ≤128 tok`,
            ours.short.tokensPerSecond, peer.short.tokensPerSecond, "nlc", 1.5),
        ratioRow(`b. vs node-llama-cpp, ${ours.long.conversations} conv >512 tok`,
            ours.long.tokensPerSecond, peer.long.tokensPerSecond, "nlc", 1.0),
    ];
    const maxDelta = Math.max(...ours.rewards.map((r, i) => Math.abs(r - peer.rewards[i]!)));
    const spread = Math.max(...ours.rewards) - Math.min(...ours.rewards);
    const b = ours.bestOf;
    rows.push({ metric: "b. rewards, max |Δ| vs node-llama-cpp + JS head", value: maxDelta.toExponential(2),
        reference: `spread ${spread.toFixed(3)}; own paths ${b.maxDiff.toExponential(1)}`, ratio: "", target: "", verdict: "" });
    rows.push(ratioRow(`c. best-of-8 (${b.promptTokens}+8×${b.answerTokens[0]} tok): scoreResponses vs 8× score()`,
        b.scoreResponses.tokensPerSecond, b.naiveSequential.tokensPerSecond, "naive", 3.5));
    rows.push(ratioRow("c. scoreResponses vs scoreBatch(8 full conversations)",
        b.scoreResponses.tokensPerSecond, b.scoreBatch.tokensPerSecond, "scoreBatch"));
    const budget = m.fileBytes + kvBytes(ours);
    rows.push({ metric: `d. peak RSS (context ${ours.info.contextSize}, KV ${gib(kvBytes(ours))})`, value: gib(ours.maxRssBytes),
        reference: `${gib(budget)} file+KV (nlc ${gib(peer.maxRssBytes)})`, ratio: `${(ours.maxRssBytes / budget).toFixed(2)}×`,
        target: "", verdict: "" });
    rows.push({ metric: "d. load time (file in page cache)", value: `${ours.loadSeconds.toFixed(2)} s`,
        reference: `${peer.loadSeconds.toFixed(2)} s nlc`, ratio: "", target: "", verdict: "" });
    return rows;
}

function table(rows: Row[]): string {
    const header: Row = { metric: "metric", value: "llama-reward", reference: "reference", ratio: "ratio", target: "target", verdict: "" };
    const cols = ["metric", "value", "reference", "ratio", "target", "verdict"] as const;
    const width = cols.map((c) => Math.max(...[header, ...rows].map((r) => r[c].length)));
    const line = (r: Row): string => `| ${cols.map((c, i) => r[c].padEnd(width[i]!)).join(" | ")} |`;
    return [line(header), `|${width.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

export function formatReport(machine: MachineInfo, measured: TypeMeasurements[]): string {
    const out = [
        `Machine: ${machine.cpu}, ${machine.cores} CPUs, ${machine.memoryGiB} GiB; threads ${machine.threads} for every peer`,
        `Versions: node ${machine.node}, llama-reward ${machine.llamaReward}, llama.cpp ${machine.llamaCppTag}, node-llama-cpp ${machine.nodeLlamaCpp}`,
    ];
    for (const m of measured) {
        const { ours: o, peer: p } = m;
        const lb = (r: LlamaBenchRow): string => `${r.tokensPerSecond.toFixed(1)} ± ${r.stddev.toFixed(1)}` +
            (r.otherCpuShare > 0.05 ? ` (others took ${(r.otherCpuShare * 100).toFixed(0)}% CPU)` : "");
        const fa = m.llamaBench.before.flashAttention === "-1" ? "auto" : m.llamaBench.before.flashAttention;
        out.push("",
            `Model ${m.type.toUpperCase()}: random-weight Llama-3.2-1B shape, ${gib(m.fileBytes)} (rewards meaningless)`,
            `  llama-reward: default options (batchSize ${String(o.options.batchSize)}, parallel ${String(o.options.parallel)}, ` +
                `flashAttention ${String(o.options.flashAttention)}, contextSize ${o.info.contextSize})`,
            `  llama-bench pp512 (fa ${fa}): ${lb(m.llamaBench.before)} before, ${lb(m.llamaBench.after)} after llama-reward; ` +
                `reference = fastest repetition, ${llamaBenchReference(m).toFixed(1)}`,
            `  node-llama-cpp: LlamaEmbeddingContext, contextSize ${p.contextSize}, batchSize ${p.batchSize}, flashAttention ${p.flashAttention}; ` +
                `head-less copy, LAST pooling, head applied in JS to the raw vector (|v| = ${p.embeddingNorm.toFixed(1)}, not normalized)`);
        const busy = Math.max(o.otherCpuShare, p.otherCpuShare, busiestLlamaBench(m));
        if (busy > 0.05) out.push(`  WARNING: other processes used ${(busy * 100).toFixed(0)}% of the CPUs while timing; rerun on an idle machine`);
        out.push(table(rowsFor(m)));
    }
    return out.join("\n");
}
