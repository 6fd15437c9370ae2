/**
 * A NativeContext without llama.cpp, for testing the scheduler: it keeps a
 * model of the KV cache (which cells each sequence id sees, cells shared
 * after a copy) and answers each output with a hash of every (position,
 * token) its sequence holds (a marked row: of those up to its position, and
 * the position). A scheduler that loses, duplicates or misplaces
 * KV, overruns the context or the batch, or reads the wrong row therefore
 * gets a wrong value, and the cases llama.cpp would reject throw here too.
 * Those are broken scheduler invariants, never simulated failures: each is
 * also recorded in `violations`, which a test asserts empty after every run,
 * because the scheduler turns whatever a decode throws into
 * ERR_DECODE_FAILED, a code the runs with failing steps (failStep,
 * throwStep) accept.
 */
import type { NativeContext, NativeContextInfo, NativeDecodeStep } from "../../src/addon/native-types.js";

interface Cell {
    pos: number;
    token: number;
}

export interface FakeContextOptions {
    contextSize: number;
    batchSize: number;
    parallel: number;
    /** Milliseconds each decode takes (0 or absent: it settles on the next turn of the event loop). */
    delayMs?: number;
    /** Fails the decode with this index (0-based) once, after applying its removals and copies. */
    failStep?: number;
    /** Throws synchronously from the decode with this index, before anything of it runs (as argument checks do). */
    throwStep?: number;
    /** Called as each decode starts, with its index, before it runs: a test's hook to act at a known step. */
    onDecode?: (index: number) => void;
}

/** The reward the fake gives a sequence of tokens starting at position 0. */
export function fakeReward(tokens: ArrayLike<number>): number {
    let h = 7;
    for (let i = 0; i < tokens.length; i++) h = (h * 31 + (tokens[i] as number) * 131 + i) % 65521;
    return h;
}

export class FakeContext implements NativeContext {
    readonly seqs = new Map<number, Cell[]>();
    readonly steps: NativeDecodeStep[] = [];
    disposed = false;
    inFlight = 0;
    maxInFlight = 0;
    maxCellsUsed = 0;
    /** Every broken invariant seen (a scheduler bug); the simulated failures are not in it. */
    readonly violations: string[] = [];

    constructor(readonly options: FakeContextOptions) {}

    info(): NativeContextInfo {
        return {
            contextSize: this.options.contextSize,
            batchSize: this.options.batchSize,
            parallel: this.options.parallel,
            labelCount: 1,
            rowSize: 2,
            kvCacheBytes: 0,
        };
    }

    dispose(): void {
        if (this.inFlight > 0) throw this.violation("disposed while a decode is running");
        this.disposed = true;
    }

    /** Live cells (a cell shared by several sequences counts once). */
    cellsUsed(): number {
        const cells = new Set<Cell>();
        for (const list of this.seqs.values()) for (const c of list) cells.add(c);
        return cells.size;
    }

    decode(step: NativeDecodeStep): Promise<Float32Array> {
        if (this.disposed) return Promise.reject(this.violation("decode after dispose"));
        const index = this.steps.length;
        this.steps.push(step);
        this.options.onDecode?.(index);
        if (index === this.options.throwStep) throw Object.assign(new Error("fake: decode refused"), { code: "ERR_INVALID_TOKENS" });
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        let result: Float32Array | Error;
        try {
            result = this.apply(step, index);
        } catch (error) {
            result = error as Error;
        }
        return new Promise((resolve, reject) => {
            const finish = () => {
                this.inFlight--;
                if (result instanceof Error) reject(result);
                else resolve(result);
            };
            if (this.options.delayMs) setTimeout(finish, this.options.delayMs);
            else setImmediate(finish);
        });
    }

    /** Records a broken invariant (in step `steps.length - 1`) and returns the error the decode fails with. */
    private violation(what: string): Error {
        const message = `fake: step ${this.steps.length - 1}: ${what}`;
        this.violations.push(message);
        return new Error(message);
    }

    private apply(step: NativeDecodeStep, index: number): Float32Array {
        const { parallel, batchSize, contextSize } = this.options;
        const seqOk = (s: number) => Number.isInteger(s) && s >= 0 && s < parallel;
        for (const s of step.remove) {
            if (!seqOk(s)) throw this.violation(`remove of invalid sequence ${s}`);
            this.seqs.delete(s);
        }
        for (let i = 0; i < step.copies.length; i += 4) {
            const src = step.copies[i] as number;
            const dst = step.copies[i + 1] as number;
            if (!seqOk(src) || !seqOk(dst) || src === dst) throw this.violation(`invalid copy ${src} -> ${dst}`);
            if ((this.seqs.get(dst)?.length ?? 0) > 0) throw this.violation(`copy into sequence ${dst}, which still holds KV`);
            this.seqs.set(dst, [...(this.seqs.get(src) ?? [])]);
        }
        if (step.tokens.length > batchSize) throw this.violation(`${step.tokens.length} tokens in a step of ${batchSize}`);
        if (index === this.options.failStep) throw Object.assign(new Error("fake: decode failed"), { code: "ERR_DECODE_FAILED" });
        for (let i = 0; i < step.tokens.length; i++) {
            const s = step.seqIds[i] as number;
            if (!seqOk(s)) throw this.violation(`token for invalid sequence ${s}`);
            const list = this.seqs.get(s) ?? [];
            const pos = step.positions[i] as number;
            if (pos !== list.length) throw this.violation(`sequence ${s} gets position ${pos} after ${list.length} cells`);
            list.push({ pos, token: step.tokens[i] as number });
            this.seqs.set(s, list);
        }
        const used = this.cellsUsed();
        this.maxCellsUsed = Math.max(this.maxCellsUsed, used);
        if (used > contextSize) throw this.violation(`${used} cells used in a context of ${contextSize}`);
        const rows = step.rows ?? new Int32Array(0);
        const out = new Float32Array(step.outputs.length + 2 * rows.length);
        step.outputs.forEach((s, row) => {
            const lastToken = [...step.seqIds].lastIndexOf(s);
            if (lastToken < 0) throw this.violation(`output for sequence ${s}, which has no token in this step`);
            out[row] = fakeReward((this.seqs.get(s) ?? []).map((c) => c.token));
        });
        // a marked token's "hidden state": the reward of its sequence up to it, and its position
        rows.forEach((i, r) => {
            if (i < 0 || i >= step.tokens.length) throw this.violation(`marked row ${i} outside the step`);
            const s = step.seqIds[i] as number;
            const pos = step.positions[i] as number;
            const upTo = (this.seqs.get(s) ?? []).filter((c) => c.pos <= pos).map((c) => c.token);
            out[step.outputs.length + 2 * r] = fakeReward(upTo);
            out[step.outputs.length + 2 * r + 1] = pos;
        });
        return out;
    }
}
