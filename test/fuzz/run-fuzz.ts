/**
 * `npm run fuzz -- [--cases N] [--structured M] [--seed S] [--start I]`: runs
 * N byte-level cases (gguf-mutations.ts) and M field-level ones
 * (gguf-structured-mutations.ts) in a child process, restarting it after a
 * death (abort, segfault) or a hang, so one run reports every death, each
 * with its family, seed, case index and mutation; any death fails the run.
 * `--case I --seed S [--family structured] [--keep DIR]` replays one case in
 * this process (and keeps the mutated file in DIR).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

import { describeCase } from "./gguf-mutations.js";
import { buildCase, loadFuzzBases, makeScratchDir, runCase, type FuzzFamily, type FuzzOutcome } from "./gguf-fuzz-target.js";

/**
 * Default case counts: 2,500 of each family, 5,000 in all. Measured on the
 * shared 2-vCPU development VM (Intel Xeon): 0.8 to 2.2 cases a second as
 * the machine was busier or quieter (each case writes, checks, loads and
 * scores a whole model file), so the default run takes 40 to 100 minutes
 * there; --cases and --structured set the counts.
 */
const DEFAULT_BYTE_CASES = 2500;
const DEFAULT_STRUCTURED_CASES = 2500;

interface Args {
    cases: number;
    structured: number;
    family: FuzzFamily;
    seed: number;
    start: number;
    replay?: number;
    keep?: string;
    timeoutMs: number;
    child: boolean;
}

function parse(argv: string[]): Args {
    const args: Args = {
        cases: DEFAULT_BYTE_CASES,
        structured: DEFAULT_STRUCTURED_CASES,
        family: "bytes",
        seed: Date.now() % 1_000_000,
        start: 0,
        timeoutMs: 60_000,
        child: false,
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        const next = (): number => {
            const v = Number(argv[++i]);
            if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
            return v;
        };
        if (a === "--cases") args.cases = next();
        else if (a === "--structured") args.structured = next();
        else if (a === "--family") {
            const f = argv[++i];
            if (f !== "bytes" && f !== "structured") throw new Error("--family is bytes or structured");
            args.family = f;
        } else if (a === "--seed") args.seed = next();
        else if (a === "--start") args.start = next();
        else if (a === "--case") args.replay = next();
        else if (a === "--timeout-ms") args.timeoutMs = next();
        else if (a === "--keep") args.keep = argv[++i];
        else if (a === "--child") args.child = true;
        else
            throw new Error(
                `unknown argument ${a}; usage: run-fuzz [--cases N] [--structured M] [--seed S] [--start I] ` +
                    "[--case I [--family bytes|structured] [--keep DIR]] [--timeout-ms MS]",
            );
    }
    return args;
}

/** Child mode: runs cases [start, cases) of `family` and reports each on stdout as one JSON line. */
async function child(args: Args): Promise<void> {
    const bases = loadFuzzBases();
    // the parent's scratch directory, which it removes even when this child dies mid-case
    const dir = args.keep ?? makeScratchDir();
    try {
        for (let i = args.start; i < args.cases; i++) {
            // the start line goes out before the case runs, so a death is attributed to it
            const c = buildCase(bases, args.family, args.seed, i);
            fs.writeSync(1, `${JSON.stringify({ start: i, mutation: describeCase(c) })}\n`);
            const { outcome } = await runCase(bases, args.seed, i, dir, false, args.family);
            fs.writeSync(1, `${JSON.stringify({ done: i, outcome })}\n`);
        }
    } finally {
        if (args.keep === undefined) fs.rmSync(dir, { recursive: true, force: true });
    }
}

interface Finding {
    family: FuzzFamily;
    index: number;
    mutation: string;
    what: string;
}

async function parent(args: Args): Promise<number> {
    const scratch = makeScratchDir();
    try {
        return await runFamilies(args, scratch);
    } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
    }
}

async function runFamilies(args: Args, scratch: string): Promise<number> {
    const counts = new Map<string, number>();
    const findings: Finding[] = [];
    const began = Date.now();
    console.log(`fuzz: seed ${args.seed}, ${args.cases} byte-level and ${args.structured} field-level cases`);
    for (const [family, cases] of [
        ["bytes", args.cases],
        ["structured", args.structured],
    ] as const) {
        if (args.start >= cases) continue;
        const failed = await runFamily(args, family, cases, scratch, counts, findings);
        if (failed) return 1;
    }
    const total = Math.max(0, args.cases - args.start) + Math.max(0, args.structured - args.start);
    const seconds = (Date.now() - began) / 1000;
    console.log(`fuzz: ${total} cases in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(1)} cases/s, seed ${args.seed})`);
    for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(48)} ${v}`);
    if (findings.length === 0) {
        console.log("fuzz: no deaths, hangs or untyped errors");
        return 0;
    }
    console.log(`fuzz: ${findings.length} finding(s); replay one with \`npm run fuzz -- --seed ${args.seed} --family F --case I\``);
    for (const f of findings) console.log(`  ${f.family} case ${f.index}: ${f.what}\n    ${f.mutation}`);
    return 1;
}

/** Runs cases [start, cases) of one family in restarted children; true if a child failed outside a case. */
async function runFamily(
    args: Args,
    family: FuzzFamily,
    cases: number,
    scratch: string,
    counts: Map<string, number>,
    findings: Finding[],
): Promise<boolean> {
    const self = fileURLToPath(import.meta.url);
    let next = args.start;
    const began = Date.now();
    while (next < cases) {
        const result = await new Promise<{
            code: number | null;
            signal: string | null;
            inFlight?: { index: number; mutation: string };
            stderr: string;
            hung: boolean;
        }>((resolve) => {
            const proc = spawn(
                process.execPath,
                [
                    self,
                    "--child",
                    "--family",
                    family,
                    "--seed",
                    String(args.seed),
                    "--start",
                    String(next),
                    "--cases",
                    String(cases),
                    "--keep",
                    scratch,
                ],
                {
                    stdio: ["ignore", "pipe", "pipe"],
                },
            );
            let inFlight: { index: number; mutation: string } | undefined;
            let stderr = "";
            let buffered = "";
            let hung = false;
            let timer: NodeJS.Timeout | undefined;
            const arm = () => {
                clearTimeout(timer);
                timer = setTimeout(() => {
                    hung = true;
                    proc.kill("SIGKILL");
                }, args.timeoutMs);
            };
            arm();
            proc.stderr.on("data", (d: Buffer) => {
                stderr = (stderr + d.toString()).slice(-4000);
            });
            proc.stdout.on("data", (d: Buffer) => {
                buffered += d.toString();
                for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
                    const line = buffered.slice(0, nl);
                    buffered = buffered.slice(nl + 1);
                    let msg: { start?: number; mutation?: string; done?: number; outcome?: FuzzOutcome };
                    try {
                        msg = JSON.parse(line);
                    } catch {
                        continue;
                    }
                    if (msg.start !== undefined) {
                        inFlight = { index: msg.start, mutation: msg.mutation ?? "" };
                        arm();
                    } else if (msg.done !== undefined && msg.outcome) {
                        const o = msg.outcome;
                        const key = `${family} ${o.kind === "score" ? "score" : o.kind === "rejected" ? `${o.stage}:${o.code}` : `bad-error:${o.stage}`}`;
                        counts.set(key, (counts.get(key) ?? 0) + 1);
                        if (o.kind === "bad-error")
                            findings.push({
                                family,
                                index: msg.done,
                                mutation: inFlight?.mutation ?? "",
                                what: `not a RewardModelError: ${o.error}`,
                            });
                        next = msg.done + 1;
                        inFlight = undefined;
                        if (next % 500 === 0)
                            console.log(`fuzz: ${family} ${next - args.start} cases, ${((Date.now() - began) / 1000).toFixed(0)} s`);
                    }
                }
            });
            proc.on("exit", (code, signal) => {
                clearTimeout(timer);
                resolve(inFlight ? { code, signal, inFlight, stderr, hung } : { code, signal, stderr, hung });
            });
        });
        if (result.inFlight) {
            const what = result.hung
                ? `hang (no result in ${args.timeoutMs} ms)`
                : `death (exit code ${result.code}, signal ${result.signal})`;
            const lastLines = result.stderr.trim().split("\n").slice(-3).join(" | ");
            findings.push({ family, index: result.inFlight.index, mutation: result.inFlight.mutation, what: `${what}: ${lastLines}` });
            const key = `${family} ${result.hung ? "hang" : "death"}`;
            counts.set(key, (counts.get(key) ?? 0) + 1);
            console.log(`fuzz: ${what} at ${result.inFlight.mutation}\n      ${lastLines}`);
            next = result.inFlight.index + 1;
        } else if (result.code !== 0) {
            console.log(`fuzz: the child exited with ${result.code ?? result.signal} outside a case:\n${result.stderr}`);
            return true;
        }
    }
    return false;
}

async function replay(args: Args, index: number): Promise<number> {
    const dir = args.keep ?? makeScratchDir();
    fs.mkdirSync(dir, { recursive: true });
    const bases = loadFuzzBases();
    const { fuzzCase, outcome, file } = await runCase(bases, args.seed, index, dir, args.keep !== undefined, args.family);
    console.log(describeCase(fuzzCase));
    console.log(JSON.stringify(outcome));
    if (args.keep !== undefined) console.log(`kept ${path.resolve(file)}`);
    else fs.rmSync(dir, { recursive: true, force: true });
    return outcome.kind === "bad-error" ? 1 : 0;
}

const args = parse(process.argv.slice(2));
if (args.child) await child(args);
else process.exitCode = args.replay !== undefined ? await replay(args, args.replay) : await parent(args);
