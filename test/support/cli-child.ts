/**
 * A `llama-reward` CLI command as a child process that prints one line when
 * it is ready (`ready on ADDRESS`): resolves with that address, or rejects
 * with what the child wrote when it exits first or is not ready in time.
 * Shared by the serve and rpc-server helpers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { requireFile, root } from "./fixtures.js";

const cli = path.join(root, "dist", "src", "cli", "main.js");

export interface CliChild {
    child: ChildProcess;
    /** The address the ready line names. */
    address: string;
    stdout: () => string;
    stderr: () => string;
    exit: Promise<number | null>;
}

/** Starts `llama-reward ARGS` and resolves once it prints "ready on ADDRESS" on stdout. */
export function startCliUntilReady(args: readonly string[], readyWithinMs: number): Promise<CliChild> {
    const child = spawn(process.execPath, [requireFile(cli), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const name = args[0];
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
            reject(new Error(`${name} printed no ready line within ${readyWithinMs} ms${output()}`));
        }, readyWithinMs);
        child.stdout!.on("data", (d: Buffer) => {
            stdout += d.toString();
            const match = /^ready on (\S+)$/m.exec(stdout);
            if (match) {
                clearTimeout(timer);
                resolve({ child, address: match[1]!, stdout: () => stdout, stderr: () => stderr, exit });
            }
        });
        void exit.then((code) => {
            clearTimeout(timer);
            reject(new Error(`${name} exited with ${code} before it was ready${output()}`));
        });
    });
}
