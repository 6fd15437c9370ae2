/**
 * The Llama-3 tokenizer of the generated models (tiny test model, benchmark
 * model): every tokenizer.ggml.* key of llama.cpp's ggml-vocab-llama-bpe.gguf,
 * with Llama-3 instruct's <|eot_id|> as EOS and BOS added on tokenization,
 * plus Meta's Llama-3 chat template.
 */
import { RewardModelError } from "../../src/errors.js";
import { GgufValueType, type GgufHeader } from "../../src/gguf/gguf-types.js";
import type { GgufWriter } from "../../src/gguf/gguf-writer.js";

/**
 * Meta-Llama-3-8B-Instruct's chat template, verbatim. It puts bos_token before
 * the first message, so tokenizing its output with add_bos yields two BOS tokens.
 */
export const LLAMA3_CHAT_TEMPLATE =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

const BOS_ID = 128000; // <|begin_of_text|>
const EOT_ID = 128009; // <|eot_id|>, Llama-3 instruct's end of turn

/** Writes the tokenizer keys and the chat template into a GGUF being written. */
export function writeLlama3Tokenizer(w: GgufWriter, vocab: GgufHeader): void {
    const overrides = new Map<string, [GgufValueType, number | boolean]>([
        ["tokenizer.ggml.bos_token_id", [GgufValueType.UINT32, BOS_ID]],
        ["tokenizer.ggml.eos_token_id", [GgufValueType.UINT32, EOT_ID]],
        ["tokenizer.ggml.add_bos_token", [GgufValueType.BOOL, true]],
        ["tokenizer.ggml.add_eos_token", [GgufValueType.BOOL, false]],
    ]);
    for (const [key, value] of vocab.metadata) {
        if (!key.startsWith("tokenizer.ggml.")) continue;
        const override = overrides.get(key);
        if (override !== undefined) {
            w.addKv(key, override[0], override[1]);
            overrides.delete(key);
        } else {
            const t = vocab.metadataTypes.get(key)!;
            w.addKv(key, t.type, value, t.elementType);
        }
    }
    for (const [key, [type, value]] of overrides) w.addKv(key, type, value);
    w.addString("tokenizer.chat_template", LLAMA3_CHAT_TEMPLATE);
}

/** Number of tokens in the vocab file. */
export function vocabTokenCount(vocab: GgufHeader): number {
    const tokens = vocab.metadata.get("tokenizer.ggml.tokens");
    if (!Array.isArray(tokens)) throw new RewardModelError("ERR_CORRUPT_MODEL", "the vocab file has no tokenizer.ggml.tokens array");
    return tokens.length;
}
