/**
 * `npm run fidelity`: the figures behind docs/fidelity.md.
 *
 * 1. Error against the independent float64 reference (test/reference) on the
 *    tiny model's F32 and F16 files and a Q8_0 quantized from the F32 (judged
 *    against the F32 reference), under exact settings, the defaults,
 *    reproducible mode and flash attention forced off (F16 cache).
 * 2. Batch invariance: one conversation's reward alone, inside a batch of 32
 *    others, as a shared-prompt continuation and next to concurrent calls,
 *    under each setting.
 * 3. The throughput of reproducible mode and of flash attention off against the
 *    defaults (scoreBatch of the benchmark's 64 mixed conversations and its
 *    best-of-8).
 *
 * With --bench, parts 2 and 3 also run on the benchmark's random 1B-shaped
 * Q8_0 model (generated into .bench/ on first use, several minutes). Tables go
 * to stdout as markdown, progress to stderr.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { RewardModel, quantize, type ChatMessage, type LoadOptions } from "../../src/index.js";
import { loadReferenceModel, referenceRewards } from "../../test/reference/llama-reference.js";
import { conversations, filler, tinyF16, tinyF32 } from "../../test/support/fixtures.js";
import { bestOfN, mixedConversations } from "./bench-conversations.js";
import { prepareBenchModels } from "./prepare-models.js";

const settings: Record<string, LoadOptions> = {
    exact: { flashAttention: false, kvCacheType: "f32" },
    defaults: {},
    reproducible: { reproducible: true },
    "flash attention off": { flashAttention: false },
};

const long: ChatMessage[] = [
    { role: "user", content: filler(1400, 7) },
    { role: "assistant", content: filler(300, 8) },
];
const prompt: ChatMessage[] = [{ role: "user", content: `Read this and say what it is about: ${filler(700, 21)}` }];
const target: ChatMessage[] = [...prompt, { role: "assistant", content: "It is about a fox, a dog and reward models." }];
const others: ChatMessage[][] = Array.from({ length: 32 }, (_, i) => [
    { role: "user", content: filler(10 + ((i * 37) % 300), 100 + i) },
    { role: "assistant", content: filler(5 + (i % 9) * 4, 200 + i) },
]);

function log(line: string): void {
    process.stderr.write(`[fidelity] ${line}\n`);
}

function exp(x: number): string {
    return x === 0 ? "0 (bitwise)" : x.toExponential(1);
}

async function withModel<T>(file: string, options: LoadOptions, fn: (m: RewardModel) => Promise<T>): Promise<T> {
    const model = await RewardModel.load(file, options);
    try {
        return await fn(model);
    } finally {
        await model.dispose();
    }
}

async function referenceErrors(q8: string): Promise<string> {
    const cases = [...conversations, long];
    const rows = [`| file | ${Object.keys(settings).join(" | ")} |`, `|---|${"---|".repeat(Object.keys(settings).length)}`];
    for (const [label, file, refFile] of [
        ["F32", tinyF32, tinyF32],
        ["F16", tinyF16, tinyF16],
        ["Q8_0 (vs F32)", q8, tinyF32],
    ] as const) {
        log(`reference rewards for ${label}`);
        const reference = loadReferenceModel(refFile);
        const expected = await withModel(file, settings.exact ?? {}, async (m) =>
            cases.map((c) => referenceRewards(reference, m.tokenizeConversation(c))[0] as number),
        );
        const cells: string[] = [];
        for (const [name, options] of Object.entries(settings)) {
            log(`${label}: ${name}`);
            const got = await withModel(file, options, (m) => m.scoreBatch(cases));
            const rel = Math.max(...got.map((g, i) => Math.abs(g - (expected[i] as number)) / Math.abs(expected[i] as number)));
            cells.push(exp(rel));
        }
        rows.push(`| ${label} | ${cells.join(" | ")} |`);
    }
    return rows.join("\n");
}

async function invariance(file: string, label: string): Promise<string> {
    const rows = [
        `| ${label} | reward | alone vs batch of 32 | vs shared-prompt continuation | vs concurrent calls |`,
        "|---|---|---|---|---|",
    ];
    for (const [name, options] of Object.entries(settings)) {
        if (name === "flash attention off") continue;
        log(`${label}: invariance, ${name}`);
        const cells = await withModel(file, options, async (m) => {
            const alone = await m.score(target);
            const inBatch = (await m.scoreBatch([...others.slice(0, 16), target, ...others.slice(16)]))[16] as number;
            const continued = (
                await m.scoreResponses(prompt, ["A fox.", "Dogs.", filler(30, 22), "It is about a fox, a dog and reward models."])
            )[3] as number;
            const [, concurrent] = await Promise.all([m.scoreBatch(others), m.score(target), m.scoreBatch(conversations)]);
            return [alone.toFixed(4), exp(Math.abs(inBatch - alone)), exp(Math.abs(continued - alone)), exp(Math.abs(concurrent - alone))];
        });
        rows.push(`| ${name} | ${cells.join(" | ")} |`);
    }
    return rows.join("\n");
}

async function throughput(file: string, label: string): Promise<string> {
    const rows = [`| ${label} | 64 mixed (tok/s) | best-of-8 (s) |`, "|---|---|---|"];
    const measured: number[][] = [];
    for (const name of ["defaults", "reproducible", "flash attention off"]) {
        log(`${label}: throughput, ${name}`);
        const r = await withModel(file, settings[name] ?? {}, async (m) => {
            const count = (c: ChatMessage[]) => m.tokenizeConversation(c).length;
            const mixed = mixedConversations(count);
            const tokens = mixed.reduce((n, c) => n + count(c), 0);
            let t = performance.now();
            await m.scoreBatch(mixed);
            const rate = tokens / ((performance.now() - t) / 1000);
            const best = bestOfN(count);
            t = performance.now();
            await m.scoreResponses(best.prompt, best.answers);
            return [rate, (performance.now() - t) / 1000];
        });
        measured.push(r);
        rows.push(`| ${name} | ${(r[0] as number).toFixed(1)} | ${(r[1] as number).toFixed(2)} |`);
    }
    const [d, p, f] = measured as [number[], number[], number[]];
    const ratio = (x: number[], label: string) =>
        `| ${label} / defaults | ${((x[0] as number) / (d[0] as number)).toFixed(2)}× | ${((x[1] as number) / (d[1] as number)).toFixed(2)}× time |`;
    rows.push(ratio(p, "reproducible"), ratio(f, "flash attention off"));
    return rows.join("\n");
}

async function main(): Promise<void> {
    const bench = process.argv.includes("--bench");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-fidelity-"));
    try {
        const q8 = path.join(dir, "tiny-q8_0.gguf");
        await quantize(tinyF32, q8, "Q8_0");
        const out: string[] = [];
        out.push(
            "### Error against the float64 reference (tiny model, max relative error over 5 conversations of 20 to 1712 tokens)",
            "",
            await referenceErrors(q8),
            "",
        );
        out.push("### Batch invariance (|Δ| of one conversation's reward, 817 tokens)", "", await invariance(tinyF32, "tiny F32"), "");
        const q8Bench = bench ? (await prepareBenchModels(["q8_0"]))[0]?.reward : undefined;
        if (q8Bench) out.push(await invariance(q8Bench, "bench Q8_0 (1B shape)"), "");
        out.push("### Throughput of reproducible mode and flash attention", "", await throughput(tinyF32, "tiny F32"), "");
        if (q8Bench) out.push(await throughput(q8Bench, "bench Q8_0 (1B shape)"), "");
        process.stdout.write(`${out.join("\n")}\n`);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

main().catch((error: unknown) => {
    process.stderr.write(`fidelity: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
});
