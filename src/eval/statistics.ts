/**
 * Statistics for comparing two models' rewards: Pearson and Spearman correlation (average ranks for ties),
 * Kendall's tau-b of two rankings, relative L2
 * distance, absolute deltas and the agreement of pair orders. Undefined
 * values (a constant series, empty input) are NaN; reports write them as null.
 */

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>): void {
    if (a.length !== b.length) throw new RangeError(`series of different lengths (${a.length} and ${b.length})`);
}

export function mean(values: ArrayLike<number>): number {
    if (values.length === 0) return NaN;
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i]!;
    return sum / values.length;
}

/** Pearson's correlation coefficient; NaN when either series is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
    checkLengths(a, b);
    const n = a.length;
    if (n < 2) return NaN;
    const ma = mean(a);
    const mb = mean(b);
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < n; i++) {
        const da = a[i]! - ma;
        const db = b[i]! - mb;
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if (saa === 0 || sbb === 0) return NaN;
    return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/** 1-based ranks; tied values share the average of the ranks they span. */
export function averageRanks(values: ArrayLike<number>): number[] {
    const order = Array.from({ length: values.length }, (_, i) => i).sort((i, j) => values[i]! - values[j]!);
    const ranks = new Array<number>(values.length);
    for (let start = 0; start < order.length; ) {
        let end = start + 1;
        while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
        const rank = (start + 1 + end) / 2; // mean of ranks start+1 .. end
        for (let k = start; k < end; k++) ranks[order[k]!] = rank;
        start = end;
    }
    return ranks;
}

/** Spearman's rank correlation: Pearson's on average ranks. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
    checkLengths(a, b);
    return pearson(averageRanks(a), averageRanks(b));
}

/** ||b - a|| / ||a||; NaN when `a` is all zeros. */
export function relativeL2(reference: ArrayLike<number>, other: ArrayLike<number>): number {
    checkLengths(reference, other);
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < reference.length; i++) {
        const d = other[i]! - reference[i]!;
        diff += d * d;
        norm += reference[i]! * reference[i]!;
    }
    return norm === 0 ? NaN : Math.sqrt(diff / norm);
}

/** Mean and largest |b - a|. */
export function absDeltas(reference: ArrayLike<number>, other: ArrayLike<number>): { mean: number; max: number } {
    checkLengths(reference, other);
    if (reference.length === 0) return { mean: NaN, max: NaN };
    let sum = 0;
    let max = 0;
    for (let i = 0; i < reference.length; i++) {
        const d = Math.abs(other[i]! - reference[i]!);
        sum += d;
        if (d > max) max = d;
    }
    return { mean: sum / reference.length, max };
}

/** A pair is correct when the chosen reward is strictly higher (a tie is wrong, as in RewardBench). */
export function isCorrect(chosen: number, rejected: number): boolean {
    return chosen > rejected;
}

/** Indices of the pairs whose order (chosen > rejected) differs between two models. */
export function flippedPairs(
    referenceChosen: ArrayLike<number>,
    referenceRejected: ArrayLike<number>,
    otherChosen: ArrayLike<number>,
    otherRejected: ArrayLike<number>,
): number[] {
    checkLengths(referenceChosen, referenceRejected);
    checkLengths(referenceChosen, otherChosen);
    checkLengths(otherChosen, otherRejected);
    const flips: number[] = [];
    for (let i = 0; i < referenceChosen.length; i++) {
        if (isCorrect(referenceChosen[i]!, referenceRejected[i]!) !== isCorrect(otherChosen[i]!, otherRejected[i]!)) flips.push(i);
    }
    return flips;
}

/**
 * Kendall's tau-b of two rankings of the same items (scipy.stats.kendalltau's
 * default): (concordant − discordant) / sqrt((n0 − tiesA)(n0 − tiesB)) over
 * all n0 pairs of items. NaN when either series is constant or has < 2 items.
 */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number {
    checkLengths(a, b);
    let concordant = 0;
    let discordant = 0;
    let tiesA = 0;
    let tiesB = 0;
    let pairs = 0;
    for (let i = 0; i < a.length; i++) {
        for (let j = i + 1; j < a.length; j++) {
            pairs++;
            const da = Math.sign(a[i]! - a[j]!);
            const db = Math.sign(b[i]! - b[j]!);
            if (da === 0) tiesA++;
            if (db === 0) tiesB++;
            if (da !== 0 && db !== 0) {
                if (da === db) concordant++;
                else discordant++;
            }
        }
    }
    const denominator = Math.sqrt((pairs - tiesA) * (pairs - tiesB));
    return denominator === 0 ? NaN : (concordant - discordant) / denominator;
}
