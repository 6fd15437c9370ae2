/**
 * createServer: the reward server on node:http. Serves the routes of
 * routes.ts for one RewardModel or IsolatedRewardModel (or the promise of
 * one: /health says 503 until it is loaded, and 503 with the reason once an
 * isolated model's engine has crashed; nothing is restarted), checks the API key
 * (Authorization: Bearer or X-Api-Key), maps every failure to a JSON
 * error with its status, aborts a request's scoring when its client
 * disconnects, and shuts down gracefully: close() stops accepting
 * connections and resolves once every request in flight has been answered.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { RewardModel } from "../model/reward-model.js";
import { engineCrash, type ServedModel } from "./served-model.js";
import { Admission } from "./admission.js";
import { HttpError, clientClosedStatus, toHttpError } from "./http-error.js";
import { parseJson, readBody, sendJson, sendText } from "./http-io.js";
import { Metrics } from "./metrics.js";
import { findRoute, type ServerState, type ServerView } from "./routes.js";
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from "./server-options.js";

export type { ServerOptions } from "./server-options.js";
export type { ServerState } from "./routes.js";

export interface ListenAddress {
    host: string;
    port: number;
    /** e.g. http://127.0.0.1:8080 */
    url: string;
}

export interface RewardServer<M extends ServedModel = RewardModel> {
    /** The underlying node:http server. */
    readonly http: http.Server;
    /**
     * "loading" until the model is there, then "ready"; "draining" and "closed" after close(); "failed" if loading
     * failed; "crashed" once an isolated model's engine process has died.
     */
    readonly state: ServerState;
    /** The model once loaded. */
    readonly model: M | undefined;
    /** Resolves with the model once loaded; rejects if loading failed. */
    readonly ready: Promise<M>;
    /** Starts listening. Defaults: port 8080, host 127.0.0.1. Port 0 picks a free port. */
    listen(port?: number, host?: string): Promise<ListenAddress>;
    /** Stops accepting connections, answers every request in flight, then resolves. Does not dispose the model. Idempotent. */
    close(): Promise<void>;
}

/** A reward server for `model` (or a promise of it, so /health can answer while it loads). */
export function createServer<M extends ServedModel = RewardModel>(model: M | Promise<M>, options?: ServerOptions): RewardServer<M> {
    return new Server(model, resolveServerOptions(options));
}

class Server<M extends ServedModel> implements RewardServer<M>, ServerView {
    readonly http: http.Server;
    readonly ready: Promise<M>;
    readonly admission: Admission;
    readonly metrics = new Metrics();
    readonly createdAt = Date.now();
    private stateNow: ServerState = "loading";
    private modelNow: M | undefined;
    private inFlight = 0;
    private closing: Promise<void> | undefined;
    private onIdle: (() => void) | undefined;
    private readonly apiKeyDigest: Buffer | undefined;

    constructor(
        model: M | Promise<M>,
        private readonly options: ResolvedServerOptions,
    ) {
        this.admission = new Admission(options.maxQueue);
        this.apiKeyDigest = options.apiKey === undefined ? undefined : digest(`Bearer ${options.apiKey}`);
        this.ready = Promise.resolve(model).then(
            (m) => {
                this.modelNow = m;
                if (this.stateNow === "loading") this.stateNow = "ready";
                return m;
            },
            (error: unknown) => {
                if (this.stateNow === "loading") this.stateNow = "failed";
                throw error;
            },
        );
        this.ready.catch(() => undefined); // the caller decides; an unawaited failure must not crash the process
        this.http = http.createServer((req, res) => {
            void this.handle(req, res);
        });
    }

    get state(): ServerState {
        if (this.stateNow === "ready" && engineCrash(this.modelNow) !== undefined) return "crashed";
        return this.stateNow;
    }

    get model(): M | undefined {
        return this.modelNow;
    }

    get modelName(): string {
        return this.options.modelName ?? (this.modelNow?.info.name || "llama-reward");
    }

    get requestsInFlight(): number {
        return this.inFlight;
    }

    listen(port = 8080, host = "127.0.0.1"): Promise<ListenAddress> {
        return new Promise((resolve, reject) => {
            const onError = (error: Error) => reject(error);
            this.http.once("error", onError);
            this.http.listen(port, host, () => {
                this.http.off("error", onError);
                const address = this.http.address() as AddressInfo;
                const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
                resolve({ host: address.address, port: address.port, url: `http://${shown}:${address.port}` });
            });
        });
    }

    close(): Promise<void> {
        this.closing ??= (async () => {
            this.stateNow = "draining";
            const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
            this.http.closeIdleConnections();
            if (this.inFlight > 0)
                await new Promise<void>((resolve) => {
                    this.onIdle = resolve;
                });
            this.http.closeIdleConnections();
            // Answered keep-alive connections close themselves (Connection: close); this only catches stragglers.
            const timer = setTimeout(() => this.http.closeAllConnections(), 2000);
            await closed;
            clearTimeout(timer);
            this.stateNow = "closed";
        })();
        return this.closing;
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const started = performance.now();
        this.inFlight++;
        const path = (req.url ?? "/").split("?")[0]!;
        let routeLabel = "other";
        let status = 500;
        const controller = new AbortController();
        res.on("close", () => {
            if (!res.writableFinished) controller.abort(new Error("the client disconnected"));
        });
        try {
            const route = findRoute(path);
            routeLabel = path;
            if (req.method !== route.method) {
                throw new HttpError(405, "ERR_METHOD_NOT_ALLOWED", `${req.method} is not allowed on ${path}; use ${route.method}`, {
                    Allow: route.method,
                });
            }
            if (route.auth) this.authenticate(req);
            // Draining: requests on connections accepted before close() are still answered, each connection's last.
            if (this.stateNow === "draining" || this.stateNow === "closed") res.setHeader("Connection", "close");
            if (route.needsModel && this.modelNow === undefined) {
                throw new HttpError(
                    503,
                    this.stateNow === "failed" ? "ERR_LOAD_FAILED" : "ERR_LOADING",
                    this.stateNow === "failed" ? "the model failed to load" : "the model is still loading",
                    { "Retry-After": "1" },
                );
            }
            const body = route.method === "POST" ? parseJson(await readBody(req, this.options.maxBody)) : undefined;
            const reply = await route.handle({ server: this, model: this.modelNow!, body, signal: controller.signal });
            status = reply.status ?? 200;
            if ("json" in reply) sendJson(res, status, reply.json);
            else sendText(res, status, reply.text, reply.contentType);
        } catch (error) {
            const failure = toHttpError(error);
            status = controller.signal.aborted || res.destroyed ? clientClosedStatus : failure.status;
            if (status !== clientClosedStatus) {
                if (!req.complete && hasBody(req)) res.setHeader("Connection", "close"); // do not read the rest of a refused body
                sendJson(res, failure.status, failure.toJSON(), failure.headers);
            }
            if (status >= 500 && status !== 503) this.options.log?.(`error on ${req.method} ${path}: ${failure.message}`);
        } finally {
            this.inFlight--;
            const seconds = (performance.now() - started) / 1000;
            this.metrics.observe(routeLabel, status, seconds);
            this.options.log?.(`${req.method} ${path} ${status} ${(seconds * 1000).toFixed(1)}ms`);
            if (this.inFlight === 0 && this.onIdle) {
                const resolve = this.onIdle;
                this.onIdle = undefined;
                resolve();
            }
        }
    }

    /** Accepts `Authorization: Bearer <key>` or `X-Api-Key: <key>` (either one right is enough). */
    private authenticate(req: http.IncomingMessage): void {
        if (this.apiKeyDigest === undefined) return;
        const bearer = req.headers.authorization;
        const header = req.headers["x-api-key"];
        const apiKey = Array.isArray(header) ? header[0] : header;
        const matches = (given: string | undefined) => given !== undefined && timingSafeEqual(digest(given), this.apiKeyDigest!);
        if (matches(bearer) || (apiKey !== undefined && matches(`Bearer ${apiKey}`))) return;
        throw new HttpError(
            401,
            "ERR_UNAUTHORIZED",
            bearer === undefined && apiKey === undefined
                ? "missing API key: send Authorization: Bearer <key> or X-Api-Key: <key>"
                : "wrong API key",
            { "WWW-Authenticate": "Bearer" },
        );
    }
}

function hasBody(req: http.IncomingMessage): boolean {
    const length = req.headers["content-length"];
    return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function digest(text: string): Buffer {
    return createHash("sha256").update(text).digest();
}
