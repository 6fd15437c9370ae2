/**
 * CPU time of processes and threads from /proc (Linux; read by cpu-idle.ts), for the server
 * benchmark's accounting: how much CPU the server process, its JS thread
 * and the load generator used during a run, and how much the rest of the
 * machine took meanwhile. Elsewhere every reading is undefined.
 */
import { execFileSync } from "node:child_process";
import { cpuTimes, statFileTicks } from "./cpu-idle.js";

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
    const ticks = statFileTicks(file);
    return ticks === undefined ? undefined : ticks / clockTicks();
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
    const times = cpuTimes();
    return times === undefined ? undefined : times.busy / clockTicks();
}
