/**
 * Shared test fixtures: paths of the generated tiny models and the llama.cpp
 * clone, and a few conversations of different lengths.
 */
import fs from "node:fs";
import path from "node:path";
import type { ChatMessage } from "../../src/model/chat-template.js";
import { llamaCppDir, packageRoot } from "../../src/package-root.js";

export const root = packageRoot();
export const tinyF32 = path.join(root, "models", "tiny-reward-f32.gguf");
export const tinyF16 = path.join(root, "models", "tiny-reward-f16.gguf");
export const llamaDir = llamaCppDir();
export const vocabFile = path.join(llamaDir, "models", "ggml-vocab-llama-bpe.gguf");

export function requireFile(file: string): string {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing; run \`npm install\` (or \`npm run build\`) first`);
    return file;
}

const words = "the quick brown fox jumps over a lazy dog while reward models read every token of a conversation".split(" ");

/** Deterministic filler text of about `n` words. */
export function filler(n: number, seed = 1): string {
    let x = seed;
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        out.push(words[x % words.length]!);
    }
    return out.join(" ");
}

export const conversations: ChatMessage[][] = [
    [
        { role: "user", content: "What is the capital of France?" },
        { role: "assistant", content: "The capital of France is Paris." },
    ],
    [
        { role: "system", content: "You are a terse assistant." },
        { role: "user", content: "Name a prime number larger than 10." },
        { role: "assistant", content: "11." },
    ],
    [
        { role: "user", content: `Summarise this: ${filler(120, 3)}` },
        { role: "assistant", content: filler(40, 4) },
    ],
    [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello! How can I help you today? 😀" },
        { role: "user", content: "Tell me a joke about compilers." },
        { role: "assistant", content: "Why did the compiler break up with the linker? Too many unresolved references." },
    ],
];

/**
 * The BF16 kernel tests' workload: the conversations above, a ~1100-token one and 21 of assorted lengths,
 * so a batch spans several activation passes and row counts.
 */
export const kernelCases: ChatMessage[][] = [
    ...conversations,
    [
        { role: "user", content: filler(900, 31) },
        { role: "assistant", content: filler(200, 32) },
    ],
    ...Array.from({ length: 21 }, (_, i): ChatMessage[] => [
        { role: "user", content: filler(3 + ((i * 29) % 150), 300 + i) },
        { role: "assistant", content: filler(2 + (i % 7) * 5, 400 + i) },
    ]),
];
