/**
 * The reward server over real HTTP on a loopback port: every endpoint
 * against the in-process API on the same input, cross-request batching,
 * every error status, the API key, metrics, client disconnects and loading.
 * The tiny model has random weights: only equality of numbers is checked.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, convert, createServer, isRewardModelError, type ChatMessage, type RewardServer } from "../src/index.js";
import { conversations, filler, tinyF32 } from "./support/fixtures.js";
import { loadVocab, makeWorkDir, writeLlama31Checkpoint } from "./support/hf-fixtures.js";
import { fetchRemoteRewards, flatRewards } from "./support/openrlhf-client.js";
import { abandonedPost, call, get, metric, partialPost, post, waitFor } from "./support/server-client.js";
import { findRoute } from "../src/server/routes.js";

const tolerance = 1e-4;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function expectClose(actual: number[], expected: number[]): void {
    expect(actual).toHaveLength(expected.length);
    actual.forEach((a, i) => expect(Math.abs(a - expected[i]!)).toBeLessThan(tolerance));
}

/** A conversation of about `words` tokens whose start differs from every other seed's. */
function longConversation(words: number, seed: number): ChatMessage[] {
    return [
        { role: "user", content: `${seed} ${filler(words - 20, seed)}` },
        { role: "assistant", content: filler(10, seed + 1000) },
    ];
}

async function started(server: RewardServer): Promise<string> {
    return (await server.listen(0)).url;
}

let model: RewardModel;
let server: RewardServer;
let base: string;

beforeAll(async () => {
    model = await RewardModel.load(tinyF32, { contextSize: 1024, parallel: 8 });
    server = createServer(model, { modelName: "tiny", maxBody: 64 * 1024 });
    base = await started(server);
});

afterAll(async () => {
    await server?.close();
    await model?.dispose();
});

describe("endpoints equal the in-process API", () => {
    it("POST /v1/score with messages, conversations, and prompt + responses", async () => {
        const one = await post(base, "/v1/score", { messages: conversations[0] });
        expect(one.status).toBe(200);
        expect(one.json.model).toBe("tiny");
        expect(one.json.scores).toBeUndefined(); // one label
        expectClose(one.json.rewards, [await model.score(conversations[0]!)]);
        expect(one.json.usage.prompt_tokens).toBe(model.tokenizeConversation(conversations[0]!).length);

        const many = await post(base, "/v1/score", { conversations });
        expect(many.status).toBe(200);
        expectClose(many.json.rewards, await model.scoreBatch(conversations));
        expect(many.json.usage.prompt_tokens).toBe(conversations.reduce((n, c) => n + model.tokenizeConversation(c).length, 0));

        const prompt: ChatMessage[] = [{ role: "user", content: `Write a haiku. ${filler(30, 9)}` }];
        const responses = ["Autumn moonlight", "A worm digs silently into the chestnut.", "No."];
        const best = await post(base, "/v1/score", { prompt, responses });
        expect(best.status).toBe(200);
        expectClose(best.json.rewards, await model.scoreResponses(prompt, responses));
    });

    it("POST /get_reward: OpenRLHF texts, special tokens parsed, no BOS added", async () => {
        const queries = conversations.slice(0, 3).map((c) => model.render(c));
        expect(queries[0]!.startsWith("<|begin_of_text|>")).toBe(true);
        const reply = await post(base, "/get_reward", { query: queries, prompts: ["ignored"], labels: ["ignored"] });
        expect(reply.status).toBe(200);
        const expected: number[] = [];
        for (const q of queries) {
            const tokens = model.tokenize(q, { special: true, addSpecial: false });
            expect(tokens.filter((t) => t === model.info.bosToken)).toHaveLength(1); // the template's, none added
            expected.push(await model.scoreTokens(tokens));
        }
        expectClose(reply.json.rewards, expected);
        expect(reply.json.scores).toEqual(reply.json.rewards);
        expect(reply.json.extra_logs).toEqual({
            rm_tokens: queries.map((q) => model.tokenize(q, { special: true, addSpecial: false }).length),
        });
        // With a BOS added the rewards differ, so the test above can tell.
        const withBos = await model.scoreTokens(model.tokenize(queries[0]!, { special: true, addSpecial: true }));
        expect(Math.abs(withBos - expected[0]!)).toBeGreaterThan(tolerance);
    });

    it('POST /get_reward with truncation "left": a long query keeps its BOS and its end', async () => {
        const left = await RewardModel.load(tinyF32, { contextSize: 256, parallel: 2, truncation: "left" });
        const leftServer = createServer(left);
        try {
            const url = await started(leftServer);
            const query = model.render(longConversation(400, 77));
            const all = left.tokenize(query, { special: true, addSpecial: false });
            expect(all.length).toBeGreaterThan(256);
            const kept = [all[0]!, ...all.slice(all.length - 255)];
            const reply = await post(url, "/get_reward", { query: [query] });
            expect(reply.status).toBe(200);
            expectClose(reply.json.rewards, [await left.scoreTokens(kept)]);
        } finally {
            await leftServer.close();
            await left.dispose();
        }
    });

    it("POST /classify: vLLM's reply shape, activation, add_special_tokens, messages", async () => {
        const text = "Hello <|eot_id|> world";
        const raw = await model.scoreTokens(model.tokenize(text, { special: true })); // vLLM adds BOS by default
        const noBos = await model.scoreTokens(model.tokenize(text, { special: true, addSpecial: false }));

        const a = await post(base, "/classify", { model: "any/name", input: text });
        expect(a.status).toBe(200);
        expect(a.json).toMatchObject({ object: "list", model: "tiny" });
        expect(a.json.id).toMatch(/^classify-[0-9a-f]{32}$/);
        expect(Math.abs(a.json.created - Date.now() / 1000)).toBeLessThan(60);
        expect(a.json.data).toHaveLength(1);
        expect(a.json.data[0]).toMatchObject({ index: 0, label: "LABEL_0", num_classes: 1 });
        expectClose(a.json.data[0].probs, [sigmoid(raw)]);
        const tokens = model.tokenize(text).length;
        expect(a.json.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0, prompt_tokens_details: null });

        // verl's reward loop: {"model", "input", "activation": false}, reads data[-1].probs[-1].
        const verl = await post(base, "/classify", { model: "/models/hf-path", input: text, activation: false });
        expectClose([verl.json.data.at(-1).probs.at(-1)], [raw]);
        const newer = await post(base, "/classify", { input: [text, text], use_activation: false, add_special_tokens: false });
        expect(newer.json.data.map((d: { index: number }) => d.index)).toEqual([0, 1]);
        expectClose(
            newer.json.data.map((d: { probs: number[] }) => d.probs[0]),
            [noBos, noBos],
        );

        const chat = await post(base, "/classify", { messages: conversations[1] });
        expectClose(chat.json.data[0].probs, [sigmoid(await model.score(conversations[1]!))]);
        const truncated = await post(base, "/classify", { input: text, truncate_prompt_tokens: 3, use_activation: false });
        const all = model.tokenize(text);
        expectClose(truncated.json.data[0].probs, [await model.scoreTokens(all.slice(all.length - 3))]);
    });

    it("GET /health, /v1/models and /metrics", async () => {
        const health = await get(base, "/health");
        expect(health.status).toBe(200);
        expect(health.json).toEqual({ status: "ok" });

        const models = await get(base, "/v1/models");
        expect(models.status).toBe(200);
        expect(models.json.data[0]).toMatchObject({ id: "tiny", object: "model", owned_by: "llama-reward" });
        expect(models.json.data[0].info).toMatchObject({ architecture: "llama", labels: ["LABEL_0"], contextSize: 1024 });
        expect(models.json.data[0].options).toMatchObject({ contextSize: 1024, parallel: 8 });

        const before = (await get(base, "/metrics")).text;
        const label = '{route="/v1/score",status="200"}';
        const countBefore = metric(before, "llama_reward_requests_total", label) ?? 0;
        await post(base, "/v1/score", { messages: conversations[2] });
        const after = await get(base, "/metrics");
        expect(after.status).toBe(200);
        expect(after.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
        expect(metric(after.text, "llama_reward_requests_total", label)).toBe(countBefore + 1);
        expect(metric(after.text, "llama_reward_decode_steps_total")).toBe(model.stats.steps);
        expect(metric(after.text, "llama_reward_tokens_total")).toBe(model.stats.tokens);
        expect(metric(after.text, "llama_reward_queue_depth")).toBe(0);
        expect(metric(after.text, "llama_reward_request_duration_seconds_count", '{route="/v1/score"}')).toBeGreaterThanOrEqual(
            countBefore + 1,
        );
        expect(metric(after.text, "llama_reward_request_duration_seconds_bucket", '{route="/v1/score",le="+Inf"}')).toBe(
            metric(after.text, "llama_reward_request_duration_seconds_count", '{route="/v1/score"}'),
        );
        expect(after.text).toMatch(/^# TYPE llama_reward_request_duration_seconds histogram$/m);
    });
});

// OpenRLHF's client as of OpenRLHF/OpenRLHF openrlhf/utils/agent.py (SingleTurnAgentExecutor._fetch_rewards_via_http,
// commit 3c3be6234e0cb353e76bb8019947db9dfe99fca7): {"query", "prompts", "labels"} chunked over every URL, aiohttp's
// default headers and no Authorization; it reads "rewards", "scores" and "extra_logs" of the first URL's reply.
describe("trainers' request shapes", () => {
    const aiohttpHeaders = { Accept: "*/*", "Accept-Encoding": "gzip, deflate", "User-Agent": "Python/3.11 aiohttp/3.9.5" };
    let second: RewardServer;
    let secondUrl: string;
    beforeAll(async () => {
        second = createServer(model);
        secondUrl = await started(second);
    });
    afterAll(() => second?.close());

    it("OpenRLHF's batch chunked over two URLs gets the rewards one server gives", async () => {
        const queries = conversations.map((c) => model.render(c));
        const prompts = conversations.map((c) => c[0]!.content as string);
        const labels = conversations.map((_, i) => `label ${i}`);
        const one = await fetchRemoteRewards([`${base}/get_reward`], queries, prompts, labels, { headers: aiohttpHeaders, tries: 1 });
        const two = await fetchRemoteRewards([`${base}/get_reward`, `${secondUrl}/get_reward`], queries, prompts, labels, {
            headers: aiohttpHeaders,
            tries: 1,
        });
        expect(two.map((r) => r.rewards.length)).toEqual([Math.ceil(queries.length / 2), Math.floor(queries.length / 2)]);
        expectClose(flatRewards(two), flatRewards(one)); // batch composition moves the last digits (docs/fidelity.md)
        const expected = await Promise.all(queries.map((q) => model.scoreTokens(model.tokenize(q, { special: true, addSpecial: false }))));
        expectClose(flatRewards(one), expected);
        expect(two.flatMap((r) => r.extra_logs!.rm_tokens)).toEqual(one[0]!.extra_logs!.rm_tokens);
    });

    it("one query over two URLs: the second gets an empty chunk and answers empty lists, as serve_rm does", async () => {
        const query = model.render(conversations[0]!);
        const replies = await fetchRemoteRewards([`${base}/get_reward`, `${secondUrl}/get_reward`], [query], ["p"], ["l"], {
            headers: aiohttpHeaders,
            tries: 1,
        });
        expect(replies[1]).toEqual({ rewards: [], scores: [], extra_logs: { rm_tokens: [] } });
        expectClose(replies[0]!.rewards, [await model.scoreTokens(model.tokenize(query, { special: true, addSpecial: false }))]);
    });
});

describe("cross-request batching", () => {
    it("48 concurrent one-conversation requests share decode steps and get their own rewards", async () => {
        const inputs = Array.from({ length: 48 }, (_, i) => longConversation(40, 100 + i));
        const expected = await model.scoreBatch(inputs);
        const steps0 = model.stats.steps;
        const replies = await Promise.all(inputs.map((messages) => post(base, "/v1/score", { messages })));
        const steps = model.stats.steps - steps0;
        replies.forEach((r, i) => {
            expect(r.status).toBe(200);
            expectClose(r.json.rewards, [expected[i]!]);
        });
        // Each conversation fits one step, so requests decoded one at a time take exactly 48 steps; how many
        // share a step depends on how fast they arrive against how fast a step runs (parallel 8 needs at least 6)
        expect(steps).toBeLessThan(inputs.length);
        expect(steps).toBeGreaterThanOrEqual(inputs.length / 8);
    });
});

describe("errors", () => {
    const tooLong = longConversation(1300, 7);
    const cases: [string, string, string | object, number, string][] = [
        ["malformed JSON", "/v1/score", "{not json", 400, "ERR_INVALID_JSON"],
        ["empty body", "/v1/score", "", 400, "ERR_INVALID_JSON"],
        ["body not an object", "/v1/score", [conversations[0]], 422, "ERR_INVALID_REQUEST"],
        ["unknown body shape", "/v1/score", { text: "hi" }, 422, "ERR_INVALID_REQUEST"],
        ["two shapes at once", "/v1/score", { messages: conversations[0], conversations }, 422, "ERR_INVALID_REQUEST"],
        ["prompt without responses", "/v1/score", { prompt: conversations[0] }, 422, "ERR_INVALID_REQUEST"],
        ["empty conversations", "/v1/score", { conversations: [] }, 422, "ERR_INVALID_REQUEST"],
        ["empty conversation in a list", "/v1/score", { conversations: [conversations[0], []] }, 422, "ERR_INVALID_REQUEST"],
        ["messages not an array", "/v1/score", { messages: "hi" }, 422, "ERR_INVALID_REQUEST"],
        ["message without role", "/v1/score", { messages: [{ content: "hi" }] }, 422, "ERR_INVALID_MESSAGES"],
        [
            "content not a string",
            "/v1/score",
            { conversations: [conversations[0], [{ role: "user", content: 3 }]] },
            422,
            "ERR_INVALID_MESSAGES",
        ],
        ["responses not strings", "/v1/score", { prompt: conversations[0], responses: [1] }, 422, "ERR_INVALID_REQUEST"],
        ["conversation longer than the context", "/v1/score", { messages: tooLong }, 413, "ERR_CONTEXT_OVERFLOW"],
        ["get_reward without query", "/get_reward", { prompts: ["x"] }, 422, "ERR_INVALID_REQUEST"],
        ["get_reward query not strings", "/get_reward", { query: [["x"]] }, 422, "ERR_INVALID_REQUEST"],
        ["get_reward empty text", "/get_reward", { query: ["ok", ""] }, 422, "ERR_INVALID_TOKENS"],
        ["get_reward text longer than the context", "/get_reward", { query: [filler(1300, 5)] }, 413, "ERR_CONTEXT_OVERFLOW"],
        ["classify without input", "/classify", { model: "m" }, 422, "ERR_INVALID_REQUEST"],
        ["classify input and messages", "/classify", { input: "a", messages: conversations[0] }, 422, "ERR_INVALID_REQUEST"],
        ["classify use_activation not a boolean", "/classify", { input: "a", use_activation: "yes" }, 422, "ERR_INVALID_REQUEST"],
        ["classify bad truncate_prompt_tokens", "/classify", { input: "a", truncate_prompt_tokens: 0 }, 422, "ERR_INVALID_REQUEST"],
    ];

    it.each(cases)("%s", async (_name, route, body, status, code) => {
        const reply = await post(base, route, body);
        expect(reply.status).toBe(status);
        expect(reply.headers.get("content-type")).toBe("application/json");
        expect(reply.json.error).toMatchObject({ code, type: "invalid_request_error" });
        expect(typeof reply.json.error.message).toBe("string");
    });

    it("an overflow names the token count", async () => {
        const reply = await post(base, "/v1/score", { messages: tooLong });
        expect(reply.json.error.message).toMatch(/has \d{4} tokens but the context holds 1024/);
    });

    it("404 for an unknown route, 405 for a wrong method", async () => {
        const missing = await get(base, "/v1/nothing");
        expect(missing.status).toBe(404);
        expect(missing.json.error).toMatchObject({ code: "ERR_NOT_FOUND", type: "not_found_error" });
        const wrong = await get(base, "/v1/score");
        expect(wrong.status).toBe(405);
        expect(wrong.headers.get("allow")).toBe("POST");
        expect(wrong.json.error.code).toBe("ERR_METHOD_NOT_ALLOWED");
        expect((await post(base, "/health", {})).status).toBe(405);
    });

    it("a body over --max-body is refused from its Content-Length, before it is sent", async () => {
        const reply = await partialPost(
            `${base}/v1/score`,
            { "Content-Type": "application/json", "Content-Length": String(2 ** 30) },
            Buffer.from('{"messages": '),
        );
        expect(reply.status).toBe(413);
        expect(JSON.parse(reply.body).error.code).toBe("ERR_BODY_TOO_LARGE");
        expect(reply.headers.connection).toBe("close");
    });

    it("a chunked body is refused once it passes --max-body", async () => {
        const reply = await partialPost(
            `${base}/get_reward`,
            { "Content-Type": "application/json", "Transfer-Encoding": "chunked" },
            Buffer.alloc(8192, 0x20),
            true,
        );
        expect(reply.status).toBe(413);
        expect(JSON.parse(reply.body).error.message).toMatch(/passed 65536 bytes/);
    });

    it("bad requests change nothing for good ones sent at the same time", async () => {
        const expected = await model.scoreBatch(conversations);
        const good = conversations.map((messages) => post(base, "/v1/score", { messages }));
        const bad = [
            post(base, "/v1/score", "{oops"),
            post(base, "/v1/score", { messages: [{ role: "user" }] }),
            post(base, "/v1/score", { messages: tooLong }),
            post(base, "/get_reward", { query: "not a list" }),
        ];
        const [goodReplies, badReplies] = await Promise.all([Promise.all(good), Promise.all(bad)]);
        expect(badReplies.map((r) => r.status)).toEqual([400, 422, 413, 422]);
        goodReplies.forEach((r, i) => expectClose(r.json.rewards, [expected[i]!]));
        expect((await get(base, "/health")).status).toBe(200);
    });

    it("createServer rejects unknown or bad options", () => {
        for (const options of [{ port: 1 }, { maxQueue: 0 }, { maxBody: 1.5 }, { apiKey: "" }]) {
            let error: unknown;
            try {
                createServer(model, options as never);
            } catch (e) {
                error = e;
            }
            expect(isRewardModelError(error, "ERR_INVALID_OPTION")).toBe(true);
        }
    });
});

describe("API key", () => {
    let keyed: RewardServer;
    let url: string;
    beforeAll(async () => {
        keyed = createServer(model, { apiKey: "s3cret" });
        url = await started(keyed);
    });
    afterAll(() => keyed.close());

    it("requires Authorization: Bearer KEY except on /health", async () => {
        const body = { messages: conversations[0] };
        const missing = await post(url, "/v1/score", body);
        expect(missing.status).toBe(401);
        expect(missing.headers.get("www-authenticate")).toBe("Bearer");
        expect(missing.json.error).toMatchObject({ code: "ERR_UNAUTHORIZED", type: "authentication_error" });
        expect((await post(url, "/v1/score", body, { Authorization: "Bearer wrong" })).status).toBe(401);
        expect((await post(url, "/v1/score", body, { Authorization: "s3cret" })).status).toBe(401);
        expect((await get(url, "/metrics")).status).toBe(401);
        expect((await get(url, "/v1/models")).status).toBe(401);
        expect((await post(url, "/get_reward", { query: ["a"] })).status).toBe(401);
        expect((await get(url, "/health")).status).toBe(200);
        const ok = await post(url, "/v1/score", body, { Authorization: "Bearer s3cret" });
        expect(ok.status).toBe(200);
        expectClose(ok.json.rewards, [await model.score(conversations[0]!)]);
    });

    it("accepts the key as X-Api-Key too", async () => {
        const body = { query: [model.render(conversations[0]!)] };
        const ok = await post(url, "/get_reward", body, { "X-Api-Key": "s3cret" });
        expect(ok.status).toBe(200);
        expect((await get(url, "/metrics", { "X-Api-Key": "s3cret" })).status).toBe(200);
        const wrong = await post(url, "/get_reward", body, { "X-Api-Key": "wrong" });
        expect(wrong.status).toBe(401);
        expect(wrong.json.error.message).toBe("wrong API key");
        expect((await post(url, "/get_reward", body, { "X-Api-Key": "Bearer s3cret" })).status).toBe(401);
        // A right key in either header is enough, whatever the other holds.
        expect((await post(url, "/get_reward", body, { "X-Api-Key": "s3cret", Authorization: "Bearer wrong" })).status).toBe(200);
        const missing = await post(url, "/get_reward", body);
        expect(missing.json.error.message).toMatch(/X-Api-Key/);
    });
});

describe("queue limit, client disconnects, graceful close", () => {
    // Small batches, so one request keeps the scheduler busy for many steps.
    let slow: RewardModel;
    beforeAll(async () => {
        slow = await RewardModel.load(tinyF32, { contextSize: 1024, batchSize: 16, parallel: 2 });
    });
    afterAll(() => slow?.dispose());

    it("past --max-queue a request gets 429 with Retry-After, the others finish", async () => {
        const limited = createServer(slow, { maxQueue: 3 });
        const url = await started(limited);
        try {
            const heavy = Array.from({ length: 3 }, (_, i) => longConversation(400, 40 + i));
            const first = post(url, "/v1/score", { conversations: heavy });
            await waitFor(async () => metric((await get(url, "/metrics")).text, "llama_reward_queue_depth") === 3, 10_000, "queue depth 3");
            const refused = await post(url, "/v1/score", { messages: conversations[0] });
            expect(refused.status).toBe(429);
            expect(refused.headers.get("retry-after")).toBe("1");
            expect(refused.json.error).toMatchObject({ code: "ERR_QUEUE_FULL", type: "rate_limit_error" });
            const tooMany = await post(url, "/v1/score", { conversations: [...conversations] });
            expect(tooMany.status).toBe(413);
            expect(tooMany.json.error.code).toBe("ERR_TOO_MANY_ITEMS");
            const done = await first;
            expect(done.status).toBe(200);
            expectClose(done.json.rewards, await model.scoreBatch(heavy)); // the fast instance: same weights, fewer steps
            expect((await post(url, "/v1/score", { messages: conversations[0] })).status).toBe(200);
        } finally {
            await limited.close();
        }
    });

    it("a client that disconnects frees its slots; its work stops", async () => {
        const aborting = createServer(slow);
        const url = await started(aborting);
        try {
            const heavy = Array.from({ length: 24 }, (_, i) => longConversation(300, 200 + i));
            const fullSteps = Math.ceil(heavy.reduce((n, c) => n + slow.tokenizeConversation(c).length, 0) / 16);
            const steps0 = slow.stats.steps;
            const admitted = waitFor(
                async () => (metric((await get(url, "/metrics")).text, "llama_reward_queue_depth") ?? 0) > 0,
                10_000,
                "the request to be queued",
            );
            await abandonedPost(`${url}/v1/score`, { conversations: heavy }, admitted);
            await waitFor(async () => metric((await get(url, "/metrics")).text, "llama_reward_queue_depth") === 0, 10_000, "queue depth 0");
            const stepsAfter = slow.stats.steps;
            await new Promise((r) => setTimeout(r, 100));
            expect(slow.stats.steps).toBe(stepsAfter); // nothing left decoding
            expect(stepsAfter - steps0).toBeLessThan(fullSteps / 2);
            const text = (await get(url, "/metrics")).text;
            expect(metric(text, "llama_reward_requests_total", '{route="/v1/score",status="499"}')).toBe(1);
            const after = await post(url, "/v1/score", { messages: conversations[0] });
            expect(after.status).toBe(200);
            expectClose(after.json.rewards, [await slow.score(conversations[0]!)]);
        } finally {
            await aborting.close();
        }
    });

    it("close() answers the requests in flight, then stops accepting connections", async () => {
        const closing = createServer(slow);
        const url = await started(closing);
        const inputs = Array.from({ length: 8 }, (_, i) => longConversation(120, 300 + i));
        const expected = await model.scoreBatch(inputs);
        const pending = inputs.map((messages) => post(url, "/v1/score", { messages }));
        await waitFor(
            async () => (metric((await get(url, "/metrics")).text, "llama_reward_queue_depth") ?? 0) === 8,
            10_000,
            "all 8 requests in flight",
        );
        const closed = closing.close();
        // Draining: the port takes no new connections, and /health on a connection already open says 503.
        expect(closing.state).toBe("draining");
        const health = (await findRoute("/health").handle({
            server: closing as never,
            model: slow,
            body: undefined,
            signal: new AbortController().signal,
        })) as { status: number; json: unknown };
        expect(health).toEqual({ status: 503, json: { status: "draining" } });
        await expect(call(url, "GET", "/health")).rejects.toThrow();
        await closed;
        const replies = await Promise.all(pending);
        replies.forEach((r, i) => {
            expect(r.status).toBe(200);
            expectClose(r.json.rewards, [expected[i]!]);
        });
        await expect(call(url, "GET", "/health")).rejects.toThrow();
    });
});

describe("lifecycle", () => {
    it("answers 503 while the model loads, then serves", async () => {
        let resolve!: (m: RewardModel) => void;
        const loading = createServer(
            new Promise<RewardModel>((r) => {
                resolve = r;
            }),
        );
        const url = await started(loading);
        try {
            const health = await get(url, "/health");
            expect(health.status).toBe(503);
            expect(health.json).toEqual({ status: "loading" });
            const early = await post(url, "/v1/score", { messages: conversations[0] });
            expect(early.status).toBe(503);
            expect(early.json.error.code).toBe("ERR_LOADING");
            resolve(model);
            await loading.ready;
            expect((await get(url, "/health")).status).toBe(200);
            expect((await post(url, "/v1/score", { messages: conversations[0] })).status).toBe(200);
        } finally {
            await loading.close();
        }
        expect(loading.state).toBe("closed");
    });
});

describe("multi-label heads", () => {
    const work = makeWorkDir("server-labels");
    const file = path.join(work, "two-labels.gguf");
    let two: RewardModel;
    let twoServer: RewardServer;
    let url: string;
    beforeAll(async () => {
        const checkpoint = writeLlama31Checkpoint(work, loadVocab());
        await convert(checkpoint.dir, file, { outType: "f32" });
        two = await RewardModel.load(file, { contextSize: 512 });
        twoServer = createServer(two);
        url = await started(twoServer);
    });
    afterAll(async () => {
        await twoServer?.close();
        await two?.dispose();
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("/v1/score adds scores per item; /classify applies softmax and names the label", async () => {
        const vectors = await Promise.all(conversations.slice(0, 2).map((c) => two.scoreVector(c)));
        const score = await post(url, "/v1/score", { conversations: conversations.slice(0, 2) });
        expect(score.status).toBe(200);
        expect(score.json.scores).toHaveLength(2);
        score.json.scores.forEach((s: number[], i: number) => expectClose(s, vectors[i]!));
        expectClose(
            score.json.rewards,
            vectors.map((v) => v[0]!),
        );

        const classify = await post(url, "/classify", { messages: conversations[0] });
        const [a, b] = vectors[0]! as [number, number];
        const pa = 1 / (1 + Math.exp(b - a));
        expect(classify.json.data[0].num_classes).toBe(2);
        expectClose(classify.json.data[0].probs, [pa, 1 - pa]);
        expect(classify.json.data[0].label).toBe(pa >= 0.5 ? "helpful" : "harmless");
        const raw = await post(url, "/classify", { messages: conversations[0], use_activation: false });
        expectClose(raw.json.data[0].probs, vectors[0]!);
    });
});
