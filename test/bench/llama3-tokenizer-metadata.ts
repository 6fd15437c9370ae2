/**
 * Copies the Llama-3 tokenizer into a GGUF being written, the way
 * models/generate-tiny-model.ts does: every tokenizer.ggml.* key of the vocab
 * file, with Llama-3 instruct's <|eot_id|> as EOS and BOS added on
 * tokenization, plus Meta's Llama-3 chat template.
 */
import { LLAMA3_CHAT_TEMPLATE } from "../../models/generate-tiny-model.js";
import { GgufValueType, type GgufHeader } from "../../src/gguf/gguf-types.js";
import type { GgufWriter } from "../../src/gguf/gguf-writer.js";

const BOS_ID = 128000; // <|begin_of_text|>
const EOT_ID = 128009; // <|eot_id|>

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
    if (!Array.isArray(tokens)) throw new Error("the vocab file has no tokenizer.ggml.tokens array");
    return tokens.length;
}
