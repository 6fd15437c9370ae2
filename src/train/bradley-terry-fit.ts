/**
 * Fits a linear reward head w on cached hidden states by the Bradley–Terry
 * model: P(chosen ≻ rejected) = sigmoid(w·h_chosen − w·h_rejected). The
 * objective, mean softplus(−margin) + (l2 / 2)·‖w‖², is convex (strictly
 * with l2 > 0), so L-BFGS reaches its minimum; each iteration is one pass
 * over the cached features (an epoch) and runs no forward pass. With a
 * validation set the fit keeps the head of lowest validation loss and stops
 * once it has not improved for `patience` iterations.
 */
import { RewardModelError } from "../errors.js";

/** Pairs as indices into the feature rows: chosen[i] should outscore rejected[i]. */
export interface PairIndices {
    chosen: Int32Array;
    rejected: Int32Array;
}

export interface FitOptions {
    /** L2 regularization strength (≥ 0). */
    l2: number;
    /** Starting head (n_embd values); zeros when absent. */
    init?: Float64Array;
    /** Most iterations. */
    maxIterations: number;
    /** Iterations without a lower validation loss before stopping (needs validation pairs). */
    patience: number;
    /** Stop when ‖gradient‖ ≤ tolerance · max(1, ‖w‖). */
    tolerance: number;
    /** Called after every iteration (iteration 0 is the starting head). */
    onIteration?: (metrics: IterationMetrics) => void;
    /** Checked between iterations. */
    signal?: AbortSignal;
}

export interface PairMetrics {
    /** Mean Bradley–Terry loss, softplus(−margin), without the L2 term. */
    loss: number;
    /** Share of pairs whose chosen conversation scores strictly higher. */
    accuracy: number;
}

export interface IterationMetrics {
    iteration: number;
    train: PairMetrics;
    /** Absent without validation pairs. */
    validation?: PairMetrics;
    /** ‖gradient‖ of the regularized objective. */
    gradientNorm: number;
}

export type StopReason = "converged" | "early-stopping" | "max-iterations" | "line-search";

export interface FitResult {
    weight: Float64Array;
    /** The iteration whose head is returned (lowest validation loss, or the last one). */
    bestIteration: number;
    iterations: number;
    stopReason: StopReason;
    history: IterationMetrics[];
    train: PairMetrics;
    validation?: PairMetrics;
}

const lbfgsMemory = 10;

/** w·h for every feature row. */
function rowScores(rows: readonly Float32Array[], w: Float64Array, out: Float64Array): void {
    const d = w.length;
    for (let j = 0; j < rows.length; j++) {
        const h = rows[j]!;
        let s = 0;
        for (let k = 0; k < d; k++) s += w[k]! * h[k]!;
        out[j] = s;
    }
}

function softplus(x: number): number {
    return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

function pairMetrics(scores: Float64Array, pairs: PairIndices): PairMetrics {
    const n = pairs.chosen.length;
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < n; i++) {
        const margin = scores[pairs.chosen[i]!]! - scores[pairs.rejected[i]!]!;
        loss += softplus(-margin);
        if (margin > 0) correct++;
    }
    return { loss: loss / n, accuracy: correct / n };
}

function dot(a: Float64Array, b: Float64Array): number {
    let s = 0;
    for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
    return s;
}

/** The regularized objective and its gradient on the training pairs. */
class Objective {
    /** w·h of every row at the last evaluated w (validation rows included). */
    readonly scores: Float64Array;
    private readonly coefficients: Float64Array;

    constructor(
        private readonly rows: readonly Float32Array[],
        private readonly pairs: PairIndices,
        private readonly l2: number,
    ) {
        this.scores = new Float64Array(rows.length);
        this.coefficients = new Float64Array(rows.length);
    }

    /** The objective at w; fills `gradient` and returns the training metrics too. */
    evaluate(w: Float64Array, gradient: Float64Array): { value: number; metrics: PairMetrics } {
        rowScores(this.rows, w, this.scores);
        const { chosen, rejected } = this.pairs;
        const n = chosen.length;
        this.coefficients.fill(0);
        let loss = 0;
        let correct = 0;
        for (let i = 0; i < n; i++) {
            const c = chosen[i]!;
            const r = rejected[i]!;
            const margin = this.scores[c]! - this.scores[r]!;
            loss += softplus(-margin);
            if (margin > 0) correct++;
            const g = 1 / (1 + Math.exp(margin)); // sigmoid(−margin) = −d softplus(−margin) / d margin
            this.coefficients[c]! -= g / n;
            this.coefficients[r]! += g / n;
        }
        const d = w.length;
        for (let k = 0; k < d; k++) gradient[k] = this.l2 * w[k]!;
        for (let j = 0; j < this.rows.length; j++) {
            const a = this.coefficients[j]!;
            if (a === 0) continue;
            const h = this.rows[j]!;
            for (let k = 0; k < d; k++) gradient[k]! += a * h[k]!;
        }
        const metrics = { loss: loss / n, accuracy: correct / n };
        return { value: metrics.loss + 0.5 * this.l2 * dot(w, w), metrics };
    }
}

/**
 * Fits the head. `rows` are the cached hidden states (one per distinct
 * conversation, all of width d); `train` and `validation` index into them.
 */
export function fitBradleyTerry(
    rows: readonly Float32Array[],
    d: number,
    train: PairIndices,
    validation: PairIndices | undefined,
    options: FitOptions,
): FitResult {
    if (train.chosen.length === 0) throw new RewardModelError("ERR_INVALID_DATA", "no training pairs");
    if (!(options.l2 >= 0)) throw new RewardModelError("ERR_INVALID_OPTION", `l2 must be ≥ 0, got ${options.l2}`);
    for (const h of rows) {
        if (h.length !== d) throw new RewardModelError("ERR_INTERNAL", `a feature row has ${h.length} values, expected ${d}`);
    }
    const objective = new Objective(rows, train, options.l2);
    const hasValidation = validation !== undefined && validation.chosen.length > 0;
    // the row scores of the last evaluation are those of the head being recorded
    const validate = (): PairMetrics | undefined => (hasValidation ? pairMetrics(objective.scores, validation) : undefined);

    let w = options.init ? Float64Array.from(options.init) : new Float64Array(d);
    let g = new Float64Array(d);
    let { value: f, metrics } = objective.evaluate(w, g);
    const history: IterationMetrics[] = [];
    const record = (iteration: number, train: PairMetrics, gradientNorm: number): IterationMetrics => {
        const m: IterationMetrics = { iteration, train, validation: validate(), gradientNorm };
        history.push(m);
        options.onIteration?.(m);
        return m;
    };
    let current = record(0, metrics, Math.sqrt(dot(g, g)));
    let best = { w: Float64Array.from(w), iteration: 0, metrics: current };
    let sinceBest = 0;

    const s: Float64Array[] = [];
    const y: Float64Array[] = [];
    const rho: number[] = [];
    const direction = new Float64Array(d);
    const alpha = new Float64Array(lbfgsMemory);
    let stopReason: StopReason = "max-iterations";
    let iteration = 0;
    while (iteration < options.maxIterations) {
        if (options.signal?.aborted) throw new RewardModelError("ERR_ABORTED", "training was aborted", { cause: options.signal.reason });
        const gNorm = Math.sqrt(dot(g, g));
        if (gNorm <= options.tolerance * Math.max(1, Math.sqrt(dot(w, w)))) {
            stopReason = "converged";
            break;
        }
        // Two-loop recursion: direction = −H·g with the L-BFGS inverse-Hessian estimate H.
        direction.set(g);
        for (let k = s.length - 1; k >= 0; k--) {
            alpha[k] = rho[k]! * dot(s[k]!, direction);
            const yk = y[k]!;
            for (let i = 0; i < d; i++) direction[i]! -= alpha[k]! * yk[i]!;
        }
        const gamma = s.length > 0 ? dot(s[s.length - 1]!, y[y.length - 1]!) / dot(y[y.length - 1]!, y[y.length - 1]!) : 1 / gNorm;
        for (let i = 0; i < d; i++) direction[i]! *= gamma;
        for (let k = 0; k < s.length; k++) {
            const beta = rho[k]! * dot(y[k]!, direction);
            const sk = s[k]!;
            for (let i = 0; i < d; i++) direction[i]! += sk[i]! * (alpha[k]! - beta);
        }
        for (let i = 0; i < d; i++) direction[i] = -direction[i]!;
        let slope = dot(g, direction);
        if (!(slope < 0)) {
            // not a descent direction (numerical trouble): restart from steepest descent
            s.length = y.length = rho.length = 0;
            for (let i = 0; i < d; i++) direction[i] = -g[i]! / gNorm;
            slope = dot(g, direction);
        }
        // Backtracking line search (Armijo condition).
        let step = 1;
        const wNext = new Float64Array(d);
        const gNext = new Float64Array(d);
        let accepted: { value: number; metrics: PairMetrics } | undefined;
        for (let tries = 0; tries < 40; tries++) {
            for (let i = 0; i < d; i++) wNext[i] = w[i]! + step * direction[i]!;
            const trial = objective.evaluate(wNext, gNext);
            if (trial.value <= f + 1e-4 * step * slope) {
                accepted = trial;
                break;
            }
            step *= 0.5;
        }
        if (!accepted) {
            stopReason = "line-search"; // no decrease representable: w is at the minimum to working precision
            break;
        }
        iteration++;
        const sk = new Float64Array(d);
        const yk = new Float64Array(d);
        for (let i = 0; i < d; i++) {
            sk[i] = wNext[i]! - w[i]!;
            yk[i] = gNext[i]! - g[i]!;
        }
        const sy = dot(sk, yk);
        if (sy > 1e-12 * Math.sqrt(dot(sk, sk) * dot(yk, yk))) {
            s.push(sk);
            y.push(yk);
            rho.push(1 / sy);
            if (s.length > lbfgsMemory) {
                s.shift();
                y.shift();
                rho.shift();
            }
        }
        const previous = f;
        w = wNext;
        g = gNext;
        f = accepted.value;
        current = record(iteration, accepted.metrics, Math.sqrt(dot(g, g)));
        if (hasValidation) {
            if (current.validation!.loss < best.metrics.validation!.loss) {
                best = { w: Float64Array.from(w), iteration, metrics: current };
                sinceBest = 0;
            } else if (++sinceBest >= options.patience) {
                stopReason = "early-stopping";
                break;
            }
        }
        if (Math.abs(previous - f) <= 1e-12 * Math.max(1, Math.abs(f))) {
            stopReason = "converged";
            break;
        }
    }
    const chosen = hasValidation ? best : { w, iteration, metrics: current };
    return {
        weight: chosen.w,
        bestIteration: chosen.iteration,
        iterations: iteration,
        stopReason,
        history,
        train: chosen.metrics.train,
        validation: chosen.metrics.validation,
    };
}
