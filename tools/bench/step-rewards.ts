/**
 * Process rewards in one pass against the per-prefix way (the way the
 * RLHFlow reference code scores a solution: one full forward pass of the
 * growing conversation per step). A 20-step solution with a step tag after
 * each step is scored with scoreSteps() (one pass) and by scoring each prefix
 * up to a step tag separately (20 sequential scoreTokens() calls), on the
 * same model and thread count; both give the same step values (the largest
 * difference is printed). Usage, after `npm run build:ts`:
 *
 *   node dist/tools/bench/step-rewards.js [MODEL.gguf] [--steps N] [--words N] [--threads N]
 *
 * MODEL defaults to the benchmark's Q8_0 reward model (`npm run bench` makes it).
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { RewardModel } from "../../src/index.js";
import { rewardModelPath } from "./bench-paths.js";

const TAG = "<|reserved_special_token_0|>";

function words(n: number, seed: number): string {
    const list = "we add the two numbers then divide by three so the result is seven and check it again".split(" ");
    let x = seed;
    return Array.from({ length: n }, () => {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        return list[(x >>> 16) % list.length];
    }).join(" ");
}

async function main(): Promise<void> {
    const { positionals, values } = parseArgs({
        allowPositionals: true,
        options: { steps: { type: "string" }, words: { type: "string" }, threads: { type: "string" } },
    });
    const file = positionals[0] ?? rewardModelPath("q8_0");
    const stepCount = Number(values.steps ?? 20);
    const wordsPerStep = Number(values.words ?? 12);
    const threads = Number(values.threads ?? 2);
    const model = await RewardModel.load(file, { threads, contextSize: 4096 });
    try {
        const body = Array.from({ length: stepCount }, (_, k) => `Step ${k + 1}: ${words(wordsPerStep, k + 1)} ${TAG}`).join("\n");
        const messages = [
            { role: "user", content: "A shop sells pens at 3 dollars each. How much do 7 pens cost? Solve step by step." },
            { role: "assistant", content: body },
        ];
        const tokens = model.tokenizeConversation(messages);
        await model.scoreTokens(tokens.slice(0, 16)); // warm up

        let t0 = performance.now();
        const onePass = await model.scoreSteps(messages, { stepTag: TAG, activation: "none" });
        const onePassMs = performance.now() - t0;

        const positions = onePass.steps.map((s) => s.position);
        t0 = performance.now();
        const perPrefix: number[] = [];
        for (const p of positions) perPrefix.push(await model.scoreTokens(tokens.slice(0, p + 1)));
        const perPrefixMs = performance.now() - t0;

        const prefixTokens = positions.reduce((n, p) => n + p + 1, 0);
        const maxDiff = Math.max(...onePass.steps.map((s, k) => Math.abs(s.values[0]! - perPrefix[k]!)));
        const report = {
            model: model.info.description,
            cpu: os.cpus()[0]?.model,
            threads,
            loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
            steps: positions.length,
            tokens: tokens.length,
            onePass: { ms: Math.round(onePassMs), tokensDecoded: tokens.length },
            perPrefix: { ms: Math.round(perPrefixMs), tokensDecoded: prefixTokens },
            speedup: Number((perPrefixMs / onePassMs).toFixed(2)),
            maxAbsDiff: maxDiff,
        };
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } finally {
        await model.dispose();
    }
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
});
