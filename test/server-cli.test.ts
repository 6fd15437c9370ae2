/**
 * `llama-reward serve` as a process: the listening line with --port 0, then
 * the ready line once the model is loaded, the API key from
 * LLAMA_REWARD_API_KEY (as Bearer or X-Api-Key), SIGTERM with requests in flight (all
 * answered, exit 0), start-up failures (exit 1 with a message) and bad
 * flags (exit 2).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, type ChatMessage } from "../src/index.js";
import { filler, requireFile, root, tinyF32 } from "./support/fixtures.js";
import { get, metric, post, waitFor } from "./support/server-client.js";

const cli = path.join(root, "dist", "src", "cli", "main.js");

interface Served {
    child: ChildProcess;
    url: string;
    stdout: () => string;
    stderr: () => string;
    /** Resolves once the ready line is printed. */
    ready: Promise<void>;
    exit: Promise<number | null>;
}

/** Starts the CLI and resolves once it printed its listening line. */
function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
    const child = spawn(process.execPath, [requireFile(cli), "serve", ...args], {
        cwd: root,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let onReady!: () => void;
    const ready = new Promise<void>((resolve) => {
        onReady = resolve;
    });
    return new Promise((resolve, reject) => {
        child.stdout!.on("data", (d: Buffer) => {
            stdout += d.toString();
            const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
            if (match) resolve({ child, url: match[1]!, stdout: () => stdout, stderr: () => stderr, ready, exit });
            if (/\nready on /.test(stdout)) onReady();
        });
        void exit.then((code) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
    });
}

const load = ["--context-size", "1024", "--batch-size", "16", "--parallel", "2"];

describe("llama-reward serve", () => {
    let model: RewardModel;
    beforeAll(async () => {
        model = await RewardModel.load(tinyF32, { contextSize: 1024, batchSize: 16, parallel: 2 });
    });
    afterAll(() => model?.dispose());

    it("SIGTERM answers every request in flight, then exits 0", async () => {
        const served = await serve(["--model", tinyF32, "--port", "0", ...load], { LLAMA_REWARD_API_KEY: "k3y" });
        const auth = { Authorization: "Bearer k3y" };
        try {
            expect((await post(served.url, "/v1/score", { messages: [{ role: "user", content: "hi" }] })).status).toBe(401);
            await waitFor(async () => (await get(served.url, "/health")).status === 200, 30_000, "the model to load");
            const inputs: ChatMessage[][] = Array.from({ length: 6 }, (_, i) => [
                { role: "user", content: `${i} ${filler(300, 50 + i)}` },
                { role: "assistant", content: filler(20, 60 + i) },
            ]);
            const expected = await model.scoreBatch(inputs);
            const pending = inputs.map((messages) => post(served.url, "/v1/score", { messages }, auth));
            await waitFor(
                async () => metric((await get(served.url, "/metrics", auth)).text, "llama_reward_queue_depth") === 6,
                10_000,
                "6 requests in flight",
            );
            served.child.kill("SIGTERM");
            const replies = await Promise.all(pending);
            replies.forEach((r, i) => {
                expect(r.status).toBe(200);
                expect(Math.abs(r.json.rewards[0] - expected[i]!)).toBeLessThan(1e-4);
                expect(r.json.model).toBe("tiny-reward-f32");
            });
            expect(await served.exit).toBe(0);
            expect(served.stderr()).toMatch(/SIGTERM, finishing requests in flight/);
            await expect(fetch(`${served.url}/health`)).rejects.toThrow();
        } finally {
            served.child.kill("SIGKILL");
        }
    });

    it('prints "ready on URL" after "listening on URL" once the model is loaded; the key works as X-Api-Key', async () => {
        const served = await serve(["--model", tinyF32, "--port", "0", "--api-key", "k3y", ...load]);
        try {
            await served.ready;
            // The line is printed only once the model is loaded: /health and scoring answer at once, no 503 to wait out.
            const health = await get(served.url, "/health");
            expect(health.status).toBe(200);
            const messages: ChatMessage[] = [{ role: "user", content: "Ready?" }];
            const reply = await post(served.url, "/v1/score", { messages }, { "X-Api-Key": "k3y" });
            expect(reply.status).toBe(200);
            expect(Math.abs(reply.json.rewards[0] - (await model.score(messages)))).toBeLessThan(1e-4);
            expect((await post(served.url, "/v1/score", { messages }, { "X-Api-Key": "wrong" })).status).toBe(401);
            expect(served.stdout()).toBe(`listening on ${served.url}\nready on ${served.url}\n`);
            served.child.kill("SIGTERM");
            expect(await served.exit).toBe(0);
        } finally {
            served.child.kill("SIGKILL");
        }
    });

    it("binds 127.0.0.1 by default and exits 1 when the model cannot load", async () => {
        const served = await serve(["--model", path.join(root, "no-such-model.gguf"), "--port", "0"]);
        expect(await served.exit).toBe(1);
        expect(served.stderr()).toMatch(/llama-reward serve: .*\[ERR_MODEL_NOT_FOUND\]/);
        expect(served.stdout()).not.toMatch(/ready on/);
    });

    it("--help says which line means what", () => {
        const help = spawnSync(process.execPath, [cli, "serve", "--help"], { cwd: root, encoding: "utf8" });
        expect(help.status).toBe(0);
        expect(help.stdout).toMatch(/"listening on http:\/\/HOST:PORT" once the port is bound\s+\(the model is still loading/);
        expect(help.stdout).toMatch(/"ready on http:\/\/HOST:PORT" once the\s+model is loaded/);
        expect(help.stdout).toMatch(/X-Api-Key: KEY/);
    });

    it("rejects bad flags with exit 2 (a wrong command line)", async () => {
        for (const args of [
            ["--port", "0"],
            ["--model", tinyF32, "--port", "70000"],
            ["--model", tinyF32, "--max-queue", "x"],
            ["--model", tinyF32, "--max-queue", "0"],
        ]) {
            const child = spawn(process.execPath, [cli, "serve", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
            let stderr = "";
            child.stderr.on("data", (d: Buffer) => {
                stderr += d.toString();
            });
            const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
            expect(code).toBe(2);
            expect(stderr).toMatch(/ERR_INVALID_OPTION/);
        }
    });
});

describe("llama-reward serve --isolate", () => {
    it("scores in an engine process as the in-process model does, and SIGTERM ends both", async () => {
        const served = await serve(["--model", tinyF32, "--port", "0", "--isolate", ...load]);
        try {
            await waitFor(async () => (await get(served.url, "/health")).status === 200, 30_000, "the model to load");
            const messages: ChatMessage[] = [
                { role: "user", content: "Is this served from an engine process?" },
                { role: "assistant", content: "Yes." },
            ];
            const reply = await post(served.url, "/v1/score", { messages });
            expect(reply.status).toBe(200);
            const model = await RewardModel.load(tinyF32, { contextSize: 1024, batchSize: 16, parallel: 2 });
            try {
                expect(reply.json.rewards[0]).toBe(await model.score(messages));
            } finally {
                await model.dispose();
            }
            served.child.kill("SIGTERM");
            expect(await served.exit).toBe(0);
        } finally {
            served.child.kill("SIGKILL");
        }
    });
});
