/**
 * The JSONL conversation lines `score` and `embed` read: each line is
 * `{"messages": [...]}` or a bare `[...]` of messages; and the flags both
 * commands take for them.
 */
import { RewardModelError } from "../errors.js";
import type { ChatMessage } from "../model/chat-template.js";

/** The model and the JSONL input, output and batch size of `score` and `embed` (parseArgs option definitions). */
export const conversationIoFlags = {
    model: { type: "string", short: "m" },
    input: { type: "string", short: "i", default: "-" },
    output: { type: "string", short: "o", default: "-" },
    chunk: { type: "string", default: "256" },
} as const;

/** A line's conversation, or ERR_INVALID_MESSAGES saying why it is not one (the caller names the line). */
export function parseConversationLine(line: string): ChatMessage[] {
    let value: unknown;
    try {
        value = JSON.parse(line);
    } catch {
        throw new RewardModelError("ERR_INVALID_MESSAGES", "not valid JSON");
    }
    const messages = Array.isArray(value) ? value : (value as { messages?: unknown } | null)?.messages;
    if (!Array.isArray(messages)) {
        throw new RewardModelError("ERR_INVALID_MESSAGES", `neither {"messages": [...]} nor an array of messages`);
    }
    return messages as ChatMessage[];
}
