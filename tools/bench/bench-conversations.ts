/**
 * The benchmark's deterministic workload: 64 conversations whose lengths are
 * log-uniform between 50 and 1000 tokens (so about a third are short chats of
 * at most 128 tokens and a fifth are longer than 512), and a best-of-8 set: a
 * 512-token prompt with 8 different 64-token answers. Text is random English
 * words; lengths are hit by searching the word count against the model's own
 * tokenizer (passed in as countTokens): the conversations themselves come from
 * src/bench/random-conversations.ts, shared with `llama-reward bench --quick`.
 */
import type { ChatMessage } from "../../src/model/chat-template.js";
import { type CountTokens, fitWords, mixedConversations, randomText } from "../../src/bench/random-conversations.js";

export { type CountTokens, mixedConversations };

/** The split used to compare short and long conversations separately. */
export const SHORT_MAX_TOKENS = 128;
export const LONG_MIN_TOKENS = 513;

export interface BestOfN {
    prompt: ChatMessage[];
    answers: string[];
    promptTokens: number;
    /** Tokens of each full conversation (prompt + answer). */
    fullTokens: number[];
}

/** A best-of-N set: one prompt of ~promptTokens and N answers adding ~answerTokens each. */
export function bestOfN(countTokens: CountTokens, n = 8, promptTokens = 512, answerTokens = 64, seed = 0xb0_57_08): BestOfN {
    const system: ChatMessage = { role: "system", content: "You are a helpful assistant. Answer carefully and briefly." };
    const buildPrompt = (words: number): ChatMessage[] => [system, { role: "user", content: randomText(seed, Math.max(1, words)) }];
    const prompt = fitWords(buildPrompt, countTokens, promptTokens, promptTokens * 2);
    const promptCount = countTokens(prompt);
    const answers: string[] = [];
    const fullTokens: number[] = [];
    for (let k = 0; k < n; k++) {
        const build = (words: number): ChatMessage[] => [
            ...prompt,
            { role: "assistant", content: randomText(seed + 101 * (k + 1), Math.max(1, words)) },
        ];
        const full = fitWords(build, countTokens, promptCount + answerTokens, answerTokens * 2);
        answers.push(full[full.length - 1]!.content);
        fullTokens.push(countTokens(full));
    }
    return { prompt, answers, promptTokens: promptCount, fullTokens };
}
