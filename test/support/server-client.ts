/**
 * A small HTTP client for the server tests: JSON calls with fetch, raw
 * requests with node:http (lying Content-Length, chunked bodies, early
 * disconnects), and Prometheus metric lookups.
 */
import http from "node:http";

export interface Reply {
    status: number;
    headers: Headers;
    // biome-ignore lint/suspicious/noExplicitAny: replies are JSON of any shape, which the tests read field by field
    json: any;
    text: string;
}

export async function call(
    base: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
): Promise<Reply> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)["Content-Type"] = "application/json";
    }
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
}

export const post = (base: string, path: string, body: unknown, headers?: Record<string, string>) =>
    call(base, "POST", path, body, headers);
export const get = (base: string, path: string, headers?: Record<string, string>) => call(base, "GET", path, undefined, headers);

/** One sample of a Prometheus metric from /metrics text; undefined when absent. */
export function metric(text: string, name: string, labels = ""): number | undefined {
    const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** Polls until `check` returns true, or throws after `ms`. */
export async function waitFor(check: () => Promise<boolean> | boolean, ms = 10_000, what = "condition"): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`timed out waiting for ${what}`);
}

export interface RawReply {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
}

/**
 * Sends headers and `firstChunk` of a POST, never the rest, and resolves
 * with the reply the server sends anyway. With `chunked`, keeps sending
 * chunks of `chunkBytes` until a reply comes.
 */
export function partialPost(url: string, headers: Record<string, string>, firstChunk: Buffer, chunked = false): Promise<RawReply> {
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method: "POST", headers, agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => {
                body += d;
            });
            res.on("end", () => {
                clearInterval(timer);
                req.destroy();
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
            });
        });
        let timer: NodeJS.Timeout | undefined;
        req.on("error", (error) => {
            clearInterval(timer);
            reject(error);
        });
        req.write(firstChunk);
        if (chunked)
            timer = setInterval(() => {
                if (!req.destroyed) req.write(firstChunk);
            }, 1);
    });
}

/** Starts a POST and destroys the connection once `whenToAbort` resolves; resolves when the socket is gone. */
export function abandonedPost(url: string, body: unknown, whenToAbort: Promise<void>): Promise<void> {
    return new Promise((resolve) => {
        const data = JSON.stringify(body);
        const req = http.request(url, {
            method: "POST",
            agent: false,
            headers: { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(data)) },
        });
        req.on("error", () => undefined);
        req.on("close", () => resolve());
        req.end(data);
        void whenToAbort.then(() => req.destroy());
    });
}
