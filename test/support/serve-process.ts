/**
 * `llama-reward serve` as a child process for the replica test and the
 * replica bench: starts the CLI, resolves once it prints its ready line
 * (the model is loaded), and stops it with SIGTERM or SIGKILL.
 */
import type { ChildProcess } from "node:child_process";
import net from "node:net";
import { startCliUntilReady } from "./cli-child.js";

export interface ServeProcess {
    child: ChildProcess;
    url: string;
    stderr: () => string;
    exit: Promise<number | null>;
}

/** A port that was free a moment ago (bound on 127.0.0.1 and released). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const probe = net.createServer();
        probe.once("error", reject);
        probe.listen(0, "127.0.0.1", () => {
            const { port } = probe.address() as net.AddressInfo;
            probe.close(() => resolve(port));
        });
    });
}

/** Starts `llama-reward serve ARGS` and resolves once it prints "ready on URL". */
export async function startServe(args: readonly string[], readyWithinMs = 300_000): Promise<ServeProcess> {
    const { address, child, stderr, exit } = await startCliUntilReady(["serve", ...args], readyWithinMs);
    return { child, url: address, stderr, exit };
}
