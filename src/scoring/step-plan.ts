/**
 * The scheduler's two decisions as pure functions over plain data, so they
 * can be tested without llama.cpp: which queued job may start now
 * (admission), and which tokens go into the next decode step (packing),
 * with the marked tokens whose hidden states the step returns.
 */

/** What a queued job needs to be able to finish once started. */
export interface JobDemand {
    /** KV cells the job will ever occupy. */
    cells: number;
    /** Fewest sequence slots it can finish with. */
    minSlots: number;
    /** Most slots it can use at once. */
    maxSlots: number;
}

export interface AdmissionState {
    freeSlots: number;
    reservedCells: number;
    admittedJobs: number;
}

export interface AdmissionLimits {
    contextSize: number;
    /** Reproducible mode: a job runs only when nothing else is admitted. */
    exclusive: boolean;
}

/**
 * The number of slots to grant `demand` now, or 0 when it must wait. A job is
 * admitted only with everything it needs to finish (its KV cells and at least
 * minSlots slots), so admitted work never waits for other admitted work.
 */
export function slotsToGrant(demand: JobDemand, state: AdmissionState, limits: AdmissionLimits): number {
    if (limits.exclusive && state.admittedJobs > 0) return 0;
    if (state.reservedCells + demand.cells > limits.contextSize) return 0;
    if (state.freeSlots < demand.minSlots) return 0;
    return Math.min(demand.maxSlots, state.freeSlots);
}

/** A sequence holding a slot, as the packer sees it. */
export interface FeedingSequence {
    tokens: Int32Array;
    /** Position of tokens[0] (non-zero for a suffix after a shared prefix). */
    pos0: number;
    /** Tokens already decoded. */
    fed: number;
    slot: number;
    /** Whether its last token's pooled output is read. */
    wantsOutput: boolean;
    /** Indices into `tokens`, increasing, whose hidden states are read (absent: none). */
    marks?: Int32Array;
}

export interface PackOptions {
    batchSize: number;
    /** Most sequences in one step (1 in reproducible mode). */
    maxSequences: number;
    /** Cut chunks at absolute positions that are multiples of batchSize. */
    alignChunks: boolean;
}

export interface PackedStep {
    tokens: Int32Array;
    seqIds: Int32Array;
    positions: Int32Array;
    /** Slots whose last token is in this step and whose output is read, in row order. */
    outputs: Int32Array;
    /** Tokens taken from each input sequence (same order; 0 = not in this step). */
    takes: number[];
    /** Batch indices of the marked tokens in this step, in row order (sequence by sequence). */
    rows: Int32Array;
    /** Marked tokens taken from each input sequence (same order as takes). */
    rowCounts: number[];
}

/**
 * Packs up to batchSize tokens from the sequences, in order, long ones in
 * chunks. Deterministic: the same inputs always give the same step.
 */
export function packStep(sequences: readonly FeedingSequence[], options: PackOptions): PackedStep {
    const tokens: number[] = [];
    const seqIds: number[] = [];
    const positions: number[] = [];
    const outputs: number[] = [];
    const takes: number[] = [];
    const rows: number[] = [];
    const rowCounts: number[] = [];
    let used = 0;
    for (const seq of sequences) {
        const room = options.batchSize - tokens.length;
        const left = seq.tokens.length - seq.fed;
        let take = used < options.maxSequences ? Math.min(room, left) : 0;
        if (options.alignChunks && take > 0) {
            const pos = seq.pos0 + seq.fed;
            take = Math.min(take, options.batchSize - (pos % options.batchSize));
        }
        take = Math.max(0, take);
        takes.push(take);
        let marked = 0;
        for (const m of seq.marks ?? []) {
            if (m >= seq.fed && m < seq.fed + take) {
                rows.push(tokens.length + m - seq.fed);
                marked++;
            }
        }
        rowCounts.push(marked);
        if (take === 0) continue;
        used++;
        for (let i = 0; i < take; i++) {
            tokens.push(seq.tokens[seq.fed + i] as number);
            seqIds.push(seq.slot);
            positions.push(seq.pos0 + seq.fed + i);
        }
        if (take === left && seq.wantsOutput) outputs.push(seq.slot);
    }
    return {
        tokens: Int32Array.from(tokens),
        seqIds: Int32Array.from(seqIds),
        positions: Int32Array.from(positions),
        outputs: Int32Array.from(outputs),
        takes,
        rows: Int32Array.from(rows),
        rowCounts,
    };
}
