/**
 * The BOS policy (docs/format.md §1). Tokenizing a rendered Llama-3 template with
 * the tokenizer's special tokens yields two leading BOS tokens, which is what
 * transformers produces and what GRM was trained on.
 *  - "hf":     keep the tokens as transformers produces them (default)
 *  - "single": drop a duplicated leading BOS (RewardBench's masking)
 *  - "none":   strip every leading BOS (a model trained on text without one)
 */

export type BosPolicy = "hf" | "single" | "none";
export const bosPolicies: readonly BosPolicy[] = ["hf", "single", "none"];

export function applyBosPolicy(tokens: Int32Array, bos: number, policy: BosPolicy): Int32Array {
    if (policy === "hf" || bos < 0) return tokens;
    let lead = 0;
    while (lead < tokens.length && tokens[lead] === bos) lead++;
    if (policy === "single") return lead > 1 ? tokens.subarray(lead - 1) : tokens;
    return tokens.subarray(lead);
}

/** The number of leading BOS tokens. */
export function leadingBosCount(tokens: Int32Array, bos: number): number {
    let lead = 0;
    while (lead < tokens.length && tokens[lead] === bos) lead++;
    return lead;
}
