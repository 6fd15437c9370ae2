/**
 * Continuous batching over one native context. Callers' sequences are queued
 * as jobs, admitted into sequence slots while the KV cache has room, packed
 * together into each decode step up to the batch size (long ones in chunks),
 * and released as soon as their last token has been decoded.
 *
 * A job is one sequence, or a group of sequences sharing a token prefix: the
 * group decodes its prefix once in its first slot, then each suffix starts
 * from a copy of that KV (llama_memory_seq_cp) in one of the group's other
 * slots; the last suffix simply continues in the prefix's own slot.
 *
 * Invariant (progress by construction): a job is admitted only when it can be
 * given every KV cell it will ever occupy and at least the slots it needs to
 * finish (1 for a sequence, 2 for a group: one holds the prefix, suffixes
 * take turns in the other). Admitted jobs therefore never wait for each
 * other; each one finishes and returns its slots and cells, and because no
 * job may need more than the whole context and every slot, the head of the
 * queue is always admitted once the jobs before it finish. Admission is FIFO,
 * so nothing starves. Should that invariant ever break, the scheduler does
 * not wait silently: work it cannot start rejects with ERR_INTERNAL.
 *
 * A sequence may instead be read at marked tokens (hiddenAt): each step
 * returns the hidden states of the marked tokens it holds, after the pooled
 * outputs, and the sequence resolves with all of them once fed; it is a job of
 * its own and shares no prefix.
 *
 * Reproducible mode admits one job at a time, decodes one sequence per step
 * and cuts chunks at absolute positions that are multiples of the batch size:
 * a sequence then always meets the same KV layout and the same kernels,
 * whatever else was submitted with it.
 *
 * Only one decode step runs at a time and it runs on the libuv thread pool;
 * the JS thread only plans steps, which takes microseconds. While any work is
 * pending a step is in flight or about to start, which keeps the process alive.
 *
 * A step starts on the next turn of the event loop (setImmediate) after work
 * arrives or the previous step ends, never in the middle of one: every call
 * made in the current turn joins it (concurrent callers and server requests
 * that arrive together share one step instead of the first going alone), and
 * the JavaScript that the finished step's results set off (callers' next
 * calls, the server's replies) runs before the compute threads start again
 * instead of competing with them for the cores.
 */
import { RewardModelError, abortedError, fromNativeError } from "../errors.js";
import type { NativeContext } from "../addon/native-types.js";
import { groupByPrefix } from "./prefix-groups.js";
import { packStep, slotsToGrant, type JobDemand } from "./step-plan.js";

export interface SchedulerLimits {
    contextSize: number;
    batchSize: number;
    parallel: number;
    /** Values per sequence the context returns: the head's labels, or n_embd for hidden states. */
    labelCount: number;
    /** Floats per marked token (the final-norm hidden state), or 0 when the context cannot return them. */
    rowSize: number;
    /** Bitwise-reproducible scheduling (see the header comment). */
    reproducible: boolean;
}

export interface SchedulerStats {
    /** Decode steps run so far. */
    steps: number;
    /** Tokens decoded so far. */
    tokens: number;
    /** Jobs waiting for admission. */
    queued: number;
    /** Jobs admitted and not finished. */
    active: number;
    /** Sequence slots not held by any job. */
    freeSlots: number;
    /** KV cells promised to admitted jobs. */
    reservedCells: number;
}

/** Below this many shared tokens, sharing a prefix is not worth a KV copy. */
const minSharedPrefix = 16;

/** One caller's promise. */
interface Request {
    resolve: (values: Float32Array) => void;
    reject: (error: Error) => void;
    settled: boolean;
}

/** Tokens fed into one slot. */
interface Sequence {
    tokens: Int32Array;
    pos0: number;
    fed: number;
    slot: number;
    /** Absent for a group's prefix, whose output nobody reads. */
    request?: Request;
    /** Token indices whose hidden states the request resolves with, instead of the last token's output. */
    marks?: Int32Array;
    /** The hidden states read so far at `marks` (rowSize floats each). */
    rows?: Float32Array;
    rowsRead?: number;
}

interface Job {
    demand: JobDemand;
    /** A group's shared prefix; absent for a single sequence. */
    prefix?: Sequence;
    prefixDone: boolean;
    /** Sequences not started yet (for a group: suffixes waiting for the prefix or a slot). */
    pending: Sequence[];
    /** Started sequences with tokens left or an output not yet read. */
    feeding: Sequence[];
    /** Granted slots no sequence of this job uses now (their KV is already queued for removal). */
    idleSlots: number[];
    /** The slot holding the prefix's KV (a group only; -1 once the last suffix took it over). */
    prefixSlot: number;
    cancelled: boolean;
    requests: Request[];
}

export class Scheduler {
    private readonly queue: Job[] = [];
    private readonly admitted: Job[] = [];
    private readonly freeSlots: number[] = [];
    private pendingRemove: number[] = [];
    private reservedCells = 0;
    private running: Promise<void> | undefined;
    private pumpScheduled = false;
    private disposed = false;
    private steps = 0;
    private tokens = 0;

    constructor(
        private readonly context: NativeContext,
        readonly limits: SchedulerLimits,
    ) {
        for (let s = limits.parallel - 1; s >= 0; s--) this.freeSlots.push(s);
    }

    get stats(): SchedulerStats {
        return {
            steps: this.steps,
            tokens: this.tokens,
            queued: this.queue.length,
            active: this.admitted.length,
            freeSlots: this.freeSlots.length,
            reservedCells: this.reservedCells,
        };
    }

    /** Scores one token sequence; resolves with labelCount values. */
    score(tokens: Int32Array, signal?: AbortSignal): Promise<Float32Array> {
        return this.scoreMany([tokens], signal)[0] as Promise<Float32Array>;
    }

    /**
     * Scores many token sequences, one promise each, in input order. Sequences
     * sharing a long prefix decode it once.
     */
    scoreMany(lists: readonly Int32Array[], signal?: AbortSignal): Promise<Float32Array>[] {
        this.checkUsable(signal);
        for (const list of lists) this.checkFits(list.length);
        const promises: Promise<Float32Array>[] = new Array(lists.length);
        const jobs: Job[] = [];
        const sharing = this.limits.parallel >= 2;
        const align = this.limits.reproducible ? this.limits.batchSize : 1;
        const groups = sharing
            ? groupByPrefix(lists, { minShared: minSharedPrefix, align })
            : lists.map((_, i) => ({ members: [i], prefixLength: 0 }));
        for (const group of groups) {
            const member = (i: number) => lists[i] as Int32Array;
            if (group.prefixLength === 0 || group.members.length < 2) {
                for (const i of group.members) jobs.push(this.singleJob(member(i), promises, i));
                continue;
            }
            const first = member(group.members[0] as number);
            const prefix = first.subarray(0, group.prefixLength);
            for (const part of splitToFit(
                group.members,
                (i) => member(i).length - group.prefixLength,
                this.limits.contextSize - group.prefixLength,
            )) {
                jobs.push(
                    this.groupJob(
                        prefix,
                        part.map((i) => ({ index: i, suffix: member(i).subarray(group.prefixLength) })),
                        promises,
                    ),
                );
            }
        }
        this.attachSignal(signal, jobs);
        this.queue.push(...jobs);
        this.schedulePump();
        return promises;
    }

    /**
     * Decodes one token sequence once and resolves with the final-norm hidden state (rowSize floats) at each
     * of `marks` (token indices, increasing), in order: a head read at several tokens costs one forward pass.
     * The sequence batches with all other work; it shares no prefix with it.
     */
    hiddenAt(tokens: Int32Array, marks: Int32Array, signal?: AbortSignal): Promise<Float32Array> {
        this.checkUsable(signal);
        this.checkFits(tokens.length);
        if (this.limits.rowSize === 0) {
            throw new RewardModelError("ERR_INVALID_OPTION", "this context does not return hidden states at marked tokens");
        }
        if (marks.length === 0) throw new RewardModelError("ERR_INVALID_TOKENS", "no token is marked");
        for (let i = 0; i < marks.length; i++) {
            const m = marks[i] as number;
            if (!Number.isInteger(m) || m < 0 || m >= tokens.length || (i > 0 && m <= (marks[i - 1] as number))) {
                throw new RewardModelError(
                    "ERR_INVALID_TOKENS",
                    `marked token ${m} is not an increasing index into the ${tokens.length} tokens`,
                );
            }
        }
        const promises: Promise<Float32Array>[] = [];
        const job = this.singleJob(tokens, promises, 0);
        const seq = job.pending[0] as Sequence;
        seq.marks = marks;
        seq.rows = new Float32Array(marks.length * this.limits.rowSize);
        seq.rowsRead = 0;
        this.attachSignal(signal, [job]);
        this.queue.push(job);
        this.schedulePump();
        return promises[0] as Promise<Float32Array>;
    }

    /** Rejects queued and running work, waits for the running step, frees the context. Idempotent. */
    async dispose(): Promise<void> {
        if (this.disposed) {
            await this.running;
            return;
        }
        this.disposed = true;
        const error = () => new RewardModelError("ERR_DISPOSED", "the model was disposed before this call finished");
        for (const job of [...this.queue.splice(0), ...this.admitted]) {
            job.cancelled = true;
            for (const r of job.requests) settle(r, error());
        }
        await this.running;
        for (const job of [...this.admitted]) this.retire(job);
        this.pendingRemove = [];
        this.context.dispose();
    }

    private singleJob(tokens: Int32Array, promises: Promise<Float32Array>[], index: number): Job {
        const job = newJob({ cells: tokens.length, minSlots: 1, maxSlots: 1 });
        promises[index] = new Promise<Float32Array>((resolve, reject) => {
            const request: Request = { resolve, reject, settled: false };
            job.requests.push(request);
            job.pending.push({ tokens, pos0: 0, fed: 0, slot: -1, request });
        });
        return job;
    }

    private groupJob(prefix: Int32Array, suffixes: { index: number; suffix: Int32Array }[], promises: Promise<Float32Array>[]): Job {
        const cells = prefix.length + suffixes.reduce((n, s) => n + s.suffix.length, 0);
        const job = newJob({ cells, minSlots: Math.min(2, suffixes.length), maxSlots: Math.min(suffixes.length, this.limits.parallel) });
        job.prefix = { tokens: prefix, pos0: 0, fed: 0, slot: -1 };
        for (const { index, suffix } of suffixes) {
            promises[index] = new Promise<Float32Array>((resolve, reject) => {
                const request: Request = { resolve, reject, settled: false };
                job.requests.push(request);
                job.pending.push({ tokens: suffix, pos0: prefix.length, fed: 0, slot: -1, request });
            });
        }
        return job;
    }

    private checkUsable(signal?: AbortSignal): void {
        if (this.disposed) throw new RewardModelError("ERR_DISPOSED", "the model is disposed");
        if (signal?.aborted) throw abortedError(signal, "scoring");
    }

    private checkFits(length: number): void {
        if (length === 0) throw new RewardModelError("ERR_INVALID_TOKENS", "a sequence to score is empty");
        if (length > this.limits.contextSize) {
            throw new RewardModelError(
                "ERR_CONTEXT_OVERFLOW",
                `the sequence has ${length} tokens but the context holds ${this.limits.contextSize}; ` +
                    'load with a larger contextSize or truncation: "left"',
            );
        }
    }

    /** One listener per call; detached once every request of the call has settled. */
    private attachSignal(signal: AbortSignal | undefined, jobs: Job[]): void {
        const requests = jobs.flatMap((j) => j.requests);
        if (!signal || requests.length === 0) return;
        const onAbort = () => {
            const error = abortedError(signal, "scoring");
            for (const job of jobs) {
                job.cancelled = true;
                for (const r of job.requests) settle(r, error);
                const q = this.queue.indexOf(job);
                if (q >= 0) this.queue.splice(q, 1);
            }
            this.schedulePump();
        };
        signal.addEventListener("abort", onAbort, { once: true });
        let open = requests.length;
        for (const r of requests) {
            const { resolve, reject } = r;
            const done = () => {
                if (--open === 0) signal.removeEventListener("abort", onAbort);
            };
            r.resolve = (v) => {
                done();
                resolve(v);
            };
            r.reject = (e) => {
                done();
                reject(e);
            };
        }
    }

    private releaseSlot(slot: number): void {
        this.pendingRemove.push(slot);
        this.freeSlots.push(slot);
    }

    /** Returns everything a finished or cancelled job holds. */
    private retire(job: Job): void {
        const i = this.admitted.indexOf(job);
        if (i < 0) return;
        this.admitted.splice(i, 1);
        for (const seq of job.feeding) if (seq.slot >= 0) this.releaseSlot(seq.slot);
        if (job.prefixSlot >= 0 && !job.feeding.some((s) => s.slot === job.prefixSlot)) this.releaseSlot(job.prefixSlot);
        for (const slot of job.idleSlots) this.freeSlots.push(slot); // their KV removal is already queued
        job.feeding = [];
        job.idleSlots = [];
        job.prefixSlot = -1;
        this.reservedCells -= job.demand.cells;
    }

    /** Admits queued jobs in order while each can be given what it needs to finish. */
    private admit(): void {
        while (this.queue.length > 0) {
            const job = this.queue[0] as Job;
            const grant = slotsToGrant(
                job.demand,
                {
                    freeSlots: this.freeSlots.length,
                    reservedCells: this.reservedCells,
                    admittedJobs: this.admitted.length,
                },
                { contextSize: this.limits.contextSize, exclusive: this.limits.reproducible },
            );
            if (grant === 0) return;
            this.queue.shift();
            this.reservedCells += job.demand.cells;
            const slots = this.freeSlots.splice(this.freeSlots.length - grant, grant).reverse();
            if (job.prefix) {
                job.prefixSlot = slots.shift() as number;
                job.prefix.slot = job.prefixSlot;
                job.feeding.push(job.prefix);
            }
            job.idleSlots = slots;
            this.admitted.push(job);
        }
    }

    /** Starts whatever a job can start now; `copies` collects the KV copies the step must make first. */
    private startSequences(job: Job, copies: number[]): void {
        if (job.prefix && !job.prefixDone) return;
        while (job.pending.length > 0) {
            const seq = job.pending[0] as Sequence;
            if (job.prefix && job.pending.length === 1) {
                // Every other suffix has copied the prefix already (copies run before the decode).
                seq.slot = job.prefixSlot;
            } else if (job.idleSlots.length > 0) {
                seq.slot = job.idleSlots.pop() as number;
                if (job.prefix) copies.push(job.prefixSlot, seq.slot, -1, -1);
            } else {
                return;
            }
            job.pending.shift();
            job.feeding.push(seq);
        }
    }

    /** A started sequence decoded its last token. */
    private finishSequence(job: Job, seq: Sequence): void {
        job.feeding.splice(job.feeding.indexOf(seq), 1);
        if (seq === job.prefix) {
            job.prefixDone = true;
            return;
        }
        if (seq.slot === job.prefixSlot) {
            job.prefixSlot = -1;
            this.releaseSlot(seq.slot);
        } else if (job.pending.length > 0) {
            this.pendingRemove.push(seq.slot);
            job.idleSlots.push(seq.slot);
        } else {
            this.releaseSlot(seq.slot);
        }
        seq.slot = -1;
        if ((!job.prefix || job.prefixDone) && job.pending.length === 0 && job.feeding.length === 0) this.retire(job);
    }

    /** Plans and starts the next step on the next turn of the event loop (see the header comment); once per turn. */
    private schedulePump(): void {
        if (this.pumpScheduled || this.disposed) return;
        this.pumpScheduled = true;
        setImmediate(() => {
            this.pumpScheduled = false;
            this.pump();
        });
    }

    private pump(): void {
        if (this.running || this.disposed) return;
        for (const job of this.admitted.filter((j) => j.cancelled)) this.retire(job);
        this.admit();

        const copies: number[] = [];
        const copying = new Set<Job>();
        for (const job of this.admitted) {
            const before = copies.length;
            this.startSequences(job, copies);
            if (copies.length > before) copying.add(job);
        }
        const feeding = this.admitted.flatMap((job) => job.feeding.map((seq) => ({ job, seq })));
        const step = packStep(
            feeding.map(({ seq }) => ({
                tokens: seq.tokens,
                pos0: seq.pos0,
                fed: seq.fed,
                slot: seq.slot,
                wantsOutput: seq.request !== undefined && seq.marks === undefined,
                marks: seq.marks,
            })),
            {
                batchSize: this.limits.batchSize,
                maxSequences: this.limits.reproducible ? 1 : Number.POSITIVE_INFINITY,
                alignChunks: this.limits.reproducible,
            },
        );
        if (step.tokens.length === 0) {
            if (this.queue.length > 0 || this.admitted.length > 0) this.failStalled();
            return;
        }
        const finishing: { job: Job; seq: Sequence }[] = [];
        const marked: { seq: Sequence; count: number }[] = [];
        const inStep = new Set<Job>();
        feeding.forEach((entry, i) => {
            const count = step.rowCounts[i] as number;
            if (count > 0) marked.push({ seq: entry.seq, count });
            const take = step.takes[i] as number;
            if (take === 0) return;
            inStep.add(entry.job);
            entry.seq.fed += take;
            if (entry.seq.fed === entry.seq.tokens.length) finishing.push(entry);
        });

        const remove = this.pendingRemove;
        this.pendingRemove = [];
        let decoded: Promise<Float32Array>;
        try {
            decoded = this.context.decode({
                remove: Int32Array.from(remove),
                copies: Int32Array.from(copies),
                tokens: step.tokens,
                seqIds: step.seqIds,
                positions: step.positions,
                outputs: step.outputs,
                rows: step.rows,
            });
        } catch (error) {
            // Nothing of this step ran: its removals are still owed, and jobs whose KV copies were lost fail with it.
            this.pendingRemove = remove.concat(this.pendingRemove);
            for (const job of copying) inStep.add(job);
            decoded = Promise.reject(error);
        }
        this.steps++;
        this.tokens += step.tokens.length;
        this.running = decoded
            .then(
                (values) => this.onStepDone(finishing, marked, step.outputs.length, values),
                (error: unknown) => this.onStepFailed(inStep, error),
            )
            .finally(() => {
                this.running = undefined;
                this.schedulePump();
            });
    }

    private onStepDone(
        finishing: { job: Job; seq: Sequence }[],
        marked: { seq: Sequence; count: number }[],
        outputCount: number,
        values: Float32Array,
    ): void {
        const n = this.limits.labelCount;
        // the marked tokens' hidden states follow the outputs, sequence by sequence
        const width = this.limits.rowSize;
        let at = outputCount * n;
        for (const { seq, count } of marked) {
            const read = seq.rowsRead as number;
            (seq.rows as Float32Array).set(values.subarray(at, at + count * width), read * width);
            seq.rowsRead = read + count;
            at += count * width;
        }
        let row = 0;
        for (const { job, seq } of finishing) {
            if (seq.request && seq.marks) {
                if (!seq.request.settled) {
                    seq.request.settled = true;
                    seq.request.resolve(seq.rows as Float32Array);
                }
            } else if (seq.request) {
                const result = values.slice(row * n, (row + 1) * n);
                row++;
                if (!seq.request.settled) {
                    seq.request.settled = true;
                    seq.request.resolve(result);
                }
            }
            if (!job.cancelled) this.finishSequence(job, seq);
        }
    }

    private onStepFailed(inStep: Set<Job>, error: unknown): void {
        const failure = fromNativeError(error, "ERR_DECODE_FAILED");
        for (const job of inStep) {
            job.cancelled = true;
            for (const r of job.requests) settle(r, failure);
        }
    }

    /** Unreachable while the admission invariant holds; never leave a caller waiting forever if it does not. */
    private failStalled(): void {
        const error = () =>
            new RewardModelError(
                "ERR_INTERNAL",
                `the scheduler cannot make progress (${this.queue.length} queued, ${this.admitted.length} admitted, ` +
                    `${this.freeSlots.length}/${this.limits.parallel} slots free, ${this.reservedCells} cells reserved); please report this`,
            );
        for (const job of [...this.queue.splice(0), ...this.admitted]) {
            job.cancelled = true;
            for (const r of job.requests) settle(r, error());
        }
        for (const job of [...this.admitted]) this.retire(job);
    }
}

function newJob(demand: JobDemand): Job {
    return { demand, prefixDone: false, pending: [], feeding: [], idleSlots: [], prefixSlot: -1, cancelled: false, requests: [] };
}

function settle(request: Request, error: Error): void {
    if (request.settled) return;
    request.settled = true;
    request.reject(error);
}

/** Splits a group's members into parts whose suffixes, with the prefix, fit the context. */
function splitToFit(members: number[], suffixLength: (i: number) => number, room: number): number[][] {
    const parts: number[][] = [];
    let current: number[] = [];
    let used = 0;
    for (const i of members) {
        const n = suffixLength(i);
        if (current.length > 0 && used + n > room) {
            parts.push(current);
            current = [];
            used = 0;
        }
        current.push(i);
        used += n;
    }
    parts.push(current);
    return parts;
}
