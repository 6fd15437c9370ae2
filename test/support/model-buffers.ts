/**
 * Where llama.cpp's model loader put a model's weights, seen from a fresh
 * Node process: the buffer names of its log (printed with LLAMA_REWARD_DEBUG=1),
 * for test/avx512-widened.test.ts, which checks that F16 weights the AVX-512
 * kernel multiplies stay mapped from the file instead of going to ggml's AMX
 * buffer.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { expect } from "vitest";
import { requireFile, root } from "./fixtures.js";

export interface ModelBuffers {
    /** The names of the loader's "load_tensors: NAME model buffer size" lines, e.g. ["AMX", "CPU_Mapped"]. */
    buffers: string[];
    /** addonInfo().f16Kernel in that process. */
    f16Kernel: string;
    /** F16 weight products the AVX-512 kernel ran while scoring one conversation. */
    f16Products: number;
}

/** Loads `file` in a fresh process under `env`, scores one conversation, and reports its buffers and F16 kernel. */
export function modelBuffersInChild(file: string, env: Record<string, string>): ModelBuffers {
    const index = path.join(root, "dist", "src", "index.js");
    const script = `
        import { RewardModel, addonInfo } from ${JSON.stringify(requireFile(index))};
        import { loadAddon } from ${JSON.stringify(path.join(root, "dist", "src", "addon", "load-addon.js"))};
        const model = await RewardModel.load(${JSON.stringify(file)}, { contextSize: 256 });
        await model.score([{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello, how can I help?" }]);
        await model.dispose();
        const count = loadAddon().avx512F16Products;
        process.stdout.write(JSON.stringify({ f16Kernel: addonInfo().f16Kernel, f16Products: typeof count === "function" ? count() : -1 }));
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
        cwd: root,
        env: { ...process.env, ...env, LLAMA_REWARD_DEBUG: "1" },
    });
    expect(child.status).toBe(0);
    const buffers = [...child.stderr.matchAll(/load_tensors:\s+(\S+) model buffer size/g)].map((m) => m[1]!);
    return { buffers, ...(JSON.parse(child.stdout) as { f16Kernel: string; f16Products: number }) };
}
