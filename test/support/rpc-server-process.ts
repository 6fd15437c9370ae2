/**
 * `llama-reward rpc-server` as a child process for test/rpc.test.ts: starts the
 * CLI with --port 0 (the server binds a free port itself, so two servers started
 * together cannot race for one) and resolves with the endpoint its ready line
 * names. When it is not ready in time, the error carries what the child wrote,
 * stderr holding each of its startup steps.
 */
import type { ChildProcess } from "node:child_process";
import { startCliUntilReady } from "./cli-child.js";

export interface RpcServerProcess {
    child: ChildProcess;
    endpoint: string;
    stdout: () => string;
    stderr: () => string;
    exit: Promise<number | null>;
}

/** Starts `llama-reward rpc-server --port 0 --threads T` and resolves once it prints "ready on HOST:PORT". */
export async function startRpcServer(threads: number, readyWithinMs = 60_000): Promise<RpcServerProcess> {
    const { address, ...started } = await startCliUntilReady(["rpc-server", "--port", "0", "--threads", String(threads)], readyWithinMs);
    return { ...started, endpoint: address };
}
