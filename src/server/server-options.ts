/**
 * createServer options: their types, validation and defaults.
 */
import { invalidArgument } from "../errors.js";

export interface ServerOptions {
    /** Require `Authorization: Bearer <apiKey>` or `X-Api-Key: <apiKey>` on every route except /health. */
    apiKey?: string;
    /** Largest request body in bytes. Default: 16 MiB. */
    maxBody?: number;
    /** Most sequences server requests may have queued or decoding; past it requests get 429. Default: 1024. */
    maxQueue?: number;
    /** The model id in replies and /v1/models. Default: the model's general.name, else "llama-reward". */
    modelName?: string;
    /** Called with one line per finished request (method, path, status, milliseconds). */
    log?: (line: string) => void;
}

export interface ResolvedServerOptions {
    apiKey: string | undefined;
    maxBody: number;
    maxQueue: number;
    modelName: string | undefined;
    log: ((line: string) => void) | undefined;
}

const known = new Set(["apiKey", "maxBody", "maxQueue", "modelName", "log"]);

function positiveInteger(value: unknown, name: string, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1)
        throw invalidArgument(`${name} must be a positive integer, got ${String(value)}`);
    return value;
}

export function resolveServerOptions(options: ServerOptions | undefined): ResolvedServerOptions {
    const o = (options ?? {}) as Record<string, unknown>;
    if (typeof o !== "object") throw invalidArgument("createServer options must be an object");
    for (const key of Object.keys(o)) if (!known.has(key)) throw invalidArgument(`unknown server option "${key}"`);
    if (o.apiKey !== undefined && (typeof o.apiKey !== "string" || o.apiKey.length === 0))
        throw invalidArgument("apiKey must be a non-empty string");
    if (o.modelName !== undefined && (typeof o.modelName !== "string" || o.modelName.length === 0))
        throw invalidArgument("modelName must be a non-empty string");
    if (o.log !== undefined && typeof o.log !== "function") throw invalidArgument("log must be a function");
    return {
        apiKey: o.apiKey as string | undefined,
        maxBody: positiveInteger(o.maxBody, "maxBody", 16 * 2 ** 20),
        maxQueue: positiveInteger(o.maxQueue, "maxQueue", 1024),
        modelName: o.modelName as string | undefined,
        log: o.log as ((line: string) => void) | undefined,
    };
}
