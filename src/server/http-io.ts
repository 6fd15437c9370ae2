/**
 * HTTP plumbing of the reward server: reading a request body under a size
 * limit (refused from Content-Length before any byte is read, or as soon as
 * a chunked body passes it), parsing JSON, and writing JSON or text replies.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "./http-error.js";

/** Reads the whole body, or throws a 413 HttpError once it would pass `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > limit) {
        return Promise.reject(tooLarge(limit, `Content-Length is ${declared}`));
    }
    return new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const cleanup = () => {
            req.off("data", onData);
            req.off("end", onEnd);
            req.off("error", onError);
            req.off("close", onClose);
        };
        const onData = (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) {
                cleanup();
                req.pause();
                reject(tooLarge(limit, `the body passed ${limit} bytes`));
                return;
            }
            chunks.push(chunk);
        };
        const onEnd = () => {
            cleanup();
            resolve(Buffer.concat(chunks, size));
        };
        const onError = (error: Error) => {
            cleanup();
            reject(error);
        };
        const onClose = () => {
            cleanup();
            reject(new Error("the client closed the connection before sending the whole body"));
        };
        req.on("data", onData);
        req.on("end", onEnd);
        req.on("error", onError);
        req.on("close", onClose);
    });
}

function tooLarge(limit: number, detail: string): HttpError {
    return new HttpError(413, "ERR_BODY_TOO_LARGE", `request body too large: ${detail}; the limit (--max-body) is ${limit} bytes`);
}

/** Parses a JSON body; an empty or malformed one is a 400. */
export function parseJson(body: Buffer): unknown {
    if (body.length === 0) throw new HttpError(400, "ERR_INVALID_JSON", "the request body is empty; send a JSON object");
    try {
        return JSON.parse(body.toString("utf8"));
    } catch (error) {
        throw new HttpError(400, "ERR_INVALID_JSON", `the request body is not valid JSON: ${(error as Error).message}`);
    }
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): void {
    send(res, status, JSON.stringify(value), "application/json", headers);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
    send(res, status, text, contentType, {});
}

function send(res: ServerResponse, status: number, text: string, contentType: string, headers: Readonly<Record<string, string>>): void {
    if (res.headersSent || res.destroyed) return;
    const body = Buffer.from(text, "utf8");
    res.writeHead(status, { ...headers, "Content-Type": contentType, "Content-Length": String(body.length) });
    res.end(body);
}
