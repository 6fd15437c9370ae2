/**
 * `llama-reward serve` as a child process for the replica test and the
 * replica bench: starts the CLI, resolves once it prints its ready line
 * (the model is loaded), and stops it with SIGTERM or SIGKILL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { requireFile, root } from "./fixtures.js";

const cli = path.join(root, "dist", "src", "cli", "main.js");

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
export function startServe(args: readonly string[], readyWithinMs = 300_000): Promise<ServeProcess> {
    const child = spawn(process.execPath, [requireFile(cli), "serve", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`serve printed no ready line within ${readyWithinMs} ms: ${stderr}`));
        }, readyWithinMs);
        child.stdout!.on("data", (d: Buffer) => {
            stdout += d.toString();
            const match = /^ready on (\S+)$/m.exec(stdout);
            if (match) {
                clearTimeout(timer);
                resolve({ child, url: match[1]!, stderr: () => stderr, exit });
            }
        });
        void exit.then((code) => {
            clearTimeout(timer);
            reject(new Error(`serve exited with ${code} before it was ready: ${stderr}`));
        });
    });
}
