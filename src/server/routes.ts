/**
 * The reward server's routes: POST /v1/score (ours), POST /get_reward
 * (OpenRLHF's serve_rm), POST /classify and /pooling (vLLM; per-step values
 * of process reward models), GET /v1/models, /health and /metrics. Each handler turns a parsed body into a reply; HTTP plumbing,
 * authentication and lifecycle live in server.ts.
 */
import { randomUUID } from "node:crypto";
import { withResponse } from "../model/chat-template.js";
import { engineCrash, type ServedModel } from "./served-model.js";
import type { Admission } from "./admission.js";
import { argmax } from "../model/preference.js";
import { activate } from "./activation.js";
import { HttpError } from "./http-error.js";
import type { Metrics } from "./metrics.js";
import { parseClassifyBody, parseGetRewardBody, parsePoolingBody, parseScoreBody } from "./request-bodies.js";
import { scoreLists, scoreObjectiveLists, scoreStepsEach, tokenCount, tokenizeEach } from "./scoring.js";

export type ServerState = "loading" | "ready" | "draining" | "closed" | "failed" | "crashed";

/** What handlers see of the server. */
export interface ServerView {
    readonly state: ServerState;
    readonly model: ServedModel | undefined;
    readonly modelName: string;
    readonly admission: Admission;
    readonly metrics: Metrics;
    readonly requestsInFlight: number;
    readonly createdAt: number;
}

export interface RouteContext {
    server: ServerView;
    /** Set when the route needs the model (it is loaded by then). */
    model: ServedModel;
    body: unknown;
    /** Fires when the client disconnects. */
    signal: AbortSignal;
}

export type Reply = { status?: number; json: unknown } | { status?: number; text: string; contentType: string };

export interface Route {
    method: "GET" | "POST";
    /** Needs the API key when one is set. */
    auth: boolean;
    /** Answered 503 until the model is loaded. */
    needsModel: boolean;
    handle(context: RouteContext): Reply | Promise<Reply>;
}

async function score({ server, model, body, signal }: RouteContext): Promise<Reply> {
    const request = parseScoreBody(body);
    if (request.steps !== undefined && request.kind !== "responses") {
        const conversations = request.kind === "messages" ? [request.messages] : request.conversations;
        const where = (i: number) => (request.kind === "messages" ? "messages" : `conversations[${i}]`);
        const results = await scoreStepsEach(model, server.admission, conversations, where, request.steps, signal);
        return { json: { rewards: results.map((r) => r.score), steps: results, model: server.modelName } };
    }
    let lists: number[][];
    switch (request.kind) {
        case "messages":
            lists = await tokenizeEach(
                [request.messages],
                () => "messages",
                (m) => model.tokenizeConversation(m),
            );
            break;
        case "conversations":
            lists = await tokenizeEach(
                request.conversations,
                (i) => `conversations[${i}]`,
                (m) => model.tokenizeConversation(m),
            );
            break;
        case "responses": {
            const { prompt } = request;
            lists = await tokenizeEach(
                request.responses,
                (i) => `responses[${i}]`,
                (response) => model.tokenizeConversation(withResponse(prompt, response)),
            );
            break;
        }
    }
    if (model.info.objectives.length > 0) {
        // a multi-objective head with gating: the gated rewards, with every objective and gating weight
        const results = await scoreObjectiveLists(model, server.admission, lists, signal);
        return {
            json: {
                rewards: results.map((r) => r.score),
                objectives: results.map((r) => r.objectives),
                gating: results.map((r) => r.gating),
                model: server.modelName,
                usage: { prompt_tokens: tokenCount(lists) },
            },
        };
    }
    const vectors = await scoreLists(model, server.admission, lists, signal);
    return {
        json: {
            rewards: vectors.map((v) => v[0]!),
            ...(model.info.labels.length > 1 ? { scores: vectors } : {}),
            model: server.modelName,
            usage: { prompt_tokens: tokenCount(lists) },
        },
    };
}

/**
 * OpenRLHF: texts already in the chat template; special tokens parsed, no BOS added (add_special_tokens=False).
 * `extra_logs` holds one number per query, which OpenRLHF logs beside the reward: the tokens scored.
 */
async function getReward({ server, model, body, signal }: RouteContext): Promise<Reply> {
    const { queries } = parseGetRewardBody(body);
    if (queries.length === 0) return { json: { rewards: [], scores: [], extra_logs: { rm_tokens: [] } } };
    const lists = await tokenizeEach(
        queries,
        (i) => `query[${i}]`,
        (text) => model.tokenize(text, { special: true, addSpecial: false, fitContext: true }),
    );
    const rewards = (await scoreLists(model, server.admission, lists, signal)).map((v) => v[0]!);
    return { json: { rewards, scores: rewards, extra_logs: { rm_tokens: lists.map((l) => l.length) } } };
}

/** vLLM's /classify, for raw texts (add_special_tokens as vLLM: default true) or a conversation. */
async function classify({ server, model, body, signal }: RouteContext): Promise<Reply> {
    const request = parseClassifyBody(body);
    let lists: number[][];
    if (request.messages) {
        lists = await tokenizeEach(
            [request.messages],
            () => "messages",
            (m) => model.tokenizeConversation(m),
        );
    } else {
        lists = await tokenizeEach(
            request.inputs!,
            (i) => `input[${i}]`,
            (text) =>
                model.tokenize(text, { special: true, addSpecial: request.addSpecialTokens, fitContext: request.truncateTo === undefined }),
        );
    }
    if (request.truncateTo !== undefined) {
        const k = request.truncateTo;
        lists = lists.map((l) => (l.length > k ? l.slice(l.length - k) : l));
    }
    const labels = model.info.labels;
    const promptTokens = tokenCount(lists);
    if (request.steps) {
        // one entry per step of each input, each a classification with every label's probabilities
        const inputs = request.messages ? [request.messages] : lists.map((tokens) => ({ tokens }));
        const where = (i: number) => (request.messages ? "messages" : `input[${i}]`);
        const settings = request.activation ? {} : { activation: "none" as const };
        const results = await scoreStepsEach(model, server.admission, inputs, where, settings, signal);
        return {
            json: {
                ...classifyEnvelope(server.modelName),
                data: results.flatMap((r, index) =>
                    r.steps.map((s, step) => ({
                        index,
                        step,
                        label: labels[argmax(s.values)] ?? null,
                        probs: s.values,
                        num_classes: s.values.length,
                    })),
                ),
                usage: usage(promptTokens),
            },
        };
    }
    const vectors = await scoreLists(model, server.admission, lists, signal);
    return {
        json: {
            ...classifyEnvelope(server.modelName),
            data: vectors.map((values, index) => {
                const probs = activate(values, request.activation);
                return { index, label: labels[argmax(probs)] ?? null, probs, num_classes: values.length };
            }),
            usage: usage(promptTokens),
        },
    };
}

function classifyEnvelope(modelName: string) {
    return { id: `classify-${randomUUID().replace(/-/g, "")}`, object: "list", created: Math.floor(Date.now() / 1000), model: modelName };
}

function usage(promptTokens: number) {
    return { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0, prompt_tokens_details: null };
}

/**
 * vLLM's /pooling as its STEP pooling answers it: for each input, `data[i].data` holds one vector per step
 * (every label's value after the model's step activation), read at the model's step positions.
 */
async function pooling({ server, model, body, signal }: RouteContext): Promise<Reply> {
    const request = parsePoolingBody(body);
    const lists = request.messages
        ? await tokenizeEach(
              [request.messages],
              () => "messages",
              (m) => model.tokenizeConversation(m), // for usage; scoreSteps tokenizes it again, untruncated
          )
        : await tokenizeEach(
              request.inputs!,
              (i) => `input[${i}]`,
              (text) => model.tokenize(text, { special: true, addSpecial: request.addSpecialTokens }),
          );
    const inputs = request.messages ? [request.messages] : lists.map((tokens) => ({ tokens }));
    const where = (i: number) => (request.messages ? "messages" : `input[${i}]`);
    const results = await scoreStepsEach(model, server.admission, inputs, where, {}, signal);
    const promptTokens = tokenCount(lists);
    return {
        json: {
            id: `pool-${randomUUID().replace(/-/g, "")}`,
            object: "list",
            created: Math.floor(Date.now() / 1000),
            model: server.modelName,
            data: results.map((r, index) => ({ index, object: "pooling", data: r.steps.map((s) => s.values) })),
            usage: usage(promptTokens),
        },
    };
}

function models({ server, model }: RouteContext): Reply {
    const { chatTemplate, ...info } = model.info;
    return {
        json: {
            object: "list",
            data: [
                {
                    id: server.modelName,
                    object: "model",
                    created: Math.floor(server.createdAt / 1000),
                    owned_by: "llama-reward",
                    info: { ...info, chatTemplateLength: chatTemplate.length },
                    options: model.options,
                },
            ],
        },
    };
}

function health({ server }: RouteContext): Reply {
    const status = server.state === "ready" ? 200 : 503;
    const crash = engineCrash(server.model);
    return {
        status,
        json: { status: server.state === "ready" ? "ok" : server.state, ...(crash ? { reason: crash.message, code: crash.code } : {}) },
    };
}

function metrics({ server }: RouteContext): Reply {
    const stats = server.model?.stats ?? { steps: 0, tokens: 0 };
    return {
        contentType: "text/plain; version=0.0.4; charset=utf-8",
        text: server.metrics.render({
            decodeSteps: stats.steps,
            tokens: stats.tokens,
            queueDepth: server.admission.depth,
            requestsInFlight: server.requestsInFlight,
        }),
    };
}

export const routes: Readonly<Record<string, Route>> = {
    "/v1/score": { method: "POST", auth: true, needsModel: true, handle: score },
    "/get_reward": { method: "POST", auth: true, needsModel: true, handle: getReward },
    "/classify": { method: "POST", auth: true, needsModel: true, handle: classify },
    "/v1/classify": { method: "POST", auth: true, needsModel: true, handle: classify },
    "/pooling": { method: "POST", auth: true, needsModel: true, handle: pooling },
    "/v1/models": { method: "GET", auth: true, needsModel: true, handle: models },
    "/health": { method: "GET", auth: false, needsModel: false, handle: health },
    "/metrics": { method: "GET", auth: true, needsModel: false, handle: metrics },
};

/** The route for a path; unknown paths are a 404. */
export function findRoute(path: string): Route {
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) throw new HttpError(404, "ERR_NOT_FOUND", `no route ${path}; routes: ${Object.keys(routes).join(", ")}`);
    return route;
}
