/**
 * A reward head made of chosen rows of a causal language model's LM head
 * (`convert --head-from-lm-head`): which tokens were asked for (texts or
 * ids), their ids in the checkpoint's vocabulary, and the cls.output.weight
 * tensor built from those rows of lm_head.weight (of embed_tokens when the
 * embeddings are tied). The head's logits are then exactly the LM's logits of
 * those tokens, and the 128k-row LM head itself is not written.
 */
import { invalidArgument, RewardModelError } from "../errors.js";
import { GgmlType } from "../gguf/gguf-types.js";
import type { HfLlamaConfig } from "./hf-config.js";
import { dtypeSize, type SafetensorsCheckpoint, type SafetensorsDtype } from "./safetensors.js";
import { decodeToFloat32 } from "./tensor-codec.js";
import type { PlannedTensor } from "./tensor-plan.js";

/** A token asked for: its id, or its text as one vocabulary entry. */
export type TokenRef = string | number;

/**
 * Parses `--head-from-lm-head`'s value: comma-separated entries, each a token
 * id (all digits) or a token's text ("+,-"; "10,12").
 */
export function parseTokenList(spec: string): TokenRef[] {
    const entries = spec.split(",");
    if (spec === "" || entries.some((e) => e === "")) {
        throw invalidArgument(`--head-from-lm-head needs comma-separated tokens or ids, got ${JSON.stringify(spec)}`);
    }
    return entries.map((e) => (/^\d+$/.test(e) ? Number(e) : e));
}

/** GPT-2 byte-level BPE's byte → character map, in which Llama-3 vocabularies store their tokens. */
function byteLevelChars(): string[] {
    const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    const chars: string[] = new Array(256);
    let next = 256;
    for (let b = 0; b < 256; b++) chars[b] = String.fromCodePoint(printable(b) ? b : next++);
    return chars;
}

/** A token's text in the vocabulary's byte-level form (" +" → "Ġ+"). */
function byteLevelForm(text: string): string {
    const chars = byteLevelChars();
    return Array.from(Buffer.from(text, "utf8"), (b) => chars[b]).join("");
}

/**
 * The ids of the tokens asked for, and their labels (each token's text as
 * given, or its vocabulary entry for an id). A text must be one vocabulary
 * entry, as written or in byte-level form; ERR_INVALID_OPTION names any that
 * is not, and any id outside the vocabulary.
 */
export function resolveTokens(refs: readonly TokenRef[], vocabulary: readonly string[]): { ids: number[]; labels: string[] } {
    if (!Array.isArray(refs) || refs.length === 0) throw invalidArgument("headFromLmHead needs at least one token");
    const byText = new Map<string, number>();
    vocabulary.forEach((t, i) => {
        if (!byText.has(t)) byText.set(t, i);
    });
    const ids: number[] = [];
    const labels: string[] = [];
    for (const ref of refs) {
        if (typeof ref === "number") {
            if (!Number.isInteger(ref) || ref < 0 || ref >= vocabulary.length) {
                throw invalidArgument(`headFromLmHead: token id ${ref} is outside the vocabulary of ${vocabulary.length} tokens`);
            }
            ids.push(ref);
            labels.push(vocabulary[ref] as string);
        } else if (typeof ref === "string" && ref.length > 0) {
            const id = byText.get(ref) ?? byText.get(byteLevelForm(ref));
            if (id === undefined) {
                throw invalidArgument(
                    `headFromLmHead: ${JSON.stringify(ref)} is not a token of this vocabulary (it would be several tokens, or none); ` +
                        "give its token id instead",
                );
            }
            ids.push(id);
            labels.push(ref);
        } else {
            throw invalidArgument("headFromLmHead entries must be token texts or token ids");
        }
    }
    const twice = ids.findIndex((id, i) => ids.indexOf(id) !== i);
    if (twice >= 0) {
        throw invalidArgument(`headFromLmHead names token ${ids[twice]} (${JSON.stringify(labels[twice])}) twice: each label is one row`);
    }
    return { ids, labels };
}

/**
 * cls.output.weight (F32, ne = [hidden, n]) from the rows `ids` of the
 * checkpoint's LM head: lm_head.weight, or embed_tokens when the model ties
 * them (tie_word_embeddings, or no lm_head.weight in the checkpoint).
 */
export function lmHeadRowsTensor(config: HfLlamaConfig, checkpoint: SafetensorsCheckpoint, ids: readonly number[]): PlannedTensor {
    const lmHead = checkpoint.tensors.get("lm_head.weight");
    const source = lmHead !== undefined && !config.tieWordEmbeddings ? lmHead : checkpoint.tensors.get("model.embed_tokens.weight");
    if (source === undefined) {
        throw new RewardModelError("ERR_CONVERT_FAILED", "The checkpoint has neither lm_head.weight nor model.embed_tokens.weight");
    }
    if (source.shape.length !== 2 || source.shape[1] !== config.hiddenSize || source.shape[0] !== config.vocabSize) {
        throw new RewardModelError(
            "ERR_CONVERT_FAILED",
            `${source.name} has shape [${source.shape.join(", ")}], expected [${config.vocabSize}, ${config.hiddenSize}]`,
        );
    }
    const dtype = source.dtype as SafetensorsDtype;
    const rowBytes = config.hiddenSize * dtypeSize(source);
    const data = new Float32Array(ids.length * config.hiddenSize);
    const row = new Uint8Array(rowBytes);
    ids.forEach((id, i) => {
        data.set(decodeToFloat32(checkpoint.readRows(source, rowBytes, id, 1, row), dtype), i * config.hiddenSize);
    });
    return { ggufName: "cls.output.weight", shape: [config.hiddenSize, ids.length], type: GgmlType.F32, data };
}
