/**
 * `llama-reward rpc-server`: serves this machine's CPU to other processes'
 * models over ggml's RPC protocol (the server of llama.cpp's rpc-server, from
 * the RPC backend library next to the addon). ggml's RPC server has no
 * authentication and trusts what clients send, so it binds loopback unless
 * --allow-remote is given. Prints `ready on HOST:PORT` once it answers ggml's
 * handshake; SIGTERM or SIGINT stop it.
 */
import net from "node:net";
import os from "node:os";
import { parseArgs } from "node:util";
import { RewardModelError, fromNativeError, invalidArgument } from "../errors.js";
import { loadAddon } from "../addon/load-addon.js";
import { probeRpcServer } from "../model/rpc-servers.js";
import { integerFlag } from "./flag-values.js";
import { integerOptionBounds as bounds } from "../model/load-options.js";

export const rpcServerUsage = `rpc-server serves this machine's CPU to models loaded elsewhere with --rpc HOST:PORT (the rpc load option).
It prints "ready on HOST:PORT" on stdout once it answers; SIGTERM or SIGINT stop it. It serves one client at a time.
WARNING: ggml's RPC server has no authentication and is not hardened against malicious clients: never expose it to
an untrusted network. A bind address other than loopback is refused without --allow-remote.

rpc-server options:
      --host IPV4           address to bind (default: 127.0.0.1)
      --port N              port (default: 50052)
      --threads N           CPU threads for the computations it runs (default: all)
      --allow-remote        allow a non-loopback --host (only on a private, trusted network)
`;

/** True for an IPv4 loopback address (127.0.0.0/8). */
export function isLoopbackHost(host: string): boolean {
    return net.isIPv4(host) && host.startsWith("127.");
}

/** How long rpc-server waits for its own handshake before giving up. */
const startTimeoutMs = 30_000;

/** Rejects with ERR_LOAD_FAILED when `host:port` cannot be bound (in use, or not an address of this machine). */
function portIsFree(host: string, port: number, endpoint: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const trial = net.createServer();
        trial.once("error", (error) => reject(new RewardModelError("ERR_LOAD_FAILED", `cannot listen on ${endpoint}: ${error.message}`)));
        trial.listen(port, host, () => trial.close(() => resolve()));
    });
}

/** Starts the server and runs until a signal; resolves with the exit code. */
export async function commandRpcServer(argv: string[]): Promise<number> {
    const { values } = parseArgs({
        args: argv,
        options: {
            host: { type: "string", default: "127.0.0.1" },
            port: { type: "string", default: "50052" },
            threads: { type: "string" },
            "allow-remote": { type: "boolean", default: false },
        },
        strict: true,
        allowPositionals: false,
    });
    const host = values.host === "localhost" ? "127.0.0.1" : values.host;
    if (!net.isIPv4(host)) throw invalidArgument(`--host must be an IPv4 address (ggml's RPC server binds IPv4), got "${host}"`);
    if (!isLoopbackHost(host) && !values["allow-remote"]) {
        throw invalidArgument(
            `--host ${host} is not loopback: ggml's RPC server has no authentication and must never face an untrusted network; ` +
                "add --allow-remote to bind it anyway",
        );
    }
    const port = integerFlag(values.port, "port", 1, 65535)!;
    const threads =
        integerFlag(values.threads, "threads", bounds.threads.min, bounds.threads.max) ?? Math.max(1, os.availableParallelism());
    const addon = loadAddon();
    if (typeof addon.rpcStartServer !== "function") {
        throw new RewardModelError("ERR_GPU_UNAVAILABLE", "this addon was built without ggml's RPC backend");
    }
    const endpoint = `${host}:${port}`;
    // ggml's server only prints why it could not bind, and a probe would reach whoever holds the port: check first
    await portIsFree(host, port, endpoint);
    if (!isLoopbackHost(host)) {
        process.stderr.write(
            `llama-reward rpc-server: WARNING: listening on ${host}:${port} without authentication; anyone who can reach it can run computations and read or write its memory\n`,
        );
    }
    let stopped: Error | undefined;
    let started: Promise<void>;
    try {
        started = addon.rpcStartServer(endpoint, threads); // throws ERR_GPU_UNAVAILABLE without the RPC backend library
    } catch (error) {
        throw fromNativeError(error, "ERR_LOAD_FAILED");
    }
    const running = started.catch((error: unknown) => {
        stopped = fromNativeError(error, "ERR_LOAD_FAILED");
    });
    const probeAt = `${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
        try {
            await probeRpcServer(probeAt, 1000);
            break;
        } catch (error) {
            if (stopped !== undefined) throw stopped;
            if (Date.now() > deadline) throw error;
            await new Promise((r) => setTimeout(r, 100));
        }
    }
    process.stdout.write(`ready on ${endpoint}\n`);
    // No SIGTERM/SIGINT handler: ggml's server loop cannot be stopped, and process.exit() would wait for the
    // pool thread it blocks; the signals' default action ends the process at once.
    await running;
    if (stopped !== undefined) throw stopped;
    return 0;
}
