/**
 * Timing on a shared 2-core machine is only meaningful when nothing else is
 * running: measures CPU use from /proc/stat over a short window and waits
 * (up to a limit) for it to drop, naming the busiest other processes.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";

/** Busy and total CPU ticks of every CPU since boot, from /proc/stat; undefined where there is none. */
export function cpuTimes(): { busy: number; total: number } | undefined {
    try {
        const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
        const idle = fields[3]! + (fields[4] ?? 0);
        const total = fields.reduce((a, b) => a + b, 0);
        return { busy: total - idle, total };
    } catch {
        return undefined; // not Linux: nothing to measure
    }
}

/** Share of all CPUs busy over `ms` milliseconds (0 when unknown). */
export async function cpuBusyShare(ms = 2000): Promise<number> {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, ms));
    const b = cpuTimes();
    if (!a || !b || b.total === a.total) return 0;
    return (b.busy - a.busy) / (b.total - a.total);
}

function busiestProcesses(): string {
    try {
        const out = execFileSync("ps", ["-eo", "pcpu,comm,args", "--sort=-pcpu"], { encoding: "utf8" });
        return out
            .split("\n")
            .slice(1, 4)
            .map((l) => l.trim().slice(0, 100))
            .filter(Boolean)
            .join("; ");
    } catch {
        return "";
    }
}

/** The longest wait for an idle CPU: LLAMA_REWARD_BENCH_IDLE_WAIT seconds (e.g. 0 on a machine known to stay busy), default 300. */
function defaultMaxWaitMs(): number {
    const s = Number(process.env.LLAMA_REWARD_BENCH_IDLE_WAIT);
    return process.env.LLAMA_REWARD_BENCH_IDLE_WAIT !== undefined && Number.isFinite(s) && s >= 0 ? s * 1000 : 300_000;
}

/** Waits until the CPU is below `threshold` busy, for at most `maxWaitMs`; returns the last share seen. */
export async function waitForIdleCpu(log: (line: string) => void, threshold = 0.15, maxWaitMs = defaultMaxWaitMs()): Promise<number> {
    const started = Date.now();
    let share = await cpuBusyShare();
    while (share > threshold) {
        if (Date.now() - started > maxWaitMs) {
            log(`warning: the CPU is still ${(share * 100).toFixed(0)}% busy; timings will be low (${busiestProcesses()})`);
            return share;
        }
        log(`the CPU is ${(share * 100).toFixed(0)}% busy (${busiestProcesses()}); waiting for it to go idle`);
        await new Promise((r) => setTimeout(r, 10_000));
        share = await cpuBusyShare();
    }
    return share;
}

/**
 * Starts measuring how much CPU other processes take while this one (and,
 * through `childTicks`, a child it runs) works; the returned function gives
 * their share of all CPUs since the start (0..1; 0 when unknown).
 * /proc/stat counts in USER_HZ = 100 ticks per second.
 */
export function startContentionMeter(childTicks: () => number = () => 0): () => number {
    const a = cpuTimes();
    const own = process.cpuUsage();
    return () => {
        const b = cpuTimes();
        if (!a || !b || b.total === a.total) return 0;
        const used = process.cpuUsage(own);
        const ownTicks = ((used.user + used.system) / 1e6) * 100 + childTicks();
        return Math.max(0, (b.busy - a.busy - ownTicks) / (b.total - a.total));
    };
}

/** CPU ticks (user + system) in a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file; undefined when unreadable. */
export function statFileTicks(file: string): number | undefined {
    try {
        const stat = fs.readFileSync(file, "utf8");
        // the command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
    } catch {
        return undefined;
    }
}

/** CPU ticks (user + system) a live process has used so far, from /proc/<pid>/stat; 0 when unknown. */
export function processTicks(pid: number): number {
    return statFileTicks(`/proc/${pid}/stat`) ?? 0;
}
