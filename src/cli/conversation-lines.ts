/**
 * The JSONL conversation lines `score` and `embed` read: each line is
 * `{"messages": [...]}` or a bare `[...]` of messages.
 */
import { RewardModelError } from "../errors.js";
import type { ChatMessage } from "../model/chat-template.js";

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
