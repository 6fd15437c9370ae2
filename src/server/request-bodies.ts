/**
 * Request validation of the reward server: the accepted body shape of each
 * scoring route, checked before any tokenization. A wrong shape is a 422
 * naming the field; message contents are checked by the model itself.
 */
import type { ChatMessage } from "../model/chat-template.js";
import type { StepSettingsOptions } from "../model/step-scores.js";
import { invalidBody } from "./http-error.js";

export type ScoreBody = (
    | { kind: "messages"; messages: ChatMessage[] }
    | { kind: "conversations"; conversations: ChatMessage[][] }
    | { kind: "responses"; prompt: ChatMessage[]; responses: string[] }
) & {
    /** Score each conversation's steps (scoreSteps) with these settings over the model's own. */
    steps?: StepSettingsOptions;
};

/** POST /pooling (vLLM): per-step values of each input or of a conversation. */
export interface PoolingBody {
    inputs?: string[];
    messages?: ChatMessage[];
    addSpecialTokens: boolean;
}

export interface GetRewardBody {
    queries: string[];
}

export interface ClassifyBody {
    /** Raw texts, or undefined when `messages` is given. */
    inputs?: string[];
    messages?: ChatMessage[];
    /** Sigmoid (one label) or softmax (several); false gives raw rewards. */
    activation: boolean;
    /** Add BOS as the tokenizer does (vLLM's add_special_tokens); raw texts only. */
    addSpecialTokens: boolean;
    /** Keep only the last k tokens of each input (vLLM's truncate_prompt_tokens); undefined: no limit. */
    truncateTo?: number;
    /** One entry per step of each input (the model's process-reward settings) instead of one per input. */
    steps: boolean;
}

function asObject(body: unknown): Record<string, unknown> {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw invalidBody("the request body must be a JSON object");
    }
    return body as Record<string, unknown>;
}

function nonEmptyArray(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) throw invalidBody(`"${field}" must be an array`);
    if (value.length === 0) throw invalidBody(`"${field}" is empty`);
    return value;
}

function stringArray(value: unknown, field: string): string[] {
    const items = nonEmptyArray(value, field);
    items.forEach((item, i) => {
        if (typeof item !== "string") throw invalidBody(`"${field}[${i}]" must be a string`);
    });
    return items as string[];
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "boolean") throw invalidBody(`"${field}" must be true or false`);
    return value;
}

/** POST /v1/score: exactly one of messages, conversations, or prompt + responses. */
export function parseScoreBody(raw: unknown): ScoreBody {
    const body = asObject(raw);
    const allowed = new Set(["messages", "conversations", "prompt", "responses", "model", "steps"]);
    const unknown = Object.keys(body).filter((k) => !allowed.has(k));
    if (unknown.length > 0) throw invalidBody(`unknown field(s) ${unknown.map((k) => `"${k}"`).join(", ")}`);
    const shapes = ["messages", "conversations", "prompt"].filter((k) => body[k] !== undefined);
    if (shapes.length !== 1 || (body.prompt === undefined) !== (body.responses === undefined)) {
        throw invalidBody(
            'the body needs exactly one of {"messages": [...]}, {"conversations": [[...], ...]} ' +
                'or {"prompt": [...], "responses": ["...", ...]}',
        );
    }
    const steps = stepSettings(body.steps);
    if (steps !== undefined && body.prompt !== undefined) throw invalidBody('"steps" scores "messages" or "conversations"');
    const withSteps = steps !== undefined ? { steps } : {};
    if (body.messages !== undefined) {
        return { kind: "messages", messages: nonEmptyArray(body.messages, "messages") as ChatMessage[], ...withSteps };
    }
    if (body.conversations !== undefined) {
        const conversations = nonEmptyArray(body.conversations, "conversations");
        conversations.forEach((c, i) => nonEmptyArray(c, `conversations[${i}]`));
        return { kind: "conversations", conversations: conversations as ChatMessage[][], ...withSteps };
    }
    return {
        kind: "responses",
        prompt: nonEmptyArray(body.prompt, "prompt") as ChatMessage[],
        responses: stringArray(body.responses, "responses"),
    };
}

/** "steps": true (the model's settings) or an object of scoreSteps settings; undefined when absent or false. */
function stepSettings(value: unknown): StepSettingsOptions | undefined {
    if (value === undefined || value === null || value === false) return undefined;
    if (value === true) return {};
    if (typeof value !== "object" || Array.isArray(value)) throw invalidBody('"steps" must be true or an object of step settings');
    const known = new Set(["format", "stepTag", "activation", "scoreLabel", "aggregate"]);
    const unknown = Object.keys(value).filter((k) => !known.has(k));
    if (unknown.length > 0) throw invalidBody(`unknown field(s) of "steps": ${unknown.map((k) => `"${k}"`).join(", ")}`);
    return value as StepSettingsOptions; // values are checked by scoreSteps (422 ERR_INVALID_OPTION)
}

/** POST /pooling (vLLM): {"input": text | [texts]} or {"messages": [...]}, with add_special_tokens. */
export function parsePoolingBody(raw: unknown): PoolingBody {
    const body = asObject(raw);
    if ((body.input === undefined) === (body.messages === undefined)) {
        throw invalidBody('the body needs exactly one of "input": "text" | ["text", ...] or "messages": [...]');
    }
    if (body.messages !== undefined) {
        return { messages: nonEmptyArray(body.messages, "messages") as ChatMessage[], addSpecialTokens: false };
    }
    const inputs = typeof body.input === "string" ? [body.input] : stringArray(body.input, "input");
    return { inputs, addSpecialTokens: optionalBoolean(body, "add_special_tokens") ?? true };
}

/**
 * POST /get_reward (OpenRLHF): {"query": [...texts]}; prompts, labels and other fields are ignored. An empty
 * list is valid: OpenRLHF's client splits a batch over every --remote_rm_url, and a short batch leaves the
 * last URLs an empty chunk, which its serve_rm answers with empty lists.
 */
export function parseGetRewardBody(raw: unknown): GetRewardBody {
    const body = asObject(raw);
    if (body.query === undefined) throw invalidBody('the body needs "query": ["text", ...]');
    if (Array.isArray(body.query) && body.query.length === 0) return { queries: [] };
    return { queries: stringArray(body.query, "query") };
}

/** POST /classify (vLLM): {"input": text | [texts]} or {"messages": [...]}, with vLLM's optional fields. */
export function parseClassifyBody(raw: unknown): ClassifyBody {
    const body = asObject(raw);
    if ((body.input === undefined) === (body.messages === undefined)) {
        throw invalidBody('the body needs exactly one of "input": "text" | ["text", ...] or "messages": [...]');
    }
    const activation =
        optionalBoolean(body, "use_activation") ?? optionalBoolean(body, "activation") ?? optionalBoolean(body, "softmax") ?? true;
    const truncate = body.truncate_prompt_tokens;
    let truncateTo: number | undefined;
    if (truncate !== undefined && truncate !== null) {
        if (typeof truncate !== "number" || !Number.isInteger(truncate) || truncate < -1 || truncate === 0) {
            throw invalidBody('"truncate_prompt_tokens" must be -1 or a positive integer');
        }
        truncateTo = truncate === -1 ? undefined : truncate;
    }
    const steps = optionalBoolean(body, "steps") ?? false;
    if (steps && truncateTo !== undefined) throw invalidBody('"steps" reads whole inputs: drop "truncate_prompt_tokens"');
    const common = { activation, truncateTo, steps };
    if (body.messages !== undefined) {
        return { ...common, messages: nonEmptyArray(body.messages, "messages") as ChatMessage[], addSpecialTokens: false };
    }
    const inputs = typeof body.input === "string" ? [body.input] : stringArray(body.input, "input");
    return { ...common, inputs, addSpecialTokens: optionalBoolean(body, "add_special_tokens") ?? true };
}
