/**
 * Runs a Node.js of another platform on this linux-x64 machine: the arm64
 * `node` under qemu-aarch64 (user-mode emulation, the arm64 C/C++ runtime
 * from /usr/aarch64-linux-gnu), and the Windows `node.exe` under wine (a
 * WINEPREFIX of its own, Windows 10). Under wine, Node's stdout and stderr
 * must be files (a pipe gives EBADF) and stdin /dev/null, so both always go
 * to files here.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { CrossTarget } from "./targets.js";

export interface EmulatedRun {
    status: number | null;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** The argv of an emulated `node script args…` (paths are this machine's: wine maps / to Z:). */
function emulatorCommand(target: CrossTarget, node: string, args: string[]): [string, string[]] {
    if (target.emulator === "qemu-aarch64") return ["qemu-aarch64", [node, ...args]];
    return ["wine", [node, ...args]];
}

function emulatorEnv(target: CrossTarget, workDir: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith("LLAMA_REWARD_") || key.startsWith("npm_")) delete env[key];
    if (target.emulator === "qemu-aarch64") {
        env.QEMU_LD_PREFIX = "/usr/aarch64-linux-gnu";
    } else {
        env.WINEPREFIX = path.join(workDir, "wineprefix");
        env.WINEDEBUG = "-all";
        env.WINEDLLOVERRIDES = "mscoree,mshtml="; // no Mono/Gecko install prompts in a fresh prefix
    }
    return env;
}

/** Creates the wine prefix (once per work folder; about 10 s). */
function prepareWine(env: NodeJS.ProcessEnv): void {
    if (fs.existsSync(path.join(env.WINEPREFIX!, "system.reg"))) return;
    spawnSync("wineboot", ["--init"], { env, stdio: "ignore" });
    spawnSync("wine", ["winecfg", "/v", "win10"], { env, stdio: "ignore" });
    spawnSync("wineserver", ["-w"], { env, stdio: "ignore" });
}

/** Runs `node args…` of `target` in `cwd`, with `extraEnv`; output through files in `workDir`. */
export function runEmulatedNode(
    target: CrossTarget,
    node: string,
    args: string[],
    cwd: string,
    workDir: string,
    extraEnv: Record<string, string>,
    timeoutSeconds: number,
): EmulatedRun {
    const env = { ...emulatorEnv(target, workDir), ...extraEnv };
    if (target.emulator === "wine") prepareWine(env);
    const outFile = path.join(workDir, "node.stdout");
    const errFile = path.join(workDir, "node.stderr");
    const out = fs.openSync(outFile, "w");
    const err = fs.openSync(errFile, "w");
    const [command, argv] = emulatorCommand(target, node, args);
    const started = Date.now();
    const result = spawnSync(command, argv, { cwd, env, stdio: ["ignore", out, err], timeout: timeoutSeconds * 1000 });
    const seconds = (Date.now() - started) / 1000;
    fs.closeSync(out);
    fs.closeSync(err);
    if (target.emulator === "wine") spawnSync("wineserver", ["-k"], { env, stdio: "ignore" });
    return {
        status: result.status,
        stdout: fs.readFileSync(outFile, "utf8"),
        stderr: `${fs.readFileSync(errFile, "utf8")}${result.error ? `\n${result.error.message}` : ""}`,
        seconds,
    };
}
