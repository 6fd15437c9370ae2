/**
 * The isolated mode (RewardModel.load(path, { isolate: true })): the same
 * results as in-process, bit for bit; error codes, AbortSignal, onProgress
 * and dispose() across the process boundary; and an engine that dies (killed,
 * or aborted by a real GGML_ASSERT) turning into ERR_ENGINE_CRASHED for every
 * call in flight and later, while this process keeps running and loads again.
 * The server answers /health with 503 and the reason after such a crash.
 * The engine entry is compiled: run `npx tsc -p tsconfig.json` first.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
    IsolatedRewardModel,
    RewardModel,
    RewardModelError,
    createServer,
    isRewardModelError,
    type ChatMessage,
    type LoadOptions,
} from "../src/index.js";
import { cloneLayout, parseLayout, serializeLayout } from "./fuzz/gguf-layout.js";
import { writeCase } from "./fuzz/gguf-mutations.js";
import { makeScratchDir } from "./fuzz/gguf-fuzz-target.js";
import { vocabCorruptions } from "./fuzz/vocab-corruptions.js";
import { conversations, filler, root, tinyF32 } from "./support/fixtures.js";
import { get, waitFor } from "./support/server-client.js";

const options: LoadOptions = { contextSize: 1024, batchSize: 256, parallel: 4, threads: 2 };

function batch(n: number, words = 30): ChatMessage[][] {
    return Array.from({ length: n }, (_, i) => [
        { role: "user", content: `${i}: ${filler(words, i + 1)}` },
        { role: "assistant", content: filler(10, i + 100) },
    ]);
}

async function rejection(p: Promise<unknown>): Promise<RewardModelError> {
    const error = await p.then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(error, "expected a rejection").toBeInstanceOf(RewardModelError);
    return error as RewardModelError;
}

function alive(pid: number | undefined): boolean {
    try {
        process.kill(pid!, 0);
        return true;
    } catch {
        return false;
    }
}

let local: RewardModel;
let isolated: IsolatedRewardModel;
let dir: string;

beforeAll(async () => {
    dir = makeScratchDir();
    local = await RewardModel.load(tinyF32, options);
    isolated = await RewardModel.load(tinyF32, { ...options, isolate: true });
});

afterAll(async () => {
    await isolated?.dispose();
    await local?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
});

describe("an isolated model gives what the in-process model gives", () => {
    it("is an IsolatedRewardModel in another process, with the same info and options", () => {
        expect(isolated).toBeInstanceOf(IsolatedRewardModel);
        expect(isolated.enginePid).toBeTypeOf("number");
        expect(isolated.enginePid).not.toBe(process.pid);
        expect(isolated.usable).toBe(true);
        expect(isolated.info).toEqual(local.info);
        expect(isolated.options).toEqual(local.options);
    });

    it("the same rewards, exactly, from every scoring method", async () => {
        const prompt = conversations[0]!.slice(0, 1);
        const responses = ["Paris.", "Lyon, I think.", "It is Paris, the largest city of France."];
        // sequential calls in the same order on both, so batching is the same
        const run = async (m: RewardModel | IsolatedRewardModel) => ({
            score: await m.score(conversations[1]!),
            vector: await m.scoreVector(conversations[2]!),
            batch: await m.scoreBatch(conversations),
            responses: await m.scoreResponses(prompt, responses),
            compare: await m.compare(conversations[0]!, conversations[1]!),
            rank: await m.rank(prompt, responses),
            text: await m.scoreText("plain text to score"),
            tokens: await m.scoreTokens([128000, 9906, 1917]),
            tokenBatch: await m.scoreTokenBatch([
                [128000, 9906],
                [128000, 9906, 1917, 0],
            ]),
            batch64: await m.scoreBatch(batch(64)),
        });
        const a = await run(local);
        const b = await run(isolated);
        expect(b).toEqual(a);
    });

    it("the same tokens and rendering", async () => {
        expect(await isolated.tokenize("Hello <|eot_id|> world")).toEqual(local.tokenize("Hello <|eot_id|> world"));
        expect(await isolated.tokenize("Hello", { special: false })).toEqual(local.tokenize("Hello", { special: false }));
        expect(await isolated.tokenizeConversation(conversations[3]!)).toEqual(local.tokenizeConversation(conversations[3]!));
        expect(await isolated.tokenText(128000)).toBe(local.tokenText(128000));
        expect(isolated.render(conversations[3]!)).toBe(local.render(conversations[3]!));
        expect(isolated.stats.steps).toBeGreaterThan(0);
    });
});

describe("errors, aborts, progress and dispose cross the process boundary", () => {
    it("errors keep their codes and messages", async () => {
        const long: ChatMessage[] = [
            { role: "user", content: filler(3000, 7) },
            { role: "assistant", content: "ok" },
        ];
        const cases: [Promise<RewardModelError>, string][] = [
            [rejection(isolated.score(long)), "ERR_CONTEXT_OVERFLOW"],
            [rejection(isolated.score([])), "ERR_INVALID_MESSAGES"],
            [rejection(isolated.scoreTokens([-1])), "ERR_INVALID_TOKENS"],
            [rejection(isolated.tokenText(1 << 30)), "ERR_INVALID_TOKENS"],
            [rejection(isolated.scoreBatch(batch(2), { onProgress: 5 as unknown as () => void })), "ERR_INVALID_OPTION"],
        ];
        for (const [p, code] of cases) expect((await p).code).toBe(code);
        // the same message as in-process
        const overflow = await rejection(isolated.score(long));
        expect(() => local.tokenizeConversation(long)).toThrow(overflow.message);
        // a value structured clone cannot carry is an option error here, before the engine
        const withFunction = [{ role: "user", content: "x", extra: () => 1 }] as unknown as ChatMessage[];
        expect((await rejection(isolated.score(withFunction))).code).toBe("ERR_INVALID_OPTION");
        expect(isolated.usable).toBe(true);
    });

    it("an AbortSignal aborts a batch in the engine; the model stays usable", async () => {
        const controller = new AbortController();
        const reason = new Error("user gave up");
        let completed = 0;
        // enough work that the abort, sent back over IPC after the second result, lands well before the end
        // even when a busy machine delays either process: 2400 conversations take about 6 s on the tiny model
        // on a quiet 2-core machine, while the abort arrives within tens of milliseconds there (240 of them,
        // 0.6 s, were once all scored before the abort reached the child under a loaded test run)
        const total = 2400;
        const pending = isolated.scoreBatch(batch(total, 200), {
            signal: controller.signal,
            onProgress: (p) => {
                completed = p.completed;
                if (p.completed >= 2 && !controller.signal.aborted) controller.abort(reason);
            },
        });
        const error = await rejection(pending);
        expect(error.code).toBe("ERR_ABORTED");
        expect(error.cause).toBe(reason);
        expect(completed).toBeGreaterThanOrEqual(2);
        expect(completed).toBeLessThan(total);
        expect(typeof (await isolated.score(conversations[0]!))).toBe("number");
        // already aborted before the call
        expect((await rejection(isolated.score(conversations[0]!, { signal: AbortSignal.abort() }))).code).toBe("ERR_ABORTED");
    });

    it("onProgress reports every conversation of a batch", async () => {
        const seen: number[] = [];
        await isolated.scoreBatch(batch(5), { onProgress: (p) => seen.push(p.completed) });
        expect(seen).toEqual([1, 2, 3, 4, 5]);
    });

    it("an AbortSignal aborts loading", async () => {
        const controller = new AbortController();
        const loading = RewardModel.load(tinyF32, {
            ...options,
            isolate: true,
            signal: controller.signal,
            onProgress: () => controller.abort(),
        });
        expect((await rejection(loading)).code).toBe("ERR_ABORTED");
    });

    it("a file llama-reward rejects is rejected with its code from the engine", async () => {
        const error = await rejection(RewardModel.load(path.join(dir, "missing.gguf"), { isolate: true }));
        expect(error.code).toBe("ERR_MODEL_NOT_FOUND");
        const bad = await rejection(RewardModel.load(tinyF32, { isolate: true, contextSize: -5 }));
        expect(bad.code).toBe("ERR_INVALID_OPTION");
    });

    it("an idle engine does not keep the host alive: a script that never disposes exits, and its engine with it", () => {
        const index = path.join(root, "dist", "src", "index.js");
        const script = [
            `import { RewardModel } from ${JSON.stringify(index)};`,
            `const m = await RewardModel.load(${JSON.stringify(tinyF32)}, { isolate: true, contextSize: 256, threads: 1 });`,
            "const r = await m.score([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }]);",
            "console.log(JSON.stringify({ pid: m.enginePid, reward: r }));",
        ].join("\n");
        const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
        expect(run.status, run.stderr).toBe(0);
        const { pid, reward } = JSON.parse(run.stdout.trim()) as { pid: number; reward: number };
        expect(typeof reward).toBe("number");
        return waitFor(() => !alive(pid), 5000, "the orphaned engine to exit");
    });

    it("dispose() ends the engine: queued calls reject with ERR_DISPOSED, later ones too", async () => {
        const m = await RewardModel.load(tinyF32, { ...options, isolate: true });
        const pid = m.enginePid;
        const pending = m.scoreBatch(batch(32, 200)).then(
            () => "resolved",
            (e: unknown) => (isRewardModelError(e) ? e.code : String(e)),
        );
        await m.dispose();
        const settled = await pending;
        expect(["resolved", "ERR_DISPOSED"]).toContain(settled);
        expect(m.usable).toBe(false);
        expect(m.crash).toBeUndefined();
        expect((await rejection(m.score(conversations[0]!))).code).toBe("ERR_DISPOSED");
        await waitFor(() => !alive(pid), 5000, "the engine to exit");
        await m.dispose(); // idempotent
    });
});

describe("an engine that dies rejects with ERR_ENGINE_CRASHED and leaves this process running", () => {
    it("SIGKILL mid-batch: every pending call rejects, later calls too; a new model loads and scores", async () => {
        const m = await RewardModel.load(tinyF32, { ...options, isolate: true });
        const pid = m.enginePid!;
        const calls = [
            m.scoreBatch(batch(40, 200), {
                onProgress: (p) => {
                    if (p.completed === 1) process.kill(pid, "SIGKILL");
                },
            }),
            m.scoreBatch(batch(40, 150)),
            m.scoreResponses(conversations[0]!.slice(0, 1), ["a", "b", filler(300, 9)]),
        ].map((c) => rejection(c));
        const errors = await Promise.all(calls);
        for (const e of errors) {
            expect(e.code).toBe("ERR_ENGINE_CRASHED");
            expect(e.message).toContain("SIGKILL");
        }
        expect(m.usable).toBe(false);
        expect(m.crash?.code).toBe("ERR_ENGINE_CRASHED");
        expect((await rejection(m.score(conversations[0]!))).code).toBe("ERR_ENGINE_CRASHED");
        expect((await rejection(m.tokenize("hello"))).code).toBe("ERR_ENGINE_CRASHED");
        expect(() => m.render(conversations[0]!)).toThrow(/SIGKILL/);
        await m.dispose();

        const again = await RewardModel.load(tinyF32, { ...options, isolate: true });
        expect(await again.score(conversations[1]!)).toBe(await local.score(conversations[1]!));
        await again.dispose();
    });

    it("a real llama.cpp abort (GGML_ASSERT) while loading: ERR_ENGINE_CRASHED with the assertion in the message", async () => {
        // the file: a token equal to another as a C string. llama-reward's checks reject it, so the
        // engine is started with the test-only switch that skips them, and llama.cpp aborts on it.
        const corruption = vocabCorruptions.find((c) => c.llamaCpp === "abort")!;
        const layout = cloneLayout(parseLayout(fs.readFileSync(tinyF32)));
        corruption.edit(layout);
        const file = path.join(dir, "duplicate-token.gguf");
        writeCase(
            { seed: 0, index: 0, base: "tiny-f32", kind: "tokenizer-array", mutation: "", serialized: serializeLayout(layout) },
            file,
        );

        expect((await rejection(RewardModel.load(file, { ...options, isolate: true }))).code).toBe("ERR_CORRUPT_MODEL");
        process.env.LLAMA_REWARD_TEST_ONLY_SKIP_FILE_CHECKS = "1";
        let error: RewardModelError;
        try {
            error = await rejection(RewardModel.load(file, { ...options, isolate: true }));
        } finally {
            delete process.env.LLAMA_REWARD_TEST_ONLY_SKIP_FILE_CHECKS;
        }
        expect(error.code).toBe("ERR_ENGINE_CRASHED");
        expect(error.message).toContain("SIGABRT");
        expect(error.message).toContain("GGML_ASSERT(id_to_token.size() == token_to_id.size())");
        // this process is fine and still scores
        expect(typeof (await isolated.score(conversations[0]!))).toBe("number");
    });
});

describe("the server with an isolated model", () => {
    it("/health is 200 while the engine runs and 503 with the reason once it died; scoring is 503 too", async () => {
        const m = await RewardModel.load(tinyF32, { ...options, isolate: true });
        const server = createServer(m, { modelName: "tiny" });
        try {
            const base = (await server.listen(0)).url;
            expect((await get(base, "/health")).status).toBe(200);
            process.kill(m.enginePid!, "SIGKILL");
            await waitFor(() => !m.usable, 5000, "the crash to be seen");
            const health = await get(base, "/health");
            expect(health.status).toBe(503);
            expect(health.json.status).toBe("crashed");
            expect(health.json.code).toBe("ERR_ENGINE_CRASHED");
            expect(health.json.reason).toContain("SIGKILL");
            const scored = await fetch(`${base}/v1/score`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ messages: conversations[0] }),
            });
            expect(scored.status).toBe(503);
            expect(((await scored.json()) as { error: { code: string } }).error.code).toBe("ERR_ENGINE_CRASHED");
            expect(server.state).toBe("crashed");
        } finally {
            await server.close();
            await m.dispose();
        }
    });
});
