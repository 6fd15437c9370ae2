/**
 * Fits a linear reward head w on cached hidden states by the Bradley–Terry
 * model: P(chosen ≻ rejected) = sigmoid(w·h_chosen − w·h_rejected). The
 * objective, mean softplus(−margin) + (l2 / 2)·‖w‖², is convex (strictly
 * with l2 > 0), so L-BFGS, diagonally preconditioned, reaches its minimum;
 * each iteration is one pass over the cached features (an epoch) and runs no
 * forward pass. With a validation set the fit keeps the head of lowest
 * validation loss and stops once it has not improved for `patience`
 * iterations.
 */
import { RewardModelError, invalidArgument } from "../errors.js";

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

/** w·h for every feature row (four partial sums: the loop is the fit's hot path). */
function rowScores(rows: readonly Float32Array[], w: Float64Array, out: Float64Array): void {
    const d = w.length;
    const d4 = d - (d % 4);
    for (let j = 0; j < rows.length; j++) {
        const h = rows[j]!;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let k = 0;
        for (; k < d4; k += 4) {
            s0 += w[k]! * h[k]!;
            s1 += w[k + 1]! * h[k + 1]!;
            s2 += w[k + 2]! * h[k + 2]!;
            s3 += w[k + 3]! * h[k + 3]!;
        }
        for (; k < d; k++) s0 += w[k]! * h[k]!;
        out[j] = s0 + s1 + s2 + s3;
    }
}

/** out += a·h, the gradient's other hot loop. */
function addScaled(out: Float64Array, a: number, h: Float32Array): void {
    const d = out.length;
    const d4 = d - (d % 4);
    let k = 0;
    for (; k < d4; k += 4) {
        out[k]! += a * h[k]!;
        out[k + 1]! += a * h[k + 1]!;
        out[k + 2]! += a * h[k + 2]!;
        out[k + 3]! += a * h[k + 3]!;
    }
    for (; k < d; k++) out[k]! += a * h[k]!;
}

function softplus(x: number): number {
    return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

function dot(a: Float64Array, b: Float64Array): number {
    let s = 0;
    for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
    return s;
}

/**
 * Pairs over the vectors they need: the distinct feature rows the pairs use
 * (margin = score(chosen) − score(rejected)), or, when there are fewer pairs
 * than such rows, one difference vector h_chosen − h_rejected per pair
 * (margin = its score). Either way a pass costs min(pairs, rows) dot products.
 */
class PairVectors {
    readonly vectors: Float32Array[];
    readonly chosen: Int32Array;
    /** Absent for difference vectors. */
    readonly rejected: Int32Array | undefined;
    readonly scores: Float64Array;

    constructor(rows: readonly Float32Array[], pairs: PairIndices) {
        const n = pairs.chosen.length;
        const compact = new Map<number, number>();
        const index = (row: number): number => {
            let i = compact.get(row);
            if (i === undefined) {
                i = compact.size;
                compact.set(row, i);
            }
            return i;
        };
        const chosen = Int32Array.from(pairs.chosen, index);
        const rejected = Int32Array.from(pairs.rejected, index);
        if (n < compact.size) {
            this.vectors = Array.from({ length: n }, (_, i) => {
                const c = rows[pairs.chosen[i]!]!;
                const r = rows[pairs.rejected[i]!]!;
                const difference = new Float32Array(c.length);
                for (let k = 0; k < c.length; k++) difference[k] = c[k]! - r[k]!;
                return difference;
            });
            this.chosen = Int32Array.from({ length: n }, (_, i) => i);
            this.rejected = undefined;
        } else {
            this.vectors = new Array<Float32Array>(compact.size);
            for (const [row, i] of compact) this.vectors[i] = rows[row]!;
            this.chosen = chosen;
            this.rejected = rejected;
        }
        this.scores = new Float64Array(this.vectors.length);
    }

    get length(): number {
        return this.chosen.length;
    }

    /** Scores every vector at w; then margin(i) is pair i's margin. */
    score(w: Float64Array): void {
        rowScores(this.vectors, w, this.scores);
    }

    margin(i: number): number {
        return this.rejected === undefined ? this.scores[i]! : this.scores[this.chosen[i]!]! - this.scores[this.rejected[i]!]!;
    }

    /**
     * Per coordinate, the mean square of the pairs' difference vectors: measured for difference vectors,
     * estimated as twice the variance over the rows otherwise.
     */
    secondMoments(d: number): Float64Array {
        const sum = new Float64Array(d);
        const sumSquares = new Float64Array(d);
        for (const v of this.vectors) {
            for (let k = 0; k < d; k++) {
                sum[k]! += v[k]!;
                sumSquares[k]! += v[k]! * v[k]!;
            }
        }
        const n = this.vectors.length;
        return sum.map((total, k) =>
            this.rejected === undefined ? sumSquares[k]! / n : 2 * Math.max(0, sumSquares[k]! / n - (total / n) ** 2),
        );
    }

    metrics(w: Float64Array): PairMetrics {
        this.score(w);
        let loss = 0;
        let correct = 0;
        for (let i = 0; i < this.length; i++) {
            const m = this.margin(i);
            loss += softplus(-m);
            if (m > 0) correct++;
        }
        return { loss: loss / this.length, accuracy: correct / this.length };
    }
}

/** The regularized objective and its gradient on the training pairs. */
class Objective {
    private readonly coefficients: Float64Array;

    constructor(
        private readonly pairs: PairVectors,
        private readonly l2: number,
    ) {
        this.coefficients = new Float64Array(pairs.vectors.length);
    }

    /** The objective at w; fills `gradient` and returns the training metrics too. */
    evaluate(w: Float64Array, gradient: Float64Array): { value: number; metrics: PairMetrics } {
        const p = this.pairs;
        p.score(w);
        const n = p.length;
        this.coefficients.fill(0);
        let loss = 0;
        let correct = 0;
        for (let i = 0; i < n; i++) {
            const margin = p.margin(i);
            loss += softplus(-margin);
            if (margin > 0) correct++;
            const g = 1 / (1 + Math.exp(margin)) / n; // sigmoid(−margin) = −d softplus(−margin) / d margin
            this.coefficients[p.chosen[i]!]! -= g;
            if (p.rejected !== undefined) this.coefficients[p.rejected[i]!]! += g;
        }
        const d = w.length;
        for (let k = 0; k < d; k++) gradient[k] = this.l2 * w[k]!;
        for (let j = 0; j < p.vectors.length; j++) {
            const a = this.coefficients[j]!;
            if (a !== 0) addScaled(gradient, a, p.vectors[j]!);
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
    if (train.chosen.length === 0) throw invalidArgument("no training pairs", "ERR_INVALID_DATA");
    if (!(options.l2 >= 0)) throw invalidArgument(`l2 must be ≥ 0, got ${options.l2}`);
    for (const h of rows) {
        if (h.length !== d) throw new RewardModelError("ERR_INTERNAL", `a feature row has ${h.length} values, expected ${d}`);
    }
    const trainPairs = new PairVectors(rows, train);
    const objective = new Objective(trainPairs, options.l2);
    // Diagonal preconditioning: L-BFGS runs on u with w = scale ⊙ u, scale = 1 / √(mean square of the pair
    // differences), so coordinates of very different spread (hidden states have a few of very large
    // magnitude) are equally well conditioned. The objective and its minimum in w are unchanged.
    const moments = trainPairs.secondMoments(d);
    const meanMoment = moments.reduce((a, b) => a + b, 0) / d;
    const scale = moments.map((m) => (meanMoment > 0 ? 1 / Math.sqrt(Math.max(m, 1e-3 * meanMoment)) : 1));
    const hasValidation = validation !== undefined && validation.chosen.length > 0;
    const validationPairs = hasValidation ? new PairVectors(rows, validation) : undefined;

    let w = options.init ? Float64Array.from(options.init) : new Float64Array(d);
    let g = new Float64Array(d);
    let { value: f, metrics } = objective.evaluate(w, g);
    const history: IterationMetrics[] = [];
    const record = (iteration: number, train: PairMetrics, gradientNorm: number): IterationMetrics => {
        const m: IterationMetrics = { iteration, train, validation: validationPairs?.metrics(w), gradientNorm };
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
    const gU = new Float64Array(d);
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
        // Two-loop recursion in u: direction = −H·g_u with the L-BFGS inverse-Hessian estimate H.
        for (let i = 0; i < d; i++) gU[i] = scale[i]! * g[i]!;
        const gUNorm = Math.sqrt(dot(gU, gU));
        direction.set(gU);
        for (let k = s.length - 1; k >= 0; k--) {
            alpha[k] = rho[k]! * dot(s[k]!, direction);
            const yk = y[k]!;
            for (let i = 0; i < d; i++) direction[i]! -= alpha[k]! * yk[i]!;
        }
        const gamma = s.length > 0 ? dot(s[s.length - 1]!, y[y.length - 1]!) / dot(y[y.length - 1]!, y[y.length - 1]!) : 1 / gUNorm;
        for (let i = 0; i < d; i++) direction[i]! *= gamma;
        for (let k = 0; k < s.length; k++) {
            const beta = rho[k]! * dot(y[k]!, direction);
            const sk = s[k]!;
            for (let i = 0; i < d; i++) direction[i]! += sk[i]! * (alpha[k]! - beta);
        }
        for (let i = 0; i < d; i++) direction[i] = -direction[i]!;
        let slope = dot(gU, direction);
        if (!(slope < 0)) {
            // not a descent direction (numerical trouble): restart from steepest descent
            s.length = y.length = rho.length = 0;
            for (let i = 0; i < d; i++) direction[i] = -gU[i]! / gUNorm;
            slope = dot(gU, direction);
        }
        for (let i = 0; i < d; i++) direction[i]! *= scale[i]!; // the step in w
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
            sk[i] = (wNext[i]! - w[i]!) / scale[i]!; // in u
            yk[i] = (gNext[i]! - g[i]!) * scale[i]!;
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
