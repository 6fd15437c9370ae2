/**
 * The logistic function and the Bradley-Terry preference probability built on
 * it: the one place both live, used by `RewardModel.compare`, the evaluation
 * statistics and the server's classification activation.
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
