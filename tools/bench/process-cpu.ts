/**
 * CPU time of processes and threads from /proc (Linux), for the server
 * benchmark's accounting: how much CPU the server process, its JS thread
 * and the load generator used during a run, and how much the rest of the
 * machine took meanwhile. Elsewhere every reading is undefined.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";

let ticksPerSecond: number | undefined;

function clockTicks(): number {
    if (ticksPerSecond === undefined) {
        try {
            ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
        } catch {
            ticksPerSecond = 100;
        }
    }
    return ticksPerSecond;
}

/** utime + stime of a /proc/.../stat file, in seconds. */
function statSeconds(file: string): number | undefined {
    try {
        const text = fs.readFileSync(file, "utf8");
        // The command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3.
        const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
        return (Number(fields[11]) + Number(fields[12])) / clockTicks();
    } catch {
        return undefined;
    }
}

/** CPU seconds a process has used, all its threads together. */
export function processCpuSeconds(pid: number): number | undefined {
    return statSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds one thread of a process has used; a process's main (JS) thread has tid = pid. */
export function threadCpuSeconds(pid: number, tid = pid): number | undefined {
    return statSeconds(`/proc/${pid}/task/${tid}/stat`);
}

/** CPU seconds every CPU of the machine has been busy (all processes) since boot. */
export function machineBusySeconds(): number | undefined {
    try {
        const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
        const idle = fields[3]! + (fields[4] ?? 0);
        return (fields.reduce((a, b) => a + b, 0) - idle) / clockTicks();
    } catch {
        return undefined;
    }
}
