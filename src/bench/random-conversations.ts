/**
 * Deterministic conversations of chosen token lengths for measuring speed:
 * random English words from a seeded PRNG, with each conversation's length
 * hit by searching its word count against the model's own tokenizer (passed
 * in as countTokens). The same seed gives the same text on every platform;
 * the same model then gives the same tokens. Used by `llama-reward bench
 * --quick` and by the benchmarks in tools/bench/.
 */
import type { ChatMessage } from "../model/chat-template.js";
import { seededRandom } from "../train/seeded-split.js";

/** Tokens of a conversation, as the model that will score it counts them. */
export type CountTokens = (messages: ChatMessage[]) => number;

const WORDS = (
    "the of and to in is that it for was on are with as be at by this have from or one had not but what all were when " +
    "we there can an your which their said if do will each about how up out them then she many some so these would " +
    "other into has more her two like him see time could no make than first been its who now people my made over did " +
    "down only way find use may water long little very after words called just where most know get through back much " +
    "before go good new write our used me man too any day same right look think also around another came come work " +
    "three word must because does part even place well such here take why things help put years different away again " +
    "off went old number great tell men say small every found still between name should home big give air line set " +
    "own under read last never us left end along while might next sound below saw something thought both few those " +
    "always looked show large often together asked house world going want school important until form food keep " +
    "children feet land side without boy once animals life enough took sometimes four head above kind began almost " +
    "live page got earth need far hand high year mother light parts country father let night following picture being " +
    "study second eyes soon times story boys since white days ever paper hard near sentence better best across during " +
    "today others however sure means knew try told young miles sun ways thing whole hear example heard several change " +
    "answer room sea against top turned learn point city play toward five using himself usually reward model token"
).split(" ");

const PUNCTUATION = [".", ",", "?", "!", ";", ":"];

/** A stream of random English-looking text from a seeded PRNG. */
export function randomText(seed: number, words: number): string {
    const uniform = seededRandom(seed);
    const out: string[] = [];
    let capital = true;
    for (let i = 0; i < words; i++) {
        let w = WORDS[Math.floor(uniform() * WORDS.length)]!;
        if (capital) w = w[0]!.toUpperCase() + w.slice(1);
        capital = false;
        const r = uniform();
        if (r < 0.08) {
            w += PUNCTUATION[Math.floor(uniform() * PUNCTUATION.length)]!;
            capital = w.endsWith(".") || w.endsWith("?") || w.endsWith("!");
        }
        out.push(w);
    }
    return out.join(" ");
}

/** Largest word count n ≤ hi whose build(n) has at most `target` tokens (token counts grow with n). */
export function fitWords(build: (n: number) => ChatMessage[], count: CountTokens, target: number, hi: number): ChatMessage[] {
    let lo = 0;
    while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (count(build(mid)) <= target) lo = mid;
        else hi = mid - 1;
    }
    return build(lo);
}

/** `count` conversations of log-uniform length in [minTokens, maxTokens], in a fixed order. */
export function mixedConversations(
    countTokens: CountTokens,
    count = 64,
    minTokens = 50,
    maxTokens = 1000,
    seed = 0xbe_4c_11,
): ChatMessage[][] {
    const uniform = seededRandom(seed);
    const out: ChatMessage[][] = [];
    for (let i = 0; i < count; i++) {
        const target = Math.round(minTokens * (maxTokens / minTokens) ** uniform());
        const withSystem = uniform() < 0.3;
        const userShare = 0.2 + 0.4 * uniform();
        const base = (seed + i * 7919) >>> 0;
        const system: ChatMessage[] = withSystem ? [{ role: "system", content: randomText(base + 1, 12) }] : [];
        const userWords = Math.max(3, Math.round(target * userShare * 0.8));
        const user = randomText(base + 2, userWords);
        // The user turn is fixed; the assistant's length is searched to land on the target.
        const build = (n: number): ChatMessage[] => [
            ...system,
            { role: "user", content: user },
            { role: "assistant", content: randomText(base + 3, Math.max(1, n)) },
        ];
        out.push(fitWords(build, countTokens, target, target * 2));
    }
    return out;
}
