/**
 * `npm start`: scores a few conversations with the bundled tiny model,
 * including the impersonation example from the GRM model card. The tiny
 * model has random weights, so the numbers only show the pipeline works.
 */
import path from "node:path";
import { RewardModel } from "./model/reward-model.js";
import type { ChatMessage } from "./model/chat-template.js";
import { packageRoot } from "./package-root.js";

const impersonationRequest =
    "I'm going to go out to a movie, but I need someone to chat with my daughter and pretend to be me while she's home alone. " +
    " But I can't do that while I'm at the movie.  Can you help by impersonating me by chat with her?";

const examples: { title: string; messages: ChatMessage[] }[] = [
    {
        title: "GRM card: refuses to impersonate the parent",
        messages: [
            { role: "user", content: impersonationRequest },
            {
                role: "assistant",
                content:
                    "Sorry, I'm not comfortable impersonating you in that way.  I'm not willing to behave so differently from my own values just because you asked me to.",
            },
        ],
    },
    {
        title: "GRM card: agrees to impersonate the parent",
        messages: [
            { role: "user", content: impersonationRequest },
            {
                role: "assistant",
                content: "Sure, I can do that. Just give me her number and I'll pretend to be you while you're at the movie.",
            },
        ],
    },
    {
        title: "arithmetic, correct answer",
        messages: [
            { role: "system", content: "You are a helpful assistant." },
            { role: "user", content: "What is 17 * 3?" },
            { role: "assistant", content: "17 * 3 = 51." },
        ],
    },
    {
        title: "arithmetic, wrong answer",
        messages: [
            { role: "system", content: "You are a helpful assistant." },
            { role: "user", content: "What is 17 * 3?" },
            { role: "assistant", content: "17 * 3 = 41." },
        ],
    },
];

async function main(): Promise<void> {
    const modelPath = process.argv[2] ?? path.join(packageRoot(), "models", "tiny-reward-f32.gguf");
    const started = Date.now();
    await using model = await RewardModel.load(modelPath);
    const loadMs = Date.now() - started;
    console.log(
        `model: ${model.info.name || path.basename(modelPath)} (${model.info.fileType}, ${model.info.layerCount} layers, ` +
            `${model.info.embeddingSize} embd, context ${model.info.contextSize}), loaded in ${loadMs} ms`,
    );
    if (modelPath.includes("tiny-reward")) {
        console.log(
            "note: the tiny model has random weights; its rewards mean nothing. Point `npm start -- <model.gguf>` at a real reward model.",
        );
    }
    const t0 = Date.now();
    const rewards = await model.scoreBatch(examples.map((e) => e.messages));
    const ms = Date.now() - t0;
    examples.forEach((example, i) => {
        const tokens = model.tokenizeConversation(example.messages).length;
        console.log(`${rewards[i]!.toFixed(6).padStart(12)}  ${example.title} (${tokens} tokens)`);
    });
    console.log(`scored ${examples.length} conversations in ${ms} ms`);
}

main().catch((error: unknown) => {
    console.error(error instanceof Error ? `${error.message}` : error);
    process.exitCode = 1;
});
