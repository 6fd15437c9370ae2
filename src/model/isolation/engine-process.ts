/**
 * Starts the engine process of an isolated model and gives the host one view
 * of it, whatever started it: child_process.fork under Node, or Electron's
 * utilityProcess in an Electron main process (where fork would start another
 * Electron app). It keeps the tail of the engine's output (llama.cpp writes
 * its GGML_ASSERT line to stderr before aborting) for the crash report.
 */
import { fork } from "node:child_process";
import * as fs from "node:fs";
import type { Socket } from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

import { RewardModelError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";
import type { EngineMessage, HostMessage } from "./engine-protocol.js";

/** How an engine process ended. `signal` is null when it exited by itself (and always under utilityProcess). */
export interface EngineExit {
    code: number | null;
    signal: string | null;
}

export interface EngineProcess {
    readonly pid: number | undefined;
    /** Sends a message; throws ERR_INVALID_OPTION when a value cannot be structured-cloned. */
    send(message: HostMessage): void;
    onMessage(listener: (message: EngineMessage) => void): void;
    /** Called once, after the process ended and its output was read. */
    onExit(listener: (exit: EngineExit) => void): void;
    /** The last few kilobytes of what the engine wrote to stderr and stdout. */
    outputTail(): string;
    kill(signal?: NodeJS.Signals): void;
    /**
     * Whether the engine keeps this process alive: true while a load or a call
     * is in flight, false when idle, so an app that forgets dispose() can
     * still exit (the engine then exits with it).
     */
    keepAlive(active: boolean): void;
}

const TAIL_BYTES = 4096;

/**
 * The compiled engine entry: next to this module under dist/, or in dist/
 * of the package when this module runs from src/ (under vitest).
 */
export function engineEntry(): string {
    const here = fileURLToPath(import.meta.url);
    const sibling = path.join(path.dirname(here), "engine-child.js");
    if (here.endsWith(".js") && fs.existsSync(sibling)) return sibling;
    const built = path.join(packageRoot(), "dist", "src", "model", "isolation", "engine-child.js");
    if (!fs.existsSync(built)) {
        throw new RewardModelError("ERR_INTERNAL", `the isolated engine entry ${built} is missing: compile the package (npx tsc)`);
    }
    return built;
}

/** The environment of the engine: llama.cpp's backtrace (it may start gdb) is off unless the caller set it. */
function engineEnv(): NodeJS.ProcessEnv {
    return { ...process.env, GGML_NO_BACKTRACE: process.env.GGML_NO_BACKTRACE ?? "1" };
}

class OutputTail {
    private text = "";
    add(chunk: Buffer | string): void {
        this.text = (this.text + chunk.toString()).slice(-TAIL_BYTES);
    }
    get value(): string {
        return this.text.trim();
    }
}

function cloneError(cause: unknown): RewardModelError {
    return new RewardModelError(
        "ERR_INVALID_OPTION",
        `an argument cannot be sent to the isolated engine (only plain data can): ${(cause as Error).message}`,
        { cause },
    );
}

/** Starts the engine with child_process.fork (Node). */
function forkEngine(entry: string): EngineProcess {
    const child = fork(entry, [], {
        serialization: "advanced",
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        env: engineEnv(),
        execArgv: [],
    });
    const tail = new OutputTail();
    child.stdout?.on("data", (d: Buffer) => tail.add(d));
    child.stderr?.on("data", (d: Buffer) => tail.add(d));
    // a send racing the engine's death fails asynchronously: the exit listener reports it
    child.on("error", () => {});
    return {
        pid: child.pid,
        send(message) {
            if (!child.connected) return;
            try {
                child.send(message);
            } catch (cause) {
                throw cloneError(cause);
            }
        },
        onMessage(listener) {
            child.on("message", (m) => listener(m as EngineMessage));
        },
        onExit(listener) {
            // "close" comes after the output streams ended, so the tail holds the last line
            child.once("close", (code, signal) => listener({ code, signal }));
        },
        outputTail: () => tail.value,
        kill(signal = "SIGKILL") {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        },
        keepAlive(active) {
            const handles: ({ ref(): unknown; unref(): unknown } | null | undefined)[] = [
                child,
                child.channel,
                child.stdout as unknown as Socket | null,
                child.stderr as unknown as Socket | null,
            ];
            for (const h of handles) {
                if (active) h?.ref();
                else h?.unref();
            }
        },
    };
}

/** The part of Electron's utilityProcess API used here. */
interface UtilityProcessLike {
    pid: number | undefined;
    stdout: NodeJS.ReadableStream | null;
    stderr: NodeJS.ReadableStream | null;
    postMessage(message: unknown): void;
    on(event: "message", listener: (message: unknown) => void): void;
    on(event: "exit", listener: (code: number) => void): void;
    kill(): boolean;
}

interface ElectronLike {
    utilityProcess?: {
        fork(
            modulePath: string,
            args: string[],
            options: { stdio: "pipe"; serviceName: string; env: NodeJS.ProcessEnv },
        ): UtilityProcessLike;
    };
}

/** Starts the engine with Electron's utilityProcess (an Electron main process). */
function utilityEngine(electron: Required<ElectronLike>, entry: string): EngineProcess {
    const child = electron.utilityProcess.fork(entry, [], { stdio: "pipe", serviceName: "llama-reward engine", env: engineEnv() });
    const tail = new OutputTail();
    child.stdout?.on("data", (d: Buffer) => tail.add(d));
    child.stderr?.on("data", (d: Buffer) => tail.add(d));
    let exited = false;
    child.on("exit", () => {
        exited = true;
    });
    return {
        get pid() {
            return child.pid;
        },
        send(message) {
            if (exited) return;
            try {
                child.postMessage(message);
            } catch (cause) {
                throw cloneError(cause);
            }
        },
        onMessage(listener) {
            child.on("message", (m) => listener(m as EngineMessage));
        },
        onExit(listener) {
            child.on("exit", (code) => listener({ code, signal: null }));
        },
        outputTail: () => tail.value,
        kill() {
            if (!exited) child.kill();
        },
        keepAlive() {
            // an Electron app's main process does not exit when its event loop is idle
        },
    };
}

/** Electron's module in an Electron main process with utilityProcess, else undefined. */
async function electronWithUtilityProcess(): Promise<Required<ElectronLike> | undefined> {
    if (process.versions.electron === undefined || (process as { type?: string }).type !== "browser") return undefined;
    try {
        const specifier = "electron"; // a variable: bundlers and tsc leave it alone outside Electron
        const electron = (await import(specifier)) as ElectronLike & { default?: ElectronLike };
        const api = electron.utilityProcess ?? electron.default?.utilityProcess;
        return api ? { utilityProcess: api } : undefined;
    } catch {
        return undefined;
    }
}

/** Starts an engine process: utilityProcess in an Electron main process, child_process.fork elsewhere. */
export async function startEngine(): Promise<EngineProcess> {
    const entry = engineEntry();
    const electron = await electronWithUtilityProcess();
    return electron ? utilityEngine(electron, entry) : forkEngine(entry);
}
