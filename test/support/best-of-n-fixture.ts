/**
 * A RewardBench 2-shaped best-of-N data set for tests: every subset, Ties
 * with ref/tied pairs, four completions per prompt (three for tied rows with
 * two correct ones), some long enough to be cut by a small max length.
 * Deterministic; the text is filler, so the rewards of the tiny model mean
 * nothing, but the rows have the real fields.
 */
import { filler } from "./fixtures.js";

export interface Rb2Row {
    id: string;
    prompt: string;
    chosen: string[];
    rejected: string[];
    num_correct: number;
    total_completions: number;
    subset: string;
}

export function rewardBench2Rows(): Rb2Row[] {
    const rows: Rb2Row[] = [];
    const subsets = ["Factuality", "Precise IF", "Math", "Safety", "Focus"];
    let n = 0;
    for (const subset of subsets) {
        for (let k = 0; k < 3; k++) {
            n++;
            const long = k === 2 ? 90 : 8;
            rows.push({
                id: String(n),
                prompt: `${subset} question ${k}: ${filler(12, n)}`,
                chosen: [filler(long, n * 7 + 1)],
                rejected: [filler(10, n * 7 + 2), filler(long, n * 7 + 3), filler(6, n * 7 + 4)],
                num_correct: 1,
                total_completions: 4,
                subset,
            });
        }
    }
    for (let p = 1; p <= 3; p++) {
        const prompt = `Name a colour (${p}).`;
        rows.push({
            id: `ref:${p}`,
            prompt,
            chosen: [filler(5, 100 + p)],
            rejected: [filler(5, 200 + p), filler(5, 300 + p)],
            num_correct: 1,
            total_completions: 3,
            subset: "Ties",
        });
        rows.push({
            id: `tied:${p}`,
            prompt,
            chosen: [filler(5, 100 + p), filler(6, 400 + p)],
            rejected: [filler(5, 200 + p)],
            num_correct: 2,
            total_completions: 3,
            subset: "Ties",
        });
    }
    return rows;
}
