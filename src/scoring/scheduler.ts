/**
 * Continuous batching over one native context. Sequences from every caller
 * are queued, admitted into free sequence slots while the KV cache has room,
 * packed together into each decode step up to the batch size (long ones in
 * chunks), and released as soon as their last token has been decoded.
 *
 * Shared prompts: a group decodes its prefix once in one slot, then each
 * suffix starts from a copy of that KV (llama_memory_seq_cp); the last suffix
 * simply continues in the prefix's own slot.
 *
 * Only one decode step runs at a time and it runs on the libuv thread pool;
 * the JS thread only plans steps, which takes microseconds.
 */
import { RewardModelError, abortedError } from "../errors.js";
import type { NativeContext, NativeError } from "../native/native-types.js";

export interface SchedulerLimits {
    contextSize: number;
    batchSize: number;
    parallel: number;
    labelCount: number;
}

export interface SchedulerStats {
    steps: number;
    tokens: number;
}

interface Group {
    prefix: Sequence;
    waiting: Sequence[];     // suffixes not yet given a slot
    live: number;            // suffixes admitted and not finished
    prefixDone: boolean;
}

interface Sequence {
    tokens: Int32Array;      // the tokens this slot feeds
    pos0: number;            // position of tokens[0]
    fed: number;
    slot: number;            // -1 until admitted
    group?: Group;
    isPrefix: boolean;
    finished: boolean;
    resolve?: (values: Float32Array) => void;
    reject?: (error: Error) => void;
}

type QueueEntry = { kind: "single"; seq: Sequence; cost: number } | { kind: "group"; group: Group; cost: number };

export class Scheduler {
    private readonly queue: QueueEntry[] = [];
    private readonly active: Sequence[] = [];     // sequences holding a slot with tokens left
    private readonly groups = new Set<Group>();   // groups whose prefix holds a slot
    private readonly freeSlots: number[] = [];
    private pendingRemove: number[] = [];
    private reserved = 0;                         // KV cells promised to admitted work
    private running: Promise<void> | undefined;
    private disposed = false;
    readonly stats: SchedulerStats = { steps: 0, tokens: 0 };

    constructor(private readonly context: NativeContext, readonly limits: SchedulerLimits) {
        for (let s = limits.parallel - 1; s >= 0; s--) this.freeSlots.push(s);
    }

    /** Scores one token sequence; resolves with labelCount values. */
    score(tokens: Int32Array, signal?: AbortSignal): Promise<Float32Array> {
        this.checkUsable(signal);
        this.checkFits(tokens.length);
        return new Promise<Float32Array>((resolve, reject) => {
            const seq = newSequence(tokens, 0, false);
            seq.resolve = resolve;
            seq.reject = reject;
            this.attachSignal(signal, [seq], () => this.cancelSingle(seq));
            this.queue.push({ kind: "single", seq, cost: tokens.length });
            this.pump();
        });
    }

    /**
     * Scores prefix+suffix for every suffix, decoding the prefix once. Every
     * suffix must be non-empty. Resolves one promise per suffix.
     */
    scoreShared(prefix: Int32Array, suffixes: Int32Array[], signal?: AbortSignal): Promise<Float32Array>[] {
        this.checkUsable(signal);
        if (suffixes.length === 0) return [];
        if (this.limits.parallel < 2 || prefix.length === 0) {
            return suffixes.map((s) => this.score(concat(prefix, s), signal));
        }
        // Split into groups that each fit the KV cache on their own.
        const groups: Int32Array[][] = [];
        let current: Int32Array[] = [];
        let cost = prefix.length;
        for (const suffix of suffixes) {
            if (suffix.length === 0) throw new Error("scoreShared: empty suffix");
            this.checkFits(prefix.length + suffix.length);
            if (current.length > 0 && cost + suffix.length > this.limits.contextSize) {
                groups.push(current);
                current = [];
                cost = prefix.length;
            }
            current.push(suffix);
            cost += suffix.length;
        }
        groups.push(current);
        return groups.flatMap((members) => this.enqueueGroup(prefix, members, signal));
    }

    /** Rejects queued work, waits for the running step, frees the context. Idempotent. */
    async dispose(): Promise<void> {
        if (this.disposed) {
            await this.running;
            return;
        }
        this.disposed = true;
        const error = () => new RewardModelError("ERR_DISPOSED", "the model was disposed before this call finished");
        for (const entry of this.queue.splice(0)) {
            if (entry.kind === "single") settleError(entry.seq, error());
            else for (const s of entry.group.waiting) settleError(s, error());
        }
        for (const seq of this.active) settleError(seq, error());
        for (const group of this.groups) for (const s of group.waiting) settleError(s, error());
        await this.running;
        this.context.dispose();
    }

    private enqueueGroup(prefix: Int32Array, suffixes: Int32Array[], signal?: AbortSignal): Promise<Float32Array>[] {
        const prefixSeq = newSequence(prefix, 0, true);
        const group: Group = { prefix: prefixSeq, waiting: [], live: 0, prefixDone: false };
        prefixSeq.group = group;
        const promises = suffixes.map((suffix) => new Promise<Float32Array>((resolve, reject) => {
            const seq = newSequence(suffix, prefix.length, false);
            seq.group = group;
            seq.resolve = resolve;
            seq.reject = reject;
            group.waiting.push(seq);
        }));
        const cost = prefix.length + suffixes.reduce((n, s) => n + s.length, 0);
        this.attachSignal(signal, group.waiting.slice(), () => this.cancelGroup(group));
        this.queue.push({ kind: "group", group, cost });
        this.pump();
        return promises;
    }

    private checkUsable(signal?: AbortSignal): void {
        if (this.disposed) throw new RewardModelError("ERR_DISPOSED", "the model is disposed");
        if (signal?.aborted) throw abortedError(signal, "scoring");
    }

    private checkFits(length: number): void {
        if (length > this.limits.contextSize) {
            throw new RewardModelError("ERR_CONTEXT_OVERFLOW",
                `the sequence has ${length} tokens but the context holds ${this.limits.contextSize}; ` +
                "load with a larger contextSize or truncation: \"left\"");
        }
    }

    private attachSignal(signal: AbortSignal | undefined, members: Sequence[], cancel: () => void): void {
        if (!signal) return;
        const onAbort = () => {
            const error = abortedError(signal, "scoring");
            for (const seq of members) settleError(seq, error);
            cancel();
            this.pump();
        };
        signal.addEventListener("abort", onAbort, { once: true });
        // Detach once every member has settled so long-lived signals do not leak listeners.
        let open = members.length;
        for (const seq of members) {
            const { resolve, reject } = seq;
            const done = () => { if (--open === 0) signal.removeEventListener("abort", onAbort); };
            seq.resolve = (v) => { done(); resolve?.(v); };
            seq.reject = (e) => { done(); reject?.(e); };
        }
    }

    private cancelSingle(seq: Sequence): void {
        const i = this.queue.findIndex((e) => e.kind === "single" && e.seq === seq);
        if (i >= 0) this.queue.splice(i, 1);
        // an admitted sequence is released by the next step (it is marked finished)
    }

    private cancelGroup(group: Group): void {
        const i = this.queue.findIndex((e) => e.kind === "group" && e.group === group);
        if (i >= 0) this.queue.splice(i, 1);
    }

    private releaseSlot(slot: number): void {
        this.pendingRemove.push(slot);
        this.freeSlots.push(slot);
    }

    /** Frees whatever finished or cancelled work still holds slots or reservations. */
    private collect(): void {
        for (let i = this.active.length - 1; i >= 0; i--) {
            const seq = this.active[i]!;
            if (seq.finished && !seq.isPrefix) {
                this.active.splice(i, 1);
                this.finishSequence(seq);
            }
        }
        for (const group of [...this.groups]) {
            const kept: Sequence[] = [];
            for (const s of group.waiting) {
                if (s.finished) this.reserved -= s.tokens.length;   // cancelled before it got a slot
                else kept.push(s);
            }
            group.waiting = kept;
            const needed = group.waiting.length > 0 || group.live > 0;
            if (!needed) group.prefix.finished = true;              // nobody will read the prefix's KV any more
            if (!group.prefix.finished) continue;
            const i = this.active.indexOf(group.prefix);
            if (i >= 0) this.active.splice(i, 1);
            if (!needed) {
                if (group.prefix.slot >= 0) this.releaseSlot(group.prefix.slot);
                group.prefix.slot = -1;
                this.reserved -= group.prefix.tokens.length;
                this.groups.delete(group);
            }
        }
    }

    private finishSequence(seq: Sequence): void {
        if (seq.slot >= 0) this.releaseSlot(seq.slot);
        seq.slot = -1;
        this.reserved -= seq.tokens.length;
        if (seq.group) seq.group.live--;
    }

    private admit(copies: number[]): void {
        // Suffixes of decoded prefixes first: their KV is already reserved.
        for (const group of this.groups) {
            if (!group.prefixDone) continue;
            while (group.waiting.length > 0) {
                const last = group.waiting.length === 1;
                if (!last && this.freeSlots.length === 0) break;
                const seq = group.waiting.shift()!;
                if (last) {
                    seq.slot = group.prefix.slot;       // continue in the prefix's own slot
                    group.prefix.slot = -1;
                    group.prefix.finished = true;
                } else {
                    seq.slot = this.freeSlots.pop()!;
                    copies.push(group.prefix.slot, seq.slot, -1, -1);
                }
                group.live++;
                this.active.push(seq);
            }
        }
        while (this.queue.length > 0 && this.freeSlots.length > 0) {
            const entry = this.queue[0]!;
            if (this.reserved + entry.cost > this.limits.contextSize) break;
            this.queue.shift();
            this.reserved += entry.cost;
            // A group reserves its prefix and every suffix now, so admitted work can always finish.
            const seq = entry.kind === "single" ? entry.seq : entry.group.prefix;
            seq.slot = this.freeSlots.pop()!;
            if (entry.kind === "group") this.groups.add(entry.group);
            this.active.push(seq);
        }
    }

    private pump(): void {
        if (this.running || this.disposed) return;
        this.collect();
        const copies: number[] = [];
        this.admit(copies);

        const tokens: number[] = [];
        const seqIds: number[] = [];
        const positions: number[] = [];
        const outputs: number[] = [];
        const inStep: Sequence[] = [];
        const finishing: Sequence[] = [];
        for (const seq of this.active) {
            if (seq.finished) continue;
            const room = this.limits.batchSize - tokens.length;
            if (room <= 0) break;
            const take = Math.min(room, seq.tokens.length - seq.fed);
            if (take <= 0) continue;
            for (let i = 0; i < take; i++) {
                tokens.push(seq.tokens[seq.fed + i]!);
                seqIds.push(seq.slot);
                positions.push(seq.pos0 + seq.fed + i);
            }
            inStep.push(seq);
            if (seq.fed + take === seq.tokens.length) {
                finishing.push(seq);
                if (!seq.isPrefix) outputs.push(seq.slot);
            }
            seq.fed += take;
        }
        // Removals wait for the next step that decodes something; they only matter to new work.
        if (tokens.length === 0) return;

        const remove = this.pendingRemove;
        this.pendingRemove = [];
        let decoded: Promise<Float32Array>;
        try {
            decoded = this.context.decode({
                remove: Int32Array.from(remove),
                copies: Int32Array.from(copies),
                tokens: Int32Array.from(tokens),
                seqIds: Int32Array.from(seqIds),
                positions: Int32Array.from(positions),
                outputs: Int32Array.from(outputs),
            });
        } catch (error) {
            decoded = Promise.reject(error);
        }
        this.stats.steps++;
        this.stats.tokens += tokens.length;
        this.running = decoded.then(
            (values) => this.onStepDone(finishing, values),
            (error: NativeError) => this.onStepFailed(inStep, error),
        ).finally(() => {
            this.running = undefined;
            this.pump();
        });
    }

    private onStepDone(finishing: Sequence[], values: Float32Array): void {
        const n = this.limits.labelCount;
        let row = 0;
        for (const seq of finishing) {
            if (seq.isPrefix) {
                if (seq.group) seq.group.prefixDone = true;
                const i = this.active.indexOf(seq);
                if (i >= 0) this.active.splice(i, 1);
                continue;
            }
            const result = values.slice(row * n, (row + 1) * n);
            row++;
            if (!seq.finished) {
                seq.finished = true;
                seq.resolve?.(result);
            }
        }
    }

    private onStepFailed(inStep: Sequence[], error: NativeError): void {
        const failure = toRewardError(error);
        for (const seq of inStep) {
            settleError(seq, failure);
            if (seq.isPrefix && seq.group) {
                for (const s of seq.group.waiting) settleError(s, failure);
                seq.group.prefixDone = true;
                const i = this.active.indexOf(seq);
                if (i >= 0) this.active.splice(i, 1);
            }
        }
    }
}

function newSequence(tokens: Int32Array, pos0: number, isPrefix: boolean): Sequence {
    return { tokens, pos0, fed: 0, slot: -1, isPrefix, finished: false };
}

function settleError(seq: Sequence, error: Error): void {
    if (seq.finished) return;
    seq.finished = true;
    seq.reject?.(error);
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
    const out = new Int32Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
}

function toRewardError(error: NativeError): RewardModelError {
    if (error instanceof RewardModelError) return error;
    const code = error?.code;
    const known = code === "ERR_CONTEXT_OVERFLOW" || code === "ERR_INVALID_TOKENS" || code === "ERR_DISPOSED";
    return new RewardModelError(known ? code : "ERR_DECODE_FAILED", error?.message ?? String(error), { cause: error });
}
