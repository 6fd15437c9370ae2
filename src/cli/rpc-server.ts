/**
 * `llama-reward rpc-server`: serves this machine's CPU to other processes'
 * models over ggml's RPC protocol (the server of llama.cpp's rpc-server, from
 * the RPC backend library next to the addon). ggml's RPC server has no
 * authentication and trusts what clients send, so it binds loopback unless
 * --allow-remote is given. Startup: the port is checked (or 0 lets ggml pick
 * one), ggml's server starts on a pool thread, the port it listens on is read
 * from this process's own socket, and one HELLO handshake must succeed; then
 * stdout gets `ready on HOST:PORT` and nothing else. Each phase is logged on
 * stderr, where ggml's own lines go too. SIGTERM or SIGINT stop it.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import { parseArgs } from "node:util";
import { RewardModelError, fromNativeError, invalidArgument } from "../errors.js";
import { loadedAddon } from "../addon/load-addon.js";
import type { NativeAddon } from "../addon/native-types.js";
import { probeRpcServer } from "../model/rpc-servers.js";
import { integerFlag } from "./flag-values.js";
import { integerOptionBounds as bounds } from "../model/load-options.js";

export const rpcServerUsage = `rpc-server serves this machine's CPU to models loaded elsewhere with --rpc HOST:PORT (the rpc load option).
Once it answers ggml's handshake it prints "ready on HOST:PORT" on stdout, its only line there; its startup
steps and ggml's connection log go to stderr. SIGTERM or SIGINT stop it. It serves one client at a time.
WARNING: ggml's RPC server has no authentication and is not hardened against malicious clients: never expose it to
an untrusted network. A bind address other than loopback is refused without --allow-remote.

rpc-server options:
      --host IPV4           address to bind (default: 127.0.0.1)
      --port N              port (default: 50052; 0: a free port, named in the ready line)
      --threads N           CPU threads for the computations it runs (default: all)
      --allow-remote        allow a non-loopback --host (only on a private, trusted network)
`;

/** True for an IPv4 loopback address (127.0.0.0/8). */
export function isLoopbackHost(host: string): boolean {
    return net.isIPv4(host) && host.startsWith("127.");
}

/** How long rpc-server may take from starting ggml's server to its ready line. */
const startTimeoutMs = 30_000;
/** The limit of one handshake attempt during startup. */
const probeTimeoutMs = 2000;

type NativeRpcServer = Required<Pick<NativeAddon, "rpcStartServer" | "rpcDetachStdout" | "rpcListeningPort">>;

/** Rejects with ERR_LOAD_FAILED when `host:port` cannot be bound (in use, or not an address of this machine). */
function portIsFree(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const trial = net.createServer();
        trial.once("error", (error) =>
            reject(new RewardModelError("ERR_LOAD_FAILED", `cannot listen on ${host}:${port}: ${error.message}`)),
        );
        trial.on("connection", (socket) => socket.destroy()); // close() would wait for it
        trial.listen(port, host, () => trial.close(() => resolve()));
    });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until ggml's server listens on `host` and returns its port. ggml's start call only returns when it
 * could not bind: `failure()` then holds why, and no other listener can pass for ours.
 */
async function listeningPort(addon: NativeRpcServer, host: string, failure: () => Error | undefined, deadline: number): Promise<number> {
    for (;;) {
        const stopped = failure();
        if (stopped !== undefined) throw stopped;
        const port = addon.rpcListeningPort(host);
        if (port !== 0) return port;
        if (Date.now() > deadline) {
            throw new RewardModelError(
                "ERR_LOAD_FAILED",
                `ggml's RPC server did not start listening on ${host} within ${startTimeoutMs} ms`,
            );
        }
        await sleep(10);
    }
}

/** Starts the server and runs until a signal; resolves with the exit code. */
export async function commandRpcServer(argv: string[]): Promise<number> {
    const began = performance.now();
    const log = (line: string) => process.stderr.write(`llama-reward rpc-server: [${(performance.now() - began).toFixed(0)} ms] ${line}\n`);
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
    const requestedPort = integerFlag(values.port, "port", 0, 65535)!;
    const threads =
        integerFlag(values.threads, "threads", bounds.threads.min, bounds.threads.max) ?? Math.max(1, os.availableParallelism());
    const loaded = loadedAddon();
    const addon = loaded.addon;
    if (
        typeof addon.rpcStartServer !== "function" ||
        typeof addon.rpcDetachStdout !== "function" ||
        typeof addon.rpcListeningPort !== "function"
    ) {
        throw new RewardModelError("ERR_GPU_UNAVAILABLE", "this addon was built without ggml's RPC backend");
    }
    const server = addon as NativeRpcServer;
    log(`addon loaded (${loaded.path})`);
    if (requestedPort !== 0) {
        // ggml's server only prints why it could not bind: check first, for a clear error
        await portIsFree(host, requestedPort);
        log(`${host}:${requestedPort} is free`);
    }
    let stopped: Error | undefined;
    let started: Promise<void>;
    const stdout = server.rpcDetachStdout();
    try {
        started = server.rpcStartServer(`${host}:${requestedPort}`, threads); // throws ERR_GPU_UNAVAILABLE without the RPC backend library
    } catch (error) {
        throw fromNativeError(error, "ERR_LOAD_FAILED");
    }
    const running = started.catch((error: unknown) => {
        stopped = fromNativeError(error, "ERR_LOAD_FAILED");
    });
    log(`ggml's server thread started (${threads} thread${threads === 1 ? "" : "s"})`);
    const deadline = Date.now() + startTimeoutMs;
    const port = await listeningPort(server, host, () => stopped, deadline);
    const endpoint = `${host}:${port}`;
    log(`listening on ${endpoint}`);
    if (!isLoopbackHost(host)) {
        process.stderr.write(
            `llama-reward rpc-server: WARNING: listening on ${endpoint} without authentication; anyone who can reach it can run computations and read or write its memory\n`,
        );
    }
    const probeAt = `${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
    for (let attempt = 1; ; attempt++) {
        const probeStarted = performance.now();
        try {
            await probeRpcServer(probeAt, probeTimeoutMs);
            log(`handshake ${attempt}: answered in ${(performance.now() - probeStarted).toFixed(0)} ms`);
            break;
        } catch (error) {
            log(`handshake ${attempt}: ${(error as Error).message}`);
            if (stopped !== undefined) throw stopped;
            if (Date.now() > deadline) throw error;
            await sleep(100);
        }
    }
    fs.writeSync(stdout, `ready on ${endpoint}\n`);
    // No SIGTERM/SIGINT handler: ggml's server loop cannot be stopped, and process.exit() would wait for the
    // pool thread it blocks; the signals' default action ends the process at once.
    await running;
    if (stopped !== undefined) throw stopped;
    return 0;
}
