/**
 * `npm run test:gpu`: on a machine with a GPU, in one command, (1) the GPU
 * parity suite (test/gpu-parity.test.ts: every layer offloaded, tiny F32
 * and F16 models against the float64 reference) on the chosen backend,
 * required to run rather than skip, and (2) a bounded batch-throughput
 * measurement on the benchmark model (.bench/, generated on first use as
 * by `npm run bench`), CPU against the GPU. Writes .bench/gpu-check.json.
 *
 *   npm run test:gpu                       # CUDA
 *   npm run test:gpu -- --gpu vulkan       # or vulkan / metal
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { RewardModel } from "../../src/model/reward-model.js";
import { backendDevices } from "../../src/model/system.js";
import type { GpuBackend, GpuOption } from "../../src/model/gpu.js";
import { mixedConversations } from "../bench/bench-conversations.js";
import { cacheDir, root } from "../bench/bench-paths.js";
import { prepareBenchModels } from "../bench/prepare-models.js";

interface Throughput {
    gpu: GpuOption;
    offloadedLayers: number;
    tokensPerSecond: number;
    loadSeconds: number;
}

async function throughput(model: string, gpu: GpuOption, count: number): Promise<Throughput> {
    const started = Date.now();
    const m = await RewardModel.load(model, { gpu });
    const loadSeconds = (Date.now() - started) / 1000;
    try {
        const conversations = mixedConversations((c) => m.tokenizeConversation(c).length, count);
        const tokens = conversations.reduce((n, c) => n + m.tokenizeConversation(c).length, 0);
        await m.scoreBatch(conversations.slice(0, 4));
        const t0 = process.hrtime.bigint();
        await m.scoreBatch(conversations);
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        return { gpu, offloadedLayers: m.info.offloadedLayers, tokensPerSecond: tokens / seconds, loadSeconds };
    } finally {
        await m.dispose();
    }
}

async function main(): Promise<number> {
    const { values } = parseArgs({ options: { gpu: { type: "string", default: "cuda" }, count: { type: "string", default: "64" } } });
    const gpu = values.gpu as GpuBackend;
    console.log(
        `[gpu-check] devices: ${backendDevices()
            .map((d) => `${d.name} (${d.backend}, ${d.description})`)
            .join("; ")}`,
    );

    const vitest = path.join(root, "node_modules", "vitest", "vitest.mjs");
    const parity = spawnSync(process.execPath, [vitest, "run", "--project", "native", "test/gpu-parity.test.ts"], {
        cwd: root,
        stdio: "inherit",
        env: { ...process.env, LLAMA_REWARD_TEST_GPU: gpu, LLAMA_REWARD_REQUIRE_GPU: "1" },
    });
    console.log(`[gpu-check] parity on ${gpu}: ${parity.status === 0 ? "passed" : "FAILED"}`);

    const [files] = await prepareBenchModels(["q8_0"]);
    const model = files!.reward;
    const count = Number(values.count);
    const cpu = await throughput(model, false, count);
    const onGpu = await throughput(model, gpu, count);
    const report = {
        gpu,
        model: path.basename(model),
        count,
        cpu,
        onGpu,
        speedup: onGpu.tokensPerSecond / cpu.tokensPerSecond,
        parity: parity.status === 0,
    };
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(path.join(cacheDir, "gpu-check.json"), `${JSON.stringify(report, null, 2)}\n`);
    console.log(
        `[gpu-check] batch throughput on ${path.basename(model)}: CPU ${cpu.tokensPerSecond.toFixed(0)} tokens/s, ` +
            `${gpu} ${onGpu.tokensPerSecond.toFixed(0)} tokens/s (${onGpu.offloadedLayers} layers offloaded), ×${report.speedup.toFixed(2)}`,
    );
    return parity.status === 0 && onGpu.offloadedLayers > 0 ? 0 : 1;
}

process.exitCode = await main();
