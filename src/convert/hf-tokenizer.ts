/**
 * Maps a Hugging Face fast tokenizer (`tokenizer.json`, `tokenizer_config.json`,
 * `config.json` token ids) to the `tokenizer.*` GGUF metadata that llama.cpp's
 * converter writes for a Llama-3 byte-level BPE vocabulary: model "gpt2",
 * pre-tokenizer "llama-bpe", the token list with token types, the merges,
 * special token ids, add_bos/add_eos flags and the chat template. Added
 * tokens beyond the base vocabulary (such as a [PAD] at 128256) keep their ids.
 */

import * as fs from "node:fs";
import * as path from "node:path";

import { RewardModelError } from "../errors.js";
import type { GgufWriter } from "../gguf/gguf-writer.js";
import { readJsonFile } from "./hf-config.js";

/** llama.cpp token types (enum llama_token_type). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** The pre-tokenizer split pattern of Meta's Llama-3 tokenizer.json, which llama.cpp calls "llama-bpe". */
export const LLAMA3_PRETOKENIZER_PATTERN =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Special token kinds with their GGUF id keys, in the order llama.cpp's converter looks them up. */
const SPECIAL_ID_KEYS: Readonly<Record<string, string>> = {
    bos: "tokenizer.ggml.bos_token_id",
    eos: "tokenizer.ggml.eos_token_id",
    unk: "tokenizer.ggml.unknown_token_id",
    sep: "tokenizer.ggml.seperator_token_id", // sic: llama.cpp's key
    pad: "tokenizer.ggml.padding_token_id",
    mask: "tokenizer.ggml.mask_token_id",
    eot: "tokenizer.ggml.eot_token_id",
    eom: "tokenizer.ggml.eom_token_id",
};
/** Kinds looked up in tokenizer_config.json and config.json ("cls" has no GGUF key and is dropped). */
const LOOKUP_KINDS = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"];

export interface ChatTemplateChoice {
    readonly name: string;
    readonly template: string;
}

export interface GgufTokenizer {
    readonly model: "gpt2";
    readonly pre: "llama-bpe";
    readonly tokens: string[];
    readonly tokenTypes: number[];
    readonly merges: string[];
    /** Special token ids by kind (bos, eos, pad, ...). */
    readonly specialIds: Map<string, number>;
    /** add_bos / add_eos / add_sep flags that were stated. */
    readonly addSpecial: Map<string, boolean>;
    readonly addSpacePrefix: boolean | undefined;
    readonly chatTemplate: string | ChatTemplateChoice[] | undefined;
}

interface AddedToken {
    id: number;
    content: string;
    special: boolean;
}

function failed(message: string): RewardModelError {
    return new RewardModelError("ERR_CONVERT_FAILED", message);
}

/** Added tokens that look like control tokens even when not flagged special (as llama.cpp judges them). */
function looksSpecial(token: string): boolean {
    return (
        ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(token) ||
        (token.startsWith("<|") && token.endsWith("|>")) ||
        (token.startsWith("<｜") && token.endsWith("｜>")) ||
        (token.startsWith("<unused") && token.endsWith(">"))
    );
}

/** The content a tokenizer_config.json entry such as "bos_token" names. */
function contentOf(entry: unknown): string | undefined {
    if (typeof entry === "string") return entry;
    if (entry !== null && typeof entry === "object" && typeof (entry as { content?: unknown }).content === "string") {
        return (entry as { content: string }).content;
    }
    return undefined;
}

function isLlama3PreTokenizer(pre: unknown): boolean {
    const list =
        (pre as { type?: unknown; pretokenizers?: unknown } | null)?.type === "Sequence"
            ? (pre as { pretokenizers: unknown }).pretokenizers
            : [pre];
    if (!Array.isArray(list)) return false;
    const split = list.find((p) => (p as { type?: unknown } | null)?.type === "Split") as { pattern?: { Regex?: unknown } } | undefined;
    const byteLevel = list.some((p) => (p as { type?: unknown } | null)?.type === "ByteLevel");
    return byteLevel && split?.pattern?.Regex === LLAMA3_PRETOKENIZER_PATTERN;
}

/**
 * Reads the tokenizer files of checkpoint `dir`. `vocabSize` is config.json's
 * vocab_size (the embedding rows); `configTokenIds` its *_token_id entries.
 */
export function readHfTokenizer(dir: string, vocabSize: number, configTokenIds: Readonly<Record<string, number>>): GgufTokenizer {
    const tokenizerFile = path.join(dir, "tokenizer.json");
    if (!fs.existsSync(tokenizerFile)) {
        throw failed(`Missing tokenizer.json in ${dir} (only fast tokenizers are supported)`);
    }
    const tokenizer = readJsonFile(tokenizerFile);
    const configFile = path.join(dir, "tokenizer_config.json");
    const config: Record<string, unknown> | undefined = fs.existsSync(configFile) ? readJsonFile(configFile) : undefined;

    const model = tokenizer.model as { type?: unknown; vocab?: unknown; merges?: unknown } | undefined;
    if (model?.type !== "BPE" || model.vocab === null || typeof model.vocab !== "object") {
        throw failed(
            `${tokenizerFile}: tokenizer model ${JSON.stringify(model?.type ?? null)} is not a byte-level BPE; ` +
                "llama-reward converts Llama-3 tokenizers",
        );
    }
    if (!isLlama3PreTokenizer(tokenizer.pre_tokenizer)) {
        throw failed(`${tokenizerFile}: the pre-tokenizer is not Llama-3's ("llama-bpe"); llama-reward converts Llama-3 tokenizers only`);
    }

    // ---- tokens and types ------------------------------------------------
    const byId = new Map<number, string>();
    for (const [token, id] of Object.entries(model.vocab as Record<string, unknown>)) {
        if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0)
            throw failed(`${tokenizerFile}: vocab entry ${JSON.stringify(token)} has a bad id`);
        byId.set(id, token);
    }
    const added: AddedToken[] = [];
    const rawAdded = tokenizer.added_tokens ?? [];
    if (!Array.isArray(rawAdded)) throw failed(`${tokenizerFile}: added_tokens must be an array`);
    for (const a of rawAdded as { id?: unknown; content?: unknown; special?: unknown }[]) {
        if (typeof a?.id !== "number" || !Number.isSafeInteger(a.id) || a.id < 0 || typeof a.content !== "string") {
            throw failed(`${tokenizerFile}: malformed added token ${JSON.stringify(a)}`);
        }
        added.push({ id: a.id, content: a.content, special: a.special === true });
    }
    const addedById = new Map(added.map((a) => [a.id, a]));
    let maxId = -1;
    for (const id of byId.keys()) maxId = Math.max(maxId, id);
    for (const a of added) maxId = Math.max(maxId, a.id);
    if (maxId >= vocabSize) {
        throw failed(
            `The tokenizer has token id ${maxId}, but config.json's vocab_size is ${vocabSize} ` +
                "(the embedding matrix has no row for it)",
        );
    }

    const tokens: string[] = new Array(vocabSize);
    const tokenTypes: number[] = new Array(vocabSize);
    for (let i = 0; i < vocabSize; i++) {
        const a = addedById.get(i);
        // llama.cpp's converter re-encodes non-normalized added tokens through the HF
        // tokenizer to pre-normalize them; with Llama-3's byte-level BPE (no normalizer)
        // that round trip returns the content unchanged, so the content is used as is.
        if (a !== undefined) {
            if (a.special || looksSpecial(a.content)) {
                tokens[i] = a.content;
                tokenTypes[i] = TokenType.CONTROL;
            } else {
                tokens[i] = a.content.replaceAll("\u2581", " "); // pre-normalised user-defined spaces
                tokenTypes[i] = TokenType.USER_DEFINED;
            }
        } else if (byId.has(i)) {
            tokens[i] = byId.get(i)!;
            tokenTypes[i] = TokenType.NORMAL;
        } else {
            tokens[i] = `[PAD${i}]`;
            tokenTypes[i] = TokenType.UNUSED;
        }
    }

    // ---- merges ------------------------------------------------------------
    const rawMerges = model.merges;
    if (!Array.isArray(rawMerges) || rawMerges.length === 0) throw failed(`${tokenizerFile}: the BPE model has no merges`);
    let merges: string[];
    if (typeof rawMerges[0] === "string") {
        const bad = rawMerges.find((m) => typeof m !== "string");
        if (bad !== undefined) throw failed(`${tokenizerFile}: malformed merge ${JSON.stringify(bad)}`);
        merges = rawMerges as string[];
    } else if (Array.isArray(rawMerges[0])) {
        // The pair format (transformers >= 4.45) allows spaces inside parts; they are
        // written shifted by 256 code points, as llama.cpp does, to keep "a b" unambiguous.
        const shift = (s: string): string => s.replaceAll(" ", "\u0120");
        merges = (rawMerges as unknown[]).map((pair) => {
            if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
                throw failed(`${tokenizerFile}: malformed merge ${JSON.stringify(pair)}`);
            }
            return `${shift(pair[0])} ${shift(pair[1])}`;
        });
    } else {
        throw failed(`${tokenizerFile}: unknown merges format`);
    }

    // ---- special tokens, add_* flags, chat template -------------------------
    const specialIds = new Map<string, number>();
    const addSpecial = new Map<string, boolean>();
    // An id outside the vocabulary is ignored, as llama.cpp's converter ignores it (gguf-py's SpecialVocab):
    // configs name a pad_token_id 128256 that only some checkpoints' tokenizers add.
    const setId = (kind: string, id: number | undefined): void => {
        if (id !== undefined && id < tokens.length && !specialIds.has(kind)) specialIds.set(kind, id);
    };
    const cfg = config ?? {};
    let bosContent = contentOf(cfg.bos_token);
    let eosContent = contentOf(cfg.eos_token);
    let clsContent = contentOf(cfg.cls_token);

    // A TemplateProcessing post-processor says whether BOS/EOS are added.
    const post = tokenizer.post_processor as { type?: unknown; processors?: unknown } | null | undefined;
    const processors = post ? (Array.isArray(post.processors) ? post.processors : [post]) : [];
    const extraContent = new Map<string, string>();
    for (const p of processors as { type?: unknown; single?: unknown }[]) {
        if (p?.type === "RobertaProcessing") {
            addSpecial.set("bos", true).set("eos", true).set("sep", true);
        } else if (p?.type === "TemplateProcessing" && Array.isArray(p.single) && p.single.length > 1) {
            const single = p.single as { SpecialToken?: { id?: unknown } }[];
            const first = single[0]?.SpecialToken?.id;
            if (typeof first === "string") {
                if (config === undefined) {
                    bosContent = first;
                } else if (first !== bosContent && first !== clsContent) {
                    bosContent ??= first;
                    clsContent ??= first;
                }
                addSpecial.set("bos", first === bosContent || first === clsContent);
            }
            const last = single[single.length - 1]?.SpecialToken?.id;
            if (typeof last === "string") {
                if (config === undefined) eosContent = last;
                else if (last !== eosContent) {
                    if (eosContent !== undefined) extraContent.set("eot", eosContent);
                    eosContent = last;
                }
                addSpecial.set("eos", last === eosContent);
            }
        }
    }

    const idOfContent = (content: string | undefined): number | undefined =>
        content === undefined ? undefined : added.find((a) => a.content === content)?.id;
    if (config !== undefined) {
        for (const kind of LOOKUP_KINDS) {
            const flag = cfg[`add_${kind}_token`];
            if (typeof flag === "boolean") addSpecial.set(kind, flag);
            const content = kind === "bos" ? bosContent : kind === "eos" ? eosContent : contentOf(cfg[`${kind}_token`]);
            setId(kind, idOfContent(content));
        }
        for (const [kind, content] of extraContent) setId(kind, idOfContent(content));
    }
    for (const kind of LOOKUP_KINDS) setId(kind, configTokenIds[kind]);
    specialIds.delete("cls"); // llama.cpp's converter has no key for it
    addSpecial.delete("cls");
    addSpecial.delete("unk");
    addSpecial.delete("pad");
    addSpecial.delete("mask");

    const addSpacePrefix = typeof cfg.add_prefix_space === "boolean" ? cfg.add_prefix_space : undefined;
    return {
        model: "gpt2",
        pre: "llama-bpe",
        tokens,
        tokenTypes,
        merges,
        specialIds,
        addSpecial,
        addSpacePrefix,
        chatTemplate: config === undefined ? undefined : readChatTemplate(dir, cfg),
    };
}

function readChatTemplate(dir: string, config: Record<string, unknown>): string | ChatTemplateChoice[] | undefined {
    let template: unknown = config.chat_template;
    if (template === undefined) {
        const jinja = path.join(dir, "chat_template.jinja");
        const json = path.join(dir, "chat_template.json");
        if (fs.existsSync(jinja)) template = fs.readFileSync(jinja, "utf8");
        else if (fs.existsSync(json)) template = readJsonFile(json).chat_template;
    }
    if (template === undefined || template === null) return undefined;
    if (typeof template === "string") return template;
    if (Array.isArray(template)) {
        return template.flatMap((c: { name?: unknown; template?: unknown }) =>
            typeof c?.name === "string" && typeof c.template === "string" ? [{ name: c.name, template: c.template }] : [],
        );
    }
    throw failed(`${path.join(dir, "tokenizer_config.json")}: chat_template must be a string or a list of {name, template}`);
}

/** Writes the tokenizer metadata, with llama.cpp's keys and value types. */
export function addTokenizerMetadata(writer: GgufWriter, t: GgufTokenizer): void {
    writer.addString("tokenizer.ggml.model", t.model);
    writer.addString("tokenizer.ggml.pre", t.pre);
    writer.addStringArray("tokenizer.ggml.tokens", t.tokens);
    writer.addI32Array("tokenizer.ggml.token_type", t.tokenTypes);
    writer.addStringArray("tokenizer.ggml.merges", t.merges);
    for (const [kind, id] of t.specialIds) {
        const key = SPECIAL_ID_KEYS[kind];
        if (key !== undefined) writer.addU32(key, id);
    }
    for (const [kind, value] of t.addSpecial) writer.addBool(`tokenizer.ggml.add_${kind}_token`, value);
    if (t.addSpacePrefix !== undefined) writer.addBool("tokenizer.ggml.add_space_prefix", t.addSpacePrefix);
    if (typeof t.chatTemplate === "string") {
        writer.addString("tokenizer.chat_template", t.chatTemplate);
    } else if (t.chatTemplate !== undefined) {
        const names: string[] = [];
        let fallback: string | undefined;
        for (const choice of t.chatTemplate) {
            const name = choice.name.replace(/[^A-Za-z0-9]/g, "_");
            if (name === "default") fallback = choice.template;
            else if (name !== "" && !names.includes(name)) {
                names.push(name);
                writer.addString(`tokenizer.chat_template.${name}`, choice.template);
            }
        }
        if (names.length > 0) writer.addStringArray("tokenizer.chat_templates", names);
        if (fallback !== undefined) writer.addString("tokenizer.chat_template", fallback);
    }
}
