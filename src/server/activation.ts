/**
 * vLLM's classification activation: sigmoid for a one-label head, softmax
 * for several; with use_activation false the raw head outputs are returned.
 */
import { sigmoid } from "../model/preference.js";

export function activate(values: readonly number[], enabled: boolean): number[] {
    if (!enabled) return [...values];
    if (values.length === 1) return [sigmoid(values[0]!)];
    const max = Math.max(...values);
    const exps = values.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
}
