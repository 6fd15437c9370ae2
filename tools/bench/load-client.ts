/**
 * The load generator of the server benchmarks, made as cheap as it can be so
 * that it takes little CPU from the server it measures (on a 2-core machine
 * it competes with the compute threads): one keep-alive TCP connection per
 * client, each request's bytes (request line, headers and JSON body) built
 * once before the run, and replies read by their Content-Length without an
 * HTTP parser. Also the closed-loop drivers shared by the server and the
 * in-process runs: `clients` loops, each starting its next request when its
 * previous one is answered, over one shared sequence of work items, either
 * for a number of requests or over a time window in steady state.
 */
import net from "node:net";

/** The bytes of one POST with a JSON body, ready to write to a keep-alive connection. */
export function postRequestBytes(url: URL, body: string): Buffer {
    const payload = Buffer.from(body, "utf8");
    const head =
        `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, "latin1"), payload]);
}

export interface RawReply {
    status: number;
    body: Buffer;
}

/**
 * One keep-alive HTTP/1.1 connection that sends prebuilt requests one at a time, and opens a new one when the
 * server has closed it between requests (Node's server closes keep-alive connections idle for 5 s). Understands
 * replies with a Content-Length (every reply of the reward server has one); anything else fails the request.
 */
export class LoadConnection {
    private socket: net.Socket | undefined;
    private buffered: Buffer = Buffer.alloc(0);
    private waiting: { resolve: (reply: RawReply) => void; reject: (error: Error) => void } | undefined;

    constructor(private readonly url: URL) {}

    /** Sends one prebuilt request and resolves with the reply (one request at a time per connection). */
    send(request: Buffer): Promise<RawReply> {
        if (this.waiting) return Promise.reject(new Error("LoadConnection sends one request at a time"));
        if (this.socket === undefined || this.socket.destroyed) this.connect();
        const socket = this.socket!;
        return new Promise<RawReply>((resolve, reject) => {
            this.waiting = { resolve, reject };
            socket.write(request); // queued by the socket until it is connected
        });
    }

    close(): void {
        this.socket?.destroy();
        this.socket = undefined;
    }

    private connect(): void {
        const socket = net.connect({ host: this.url.hostname.replace(/^\[|\]$/g, ""), port: Number(this.url.port || 80), noDelay: true });
        this.socket = socket;
        this.buffered = Buffer.alloc(0);
        socket.on("data", (chunk: Buffer) => {
            this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
            this.take();
        });
        const fail = (error: Error) => {
            const waiting = this.waiting;
            this.waiting = undefined;
            waiting?.reject(error);
        };
        socket.on("error", fail);
        socket.on("close", () => fail(new Error("the server closed the connection before replying")));
    }

    /** Completes the waiting request once its whole reply has arrived. */
    private take(): void {
        const end = this.buffered.indexOf("\r\n\r\n");
        if (end < 0 || !this.waiting || !this.socket) return;
        const head = this.buffered.toString("latin1", 0, end);
        const status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!length) {
            this.socket.destroy(new Error(`a reply without Content-Length: ${head.split("\r\n")[0]}`));
            return;
        }
        const total = end + 4 + Number(length[1]);
        if (this.buffered.length < total) return;
        const body = this.buffered.subarray(end + 4, total);
        this.buffered = this.buffered.subarray(total);
        const { resolve } = this.waiting;
        this.waiting = undefined;
        resolve({ status, body });
    }
}

/** What a closed-loop run measured. */
export interface ClosedLoopFigures {
    /** Requests answered (successfully or not) within the run. */
    requests: number;
    failed: number;
    seconds: number;
    requestsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
}

export function percentile(sorted: readonly number[], p: number): number {
    if (sorted.length === 0) return Number.NaN;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * `clients` loops over one shared counter: each takes the next item index and awaits `send(client, index)`
 * (true when it succeeded) before taking another, until `count` items were taken or `capSeconds` passed.
 */
export async function closedLoop(
    clients: number,
    count: number,
    capSeconds: number,
    send: (client: number, index: number) => Promise<boolean>,
): Promise<ClosedLoopFigures> {
    const latencies: number[] = [];
    let next = 0;
    let failed = 0;
    const started = performance.now();
    const capAt = started + capSeconds * 1000;
    const loop = async (client: number): Promise<void> => {
        while (next < count && performance.now() < capAt) {
            const index = next++;
            const t = performance.now();
            const ok = await send(client, index);
            latencies.push(performance.now() - t);
            if (!ok) failed++;
        }
    };
    await Promise.all(Array.from({ length: clients }, (_, client) => loop(client)));
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
        requests: latencies.length,
        failed,
        seconds,
        requestsPerSecond: latencies.length / seconds,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
    };
}

/**
 * `clients` loops as in closedLoop, kept running for `warmSeconds + windowSeconds`; only the requests that complete
 * inside the window (after the warm-up, which fills the pipeline) count, so neither filling nor draining it (the
 * last answers after the window, awaited but not timed) weighs on the rate.
 */
export async function closedLoopWindow(
    clients: number,
    warmSeconds: number,
    windowSeconds: number,
    send: (client: number, index: number) => Promise<boolean>,
): Promise<ClosedLoopFigures & { answered: number }> {
    const latencies: number[] = [];
    let next = 0;
    let failed = 0;
    const from = performance.now() + warmSeconds * 1000;
    const to = from + windowSeconds * 1000;
    const loop = async (client: number): Promise<void> => {
        while (performance.now() < to) {
            // every request started is answered before the run returns (the window's rate counts only some)
            const index = next++;
            const t = performance.now();
            const ok = await send(client, index);
            const done = performance.now();
            if (done < from || done > to) continue;
            latencies.push(done - t);
            if (!ok) failed++;
        }
    };
    await Promise.all(Array.from({ length: clients }, (_, client) => loop(client)));
    latencies.sort((a, b) => a - b);
    return {
        answered: next,
        requests: latencies.length,
        failed,
        seconds: windowSeconds,
        requestsPerSecond: latencies.length / windowSeconds,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
    };
}
