/**
 * Conversation → text: validates chat messages, builds the conversation a
 * response to a prompt is scored as (`withResponse`), and renders
 * conversations with the model's own Jinja chat template
 * (tokenizer.chat_template), exactly as transformers'
 * apply_chat_template(tokenize=False) with add_generation_prompt=false does.
 */
import { Template } from "@huggingface/jinja";
import { RewardModelError } from "../errors.js";
import type { TemplateValue } from "./template-variables.js";

export interface ChatMessage {
    role: string;
    content: string;
}

/** Throws ERR_INVALID_MESSAGES unless `messages` is a non-empty list of {role, content} strings. */
export function validateMessages(messages: unknown, where = "messages"): asserts messages is ChatMessage[] {
    if (!Array.isArray(messages)) {
        throw new RewardModelError("ERR_INVALID_MESSAGES", `${where} must be an array of {role, content} objects`);
    }
    if (messages.length === 0) {
        throw new RewardModelError("ERR_INVALID_MESSAGES", `${where} is empty; a conversation needs at least one message`);
    }
    messages.forEach((message: unknown, i) => {
        if (typeof message !== "object" || message === null) {
            throw new RewardModelError("ERR_INVALID_MESSAGES", `${where}[${i}] must be an object with role and content`);
        }
        const { role, content } = message as Record<string, unknown>;
        if (typeof role !== "string" || role.length === 0) {
            throw new RewardModelError("ERR_INVALID_MESSAGES", `${where}[${i}].role must be a non-empty string`);
        }
        if (typeof content !== "string") {
            throw new RewardModelError("ERR_INVALID_MESSAGES", `${where}[${i}].content must be a string`);
        }
    });
}

/** The conversation a response is scored as: `prompt` followed by `response` as the assistant's turn. */
export function withResponse(prompt: readonly ChatMessage[], response: string): ChatMessage[] {
    return [...prompt, { role: "assistant", content: response }];
}

/**
 * The text a template's `bos_token` / `eos_token` stands for: the token's text, or "" for a vocabulary
 * without one (id -1). `tokenText` reads a token's text from the model.
 */
export function specialTokenText(id: number, tokenText: (id: number) => string): string {
    return id >= 0 ? tokenText(id) : "";
}

export class ChatTemplate {
    private readonly template: Template;

    constructor(
        readonly source: string,
        private readonly bosToken: string,
        private readonly eosToken: string,
        /** Extra variables the template reads (the templateVariables load option), validated by template-variables.ts. */
        private readonly variables: Readonly<Record<string, TemplateValue>> = {},
    ) {
        try {
            this.template = new Template(source);
        } catch (cause) {
            throw new RewardModelError("ERR_TEMPLATE", `the model's chat template does not parse: ${(cause as Error).message}`, { cause });
        }
    }

    /**
     * The conversation as the model was trained to read it: without a generation prompt (docs/format.md §1).
     * `generationPrompt` adds the assistant header, as process rewards read each answer's first prediction.
     */
    render(messages: ChatMessage[], generationPrompt = false): string {
        try {
            return this.template.render({
                ...this.variables,
                messages: messages.map(({ role, content }) => ({ role, content })),
                bos_token: this.bosToken,
                eos_token: this.eosToken,
                add_generation_prompt: generationPrompt,
            });
        } catch (cause) {
            throw new RewardModelError("ERR_TEMPLATE", `the chat template failed to render: ${(cause as Error).message}`, { cause });
        }
    }
}
