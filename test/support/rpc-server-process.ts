/**
 * `llama-reward rpc-server` as a child process for test/rpc.test.ts: starts the
 * CLI with --port 0 (the server binds a free port itself, so two servers started
 * together cannot race for one) and resolves with the endpoint its ready line
 * names. When it is not ready in time, the error carries what the child wrote,
 * stderr holding each of its startup steps.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { requireFile, root } from "./fixtures.js";

const cli = path.join(root, "dist", "src", "cli", "main.js");

export interface RpcServerProcess {
    child: ChildProcess;
    endpoint: string;
    stdout: () => string;
    stderr: () => string;
    exit: Promise<number | null>;
}

/** Starts `llama-reward rpc-server --port 0 --threads T` and resolves once it prints "ready on HOST:PORT". */
export async function startRpcServer(threads: number, readyWithinMs = 60_000): Promise<RpcServerProcess> {
    const child = spawn(process.execPath, [requireFile(cli), "rpc-server", "--port", "0", "--threads", String(threads)], {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const output = () => `\n--- its stdout:\n${stdout}\n--- its stderr:\n${stderr}`;
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`rpc-server printed no ready line within ${readyWithinMs} ms${output()}`));
        }, readyWithinMs);
        child.stdout!.on("data", (d: Buffer) => {
            stdout += d.toString();
            const match = /^ready on (\S+)$/m.exec(stdout);
            if (match) {
                clearTimeout(timer);
                resolve({ child, endpoint: match[1]!, stdout: () => stdout, stderr: () => stderr, exit });
            }
        });
        void exit.then((code) => {
            clearTimeout(timer);
            reject(new Error(`rpc-server exited with ${code} before it was ready${output()}`));
        });
    });
}
