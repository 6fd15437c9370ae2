/**
 * nginx in front of reward-server replicas, run unprivileged for the
 * replica test and bench: examples/nginx/nginx.conf with its ports and log
 * path replaced, in a temporary prefix of its own, in the foreground.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { root } from "./fixtures.js";

export const exampleConfig = path.join(root, "examples", "nginx", "nginx.conf");

/** The nginx binary on PATH or in /usr/sbin; undefined when nginx is not installed. */
export function findNginx(): string | undefined {
    for (const dir of [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/usr/local/sbin"]) {
        const candidate = path.join(dir, "nginx");
        if (dir && fs.existsSync(candidate)) return candidate;
    }
    return undefined;
}

export interface Balancer {
    url: string;
    /** Access log lines so far (format `upstreams` of the example). */
    accessLog: () => string[];
    /** nginx's error log so far (its stderr): why it passed requests on. */
    errorLog: () => string;
    stop: () => Promise<void>;
}

/** The example config for `port` in front of one or two `replicaPorts` (the example has two), logging to `logFile`. */
export function balancerConfig(port: number, replicaPorts: readonly number[], logFile: string): string {
    if (replicaPorts.length < 1 || replicaPorts.length > 2) throw new Error("the example config has room for one or two replicas");
    let text = fs.readFileSync(exampleConfig, "utf8");
    const replace = (from: string | RegExp, to: string) => {
        const count = typeof from === "string" ? text.split(from).length - 1 : (text.match(new RegExp(from, "g")) ?? []).length;
        if (count !== 1) throw new Error(`${exampleConfig} should hold "${from}" exactly once`);
        text = text.replace(from, to);
    };
    replace("listen 127.0.0.1:8080;", `listen 127.0.0.1:${port};`);
    replicaPorts.forEach((p, i) => replace(`server 127.0.0.1:${8081 + i} `, `server 127.0.0.1:${p} `));
    if (replicaPorts.length === 1) replace(/\n *server 127\.0\.0\.1:8082 [^\n]*/, "");
    replace("access_log /var/log/nginx/llama-reward.log upstreams;", `access_log ${logFile} upstreams;`);
    return text;
}

/** Starts nginx on 127.0.0.1:`port` in front of `replicaPorts`; resolves once it accepts connections. */
export async function startBalancer(nginx: string, port: number, replicaPorts: readonly number[]): Promise<Balancer> {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-nginx-"));
    fs.chmodSync(prefix, 0o755); // run as root, nginx's workers switch to an unprivileged user that writes temp files here
    const logFile = path.join(prefix, "access.log");
    const conf = path.join(prefix, "nginx.conf");
    fs.writeFileSync(conf, balancerConfig(port, replicaPorts, logFile));
    const args = ["-p", prefix, "-c", conf, "-e", "stderr", "-g", `daemon off; pid ${path.join(prefix, "nginx.pid")};`];
    const check = spawnSync(nginx, [...args, "-t"], { encoding: "utf8" });
    if (check.status !== 0) throw new Error(`nginx -t failed: ${check.stderr}`);
    const child: ChildProcess = spawn(nginx, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
    });
    const exit = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    for (;;) {
        const up = await fetch(`${url}/health`).then(
            () => true,
            () => false,
        );
        if (up) break;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    return {
        url,
        errorLog: () => stderr,
        accessLog: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").split("\n").filter(Boolean) : []),
        stop: async () => {
            child.kill("SIGTERM");
            await exit;
            fs.rmSync(prefix, { recursive: true, force: true });
        },
    };
}
