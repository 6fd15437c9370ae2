/**
 * OpenRLHF's remote reward-model client, rewritten in TypeScript for the
 * tests and the replica bench: a batch of queries is split into contiguous
 * chunks of ceil(n / urls) (a short batch leaves the last URLs an empty
 * chunk), each chunk is posted as {"query", "prompts", "labels"} JSON to its
 * URL with only Content-Type set, and a chunk that fails (connection error,
 * HTTP status >= 400, timeout) is retried up to 5 tries in all with 1 s
 * between tries, 180 s per try.
 *
 * Public reference: OpenRLHF/OpenRLHF, openrlhf/utils/agent.py,
 * SingleTurnAgentExecutor._fetch_rewards_via_http, at commit
 * 3c3be6234e0cb353e76bb8019947db9dfe99fca7 (2026-08-13).
 */
import http from "node:http";

/** One URL's reply body, as OpenRLHF reads it. */
export interface RemoteRmReply {
    rewards: number[];
    scores: number[];
    extra_logs?: Record<string, number[]>;
}

export interface RemoteRmOptions {
    /** Tries per chunk (OpenRLHF: 5). */
    tries?: number;
    /** Pause between tries, ms (OpenRLHF: 1000). */
    retryDelayMs?: number;
    /** Limit of one try, ms (OpenRLHF: 180 000). */
    timeoutMs?: number;
    /** Extra request headers (OpenRLHF sends none besides Content-Type). */
    headers?: Record<string, string>;
    /** Told of each failed try. */
    onFailedTry?: (url: string, error: Error) => void;
    /** The agent to send with (default: a new connection per request, as aiohttp's per-try session does). */
    agent?: http.Agent;
}

/** The chunks OpenRLHF sends: `urls.length` contiguous slices of ceil(n / urls) items (some may be empty). */
export function chunkBounds(items: number, urls: number): [number, number][] {
    const size = Math.ceil(items / urls);
    return Array.from({ length: urls }, (_, i) => [Math.min(i * size, items), Math.min((i + 1) * size, items)]);
}

/** Posts `queries` split over `urls` and resolves with each URL's reply, in URL order. */
export function fetchRemoteRewards(
    urls: readonly string[],
    queries: readonly string[],
    prompts: readonly string[],
    labels: readonly string[],
    options: RemoteRmOptions = {},
): Promise<RemoteRmReply[]> {
    const bounds = chunkBounds(queries.length, urls.length);
    return Promise.all(
        urls.map((url, i) => {
            const [start, end] = bounds[i]!;
            const payload = { query: queries.slice(start, end), prompts: prompts.slice(start, end), labels: labels.slice(start, end) };
            return postWithRetries(url, JSON.stringify(payload), options);
        }),
    );
}

/** The rewards of every query, in order, from the replies of fetchRemoteRewards. */
export function flatRewards(replies: readonly RemoteRmReply[]): number[] {
    return replies.flatMap((r) => r.rewards);
}

async function postWithRetries(url: string, body: string, options: RemoteRmOptions): Promise<RemoteRmReply> {
    const tries = options.tries ?? 5;
    let last: Error | undefined;
    for (let attempt = 0; attempt < tries; attempt++) {
        try {
            return await postOnce(url, body, options);
        } catch (error) {
            last = error as Error;
            options.onFailedTry?.(url, last);
        }
        await new Promise((r) => setTimeout(r, options.retryDelayMs ?? 1000));
    }
    throw new Error(`${url}: ${tries} tries failed; last: ${last?.message}`);
}

function postOnce(url: string, body: string, options: RemoteRmOptions): Promise<RemoteRmReply> {
    return new Promise((resolve, reject) => {
        const req = http.request(
            url,
            {
                method: "POST",
                agent: options.agent ?? false,
                timeout: options.timeoutMs ?? 180_000,
                headers: { ...options.headers, "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)) },
            },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (d: string) => {
                    text += d;
                });
                res.on("error", reject);
                res.on("end", () => {
                    const status = res.statusCode ?? 0;
                    if (status >= 400) return reject(new Error(`HTTP ${status}: ${text.slice(0, 200)}`));
                    try {
                        resolve(JSON.parse(text) as RemoteRmReply);
                    } catch (error) {
                        reject(error as Error);
                    }
                });
            },
        );
        req.on("timeout", () => req.destroy(new Error("timed out")));
        req.on("error", reject);
        req.end(body);
    });
}
