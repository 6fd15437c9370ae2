/**
 * The logistic function and the Bradley-Terry preference probability built on
 * it, and the preferred item of a list (argmax): the one place they live,
 * used by `RewardModel.compare`, evaluation and the server's classification
 * activation.
 */

/** The logistic function 1 / (1 + e^-x), computed without overflow for large |x|. */
export function sigmoid(x: number): number {
    if (x >= 0) return 1 / (1 + Math.exp(-x));
    const e = Math.exp(x);
    return e / (1 + e);
}

/** Bradley-Terry probability that a conversation with reward `a` is preferred to one with reward `b`: sigmoid(a - b). */
export function preferenceProbability(a: number, b: number): number {
    return sigmoid(a - b);
}

/** Index of the largest value; the first on ties. */
export function argmax(values: ArrayLike<number>): number {
    let best = 0;
    for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
    return best;
}
