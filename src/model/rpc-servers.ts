/**
 * Remote layers on ggml RPC servers (`llama-reward rpc-server`, or llama.cpp's
 * own rpc-server of the same protocol version): the `rpc` load option's
 * address syntax, and the connection step of loading. ggml's RPC client kills
 * the process when a server does not answer, so every address is first probed
 * here, in JavaScript, with a TCP connection and ggml's HELLO exchange under a
 * timeout; only a server that answered is handed to ggml (the addon's
 * `rpcAddServer`), which registers its devices for the model to load onto.
 */
import net from "node:net";
import { RewardModelError, fromNativeError, invalidArgument } from "../errors.js";
import type { NativeAddon } from "../addon/native-types.js";

/** How long the probe of one RPC server may take before loading fails. */
export const rpcProbeTimeoutMs = 5000;

// ggml-rpc's protocol (deps/llama.cpp/ggml/src/ggml-rpc/ggml-rpc.cpp): command 14 is HELLO, its request is the
// 24 bytes of connection capabilities, its answer the version (major, minor, patch, padding) and 24 bytes of them.
const helloCommand = 14;
const capsSize = 24;
const protocolMajor = 6;
const protocolMinor = 0;

/** True for `host:port` with an IPv4 address or host name (ggml resolves names to IPv4) and a port 1-65535. */
function isEndpoint(value: string): boolean {
    const match = /^([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})$/.exec(value);
    if (match === null) return false;
    const port = Number(match[2]);
    return port >= 1 && port <= 65535;
}

/** Validates the `rpc` option: a non-empty list of distinct `host:port` strings, or undefined (none). */
export function resolveRpcServers(value: unknown): string[] {
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.length === 0) throw invalidArgument('rpc must be a non-empty array of "host:port" strings');
    const seen = new Set<string>();
    for (const entry of value) {
        if (typeof entry !== "string" || !isEndpoint(entry)) {
            throw invalidArgument(`rpc: ${JSON.stringify(entry)} is not a "host:port" address (IPv4 or host name, port 1-65535)`);
        }
        if (seen.has(entry)) throw invalidArgument(`rpc: ${entry} is listed twice`);
        seen.add(entry);
    }
    if (seen.size > 16) throw invalidArgument("rpc: at most 16 servers"); // GGML_RPC_MAX_SERVERS
    return [...seen];
}

function unreachable(endpoint: string, why: string): RewardModelError {
    return new RewardModelError("ERR_LOAD_FAILED", `the RPC server at ${endpoint} did not answer: ${why}`);
}

/** Connects to `endpoint` and exchanges ggml's HELLO; rejects with ERR_LOAD_FAILED within `timeoutMs` (both steps together). */
export function probeRpcServer(endpoint: string, timeoutMs: number = rpcProbeTimeoutMs): Promise<void> {
    const colon = endpoint.lastIndexOf(":");
    const host = endpoint.slice(0, colon);
    const port = Number(endpoint.slice(colon + 1));
    return new Promise((resolve, reject) => {
        const socket = net.connect({ host, port, family: 4 });
        let received = Buffer.alloc(0);
        const finish = (error?: RewardModelError) => {
            clearTimeout(timer);
            socket.destroy();
            if (error) reject(error);
            else resolve();
        };
        let connected = false;
        // one limit for the connection and the handshake: a server that accepts and never answers fails too
        const timer = setTimeout(
            () =>
                finish(
                    unreachable(
                        endpoint,
                        connected
                            ? `no answer within ${timeoutMs} ms (connected, but no reply to ggml's HELLO: not an RPC server, or busy with another client)`
                            : `no answer within ${timeoutMs} ms (no connection)`,
                    ),
                ),
            timeoutMs,
        );
        socket.on("error", (error) => finish(unreachable(endpoint, error.message)));
        socket.on("close", () => finish(unreachable(endpoint, "the connection closed during the handshake")));
        socket.on("connect", () => {
            connected = true;
            const request = Buffer.alloc(1 + 8 + capsSize);
            request.writeUInt8(helloCommand, 0);
            request.writeBigUInt64LE(BigInt(capsSize), 1);
            socket.write(request);
        });
        socket.on("data", (chunk: Buffer) => {
            received = Buffer.concat([received, chunk]);
            if (received.length < 8 + 4) return;
            const size = received.readBigUInt64LE(0);
            const [major, minor] = [received.readUInt8(8), received.readUInt8(9)];
            if (size !== BigInt(4 + capsSize)) finish(unreachable(endpoint, "it does not speak ggml's RPC protocol"));
            else if (major !== protocolMajor || minor > protocolMinor)
                finish(unreachable(endpoint, `its RPC protocol is ${major}.${minor}, this build speaks ${protocolMajor}.${protocolMinor}`));
            else finish();
        });
    });
}

/**
 * Probes every server, then registers each with ggml; resolves with the ggml device names to load onto
 * (RPC0, RPC1, …), in the order of `endpoints`.
 */
export async function connectRpcServers(addon: NativeAddon, endpoints: readonly string[]): Promise<string[]> {
    if (endpoints.length === 0) return [];
    if (typeof addon.rpcAddServer !== "function" || !addon.backendRegistries().includes("RPC")) {
        throw new RewardModelError(
            "ERR_GPU_UNAVAILABLE",
            "ggml's RPC backend is not loaded (libggml-rpc.so is missing next to the addon, or its ggml is compiled in)",
        );
    }
    await Promise.all(endpoints.map((endpoint) => probeRpcServer(endpoint)));
    const devices: string[] = [];
    for (const endpoint of endpoints) {
        try {
            devices.push(...addon.rpcAddServer(endpoint));
        } catch (error) {
            throw fromNativeError(error, "ERR_LOAD_FAILED");
        }
    }
    return devices;
}
