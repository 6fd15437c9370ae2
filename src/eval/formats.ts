/**
 * Preference data for evaluation: parses RewardBench rows, message pairs and
 * Anthropic hh-rlhf transcripts into chosen/rejected conversations, from
 * `.jsonl` or gzip-compressed `.jsonl.gz` files read as a stream. The format
 * is detected from a file's first row (or forced) and every row must fit it;
 * a row that does not is rejected with ERR_INVALID_DATA naming the line and
 * the field.
 */
import type { ChatMessage } from "../model/chat-template.js";
import { parseJsonlRows, withJsonlLines } from "./jsonl.js";
import { type RewardModelError, invalidArgument } from "../errors.js";

/**
 * - `rewardbench`: `{prompt: str, chosen: str, rejected: str, subset?, id?}`
 * - `messages`: `{chosen: [messages], rejected: [messages]}` (a string `prompt`
 *   beside them is ignored), or `{prompt: [messages], chosen: str | [messages],
 *   rejected: str | [messages]}` (the prompt, then the answer)
 * - `hh-rlhf`: `{chosen: "\n\nHuman: ...\n\nAssistant: ...", rejected: "..."}`
 */
export type DataFormat = "rewardbench" | "messages" | "hh-rlhf";

export const dataFormats: readonly DataFormat[] = ["rewardbench", "messages", "hh-rlhf"];

/** One preference pair: the chosen conversation should get the higher reward. */
export interface PreferencePair {
    chosen: ChatMessage[];
    rejected: ChatMessage[];
    /** RewardBench subset (or any grouping the data carries). */
    subset?: string;
    /** The row's `id`, as given. */
    id?: string | number;
    /** 1-based line in the source file, when read from one. */
    line?: number;
}

export interface ReadPairsOptions {
    /** Skip detection and require this format. */
    format?: DataFormat;
    /** Read at most this many pairs. */
    limit?: number;
}

export interface PairsFile {
    format: DataFormat;
    pairs: PreferencePair[];
}

/** A row or field of the data file that does not fit its format; `where` names the file and line. */
function invalidData(where: string, message: string): RewardModelError {
    return invalidArgument(`${where}: ${message}`, "ERR_INVALID_DATA");
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The format a row looks like, or undefined when it fits none. */
export function detectFormat(row: unknown): DataFormat | undefined {
    if (!isRecord(row)) return undefined;
    const { prompt, chosen } = row;
    if (Array.isArray(chosen) || Array.isArray(prompt)) return "messages";
    if (typeof chosen !== "string") return undefined;
    if (typeof prompt === "string") return "rewardbench";
    return prompt === undefined && isTranscript(chosen) ? "hh-rlhf" : undefined;
}

function isTranscript(text: string): boolean {
    return text.startsWith("Human: ") || text.includes("\n\nHuman: ");
}

/** Checks `value` is a non-empty array of {role, content} strings. */
function messagesField(value: unknown, where: string, field: string): ChatMessage[] {
    if (!Array.isArray(value)) throw invalidData(where, `"${field}" must be an array of {role, content} messages`);
    if (value.length === 0) throw invalidData(where, `"${field}" is an empty array of messages`);
    return value.map((m: unknown, i) => {
        if (!isRecord(m)) throw invalidData(where, `"${field}[${i}]" must be an object {role, content}`);
        if (typeof m.role !== "string" || m.role === "") throw invalidData(where, `"${field}[${i}].role" must be a non-empty string`);
        if (typeof m.content !== "string") throw invalidData(where, `"${field}[${i}].content" must be a string`);
        return { role: m.role, content: m.content };
    });
}

function stringField(row: Record<string, unknown>, field: string, where: string): string {
    const value = row[field];
    if (value === undefined) throw invalidData(where, `missing "${field}"`);
    if (typeof value !== "string") throw invalidData(where, `"${field}" must be a string, got ${describe(value)}`);
    return value;
}

function describe(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "an array";
    return typeof value === "object" ? "an object" : typeof value;
}

const marker = /\n\n(Human|Assistant):(?: |$)/g;

/**
 * Splits an hh-rlhf transcript on "\n\nHuman: " and "\n\nAssistant: " into
 * user and assistant messages with trimmed content. The last turn must be the
 * assistant's (the answer being judged).
 */
export function parseTranscript(text: string, where = "transcript", field = "chosen"): ChatMessage[] {
    const source = text.startsWith("Human: ") ? `\n\n${text}` : text;
    const messages: ChatMessage[] = [];
    let last: { role: string; start: number } | undefined;
    let head = "";
    for (const m of source.matchAll(marker)) {
        if (last) messages.push({ role: last.role, content: source.slice(last.start, m.index).trim() });
        else head = source.slice(0, m.index);
        last = { role: m[1] === "Human" ? "user" : "assistant", start: m.index + m[0].length };
    }
    if (!last) throw invalidData(where, `"${field}" is not an hh-rlhf transcript (no "\\n\\nHuman: " or "\\n\\nAssistant: " turns)`);
    if (head.trim() !== "") throw invalidData(where, `"${field}" has text before its first "Human:" turn`);
    messages.push({ role: last.role, content: source.slice(last.start).trim() });
    if (messages[messages.length - 1]!.role !== "assistant") {
        throw invalidData(where, `"${field}" does not end with an "Assistant:" turn`);
    }
    return messages;
}

/** The answer of a `messages`-format row with a prompt: a string, or the messages that follow the prompt. */
function answer(prompt: ChatMessage[], value: unknown, where: string, field: string): ChatMessage[] {
    if (typeof value === "string") return [...prompt, { role: "assistant", content: value }];
    if (value === undefined) throw invalidData(where, `missing "${field}"`);
    return [...prompt, ...messagesField(value, where, field)];
}

/** Parses one row (already JSON-decoded) of the given format. `where` names it in errors, e.g. "line 12". */
export function parseRow(row: unknown, format: DataFormat, where = "row"): PreferencePair {
    if (!isRecord(row)) throw invalidData(where, `expected a JSON object, got ${describe(row)}`);
    let chosen: ChatMessage[];
    let rejected: ChatMessage[];
    switch (format) {
        case "rewardbench": {
            const prompt = stringField(row, "prompt", where);
            const user: ChatMessage = { role: "user", content: prompt };
            chosen = [user, { role: "assistant", content: stringField(row, "chosen", where) }];
            rejected = [user, { role: "assistant", content: stringField(row, "rejected", where) }];
            break;
        }
        case "messages": {
            // A string prompt beside full conversations (UltraFeedback-style) repeats their first turn.
            if (row.prompt === undefined || (typeof row.prompt === "string" && Array.isArray(row.chosen))) {
                chosen = messagesField(row.chosen, where, "chosen");
                rejected = messagesField(row.rejected, where, "rejected");
            } else {
                const prompt = messagesField(row.prompt, where, "prompt");
                chosen = answer(prompt, row.chosen, where, "chosen");
                rejected = answer(prompt, row.rejected, where, "rejected");
            }
            break;
        }
        case "hh-rlhf": {
            chosen = parseTranscript(stringField(row, "chosen", where), where, "chosen");
            rejected = parseTranscript(stringField(row, "rejected", where), where, "rejected");
            break;
        }
        default:
            throw invalidArgument(`unknown data format ${JSON.stringify(format)}; use one of ${dataFormats.join(", ")}`);
    }
    const pair: PreferencePair = { chosen, rejected };
    if (row.subset !== undefined && row.subset !== null) {
        if (typeof row.subset !== "string") throw invalidData(where, `"subset" must be a string, got ${describe(row.subset)}`);
        pair.subset = row.subset;
    }
    if (row.id !== undefined && row.id !== null) {
        if (typeof row.id !== "string" && typeof row.id !== "number") {
            throw invalidData(where, `"id" must be a string or a number, got ${describe(row.id)}`);
        }
        pair.id = row.id;
    }
    return pair;
}

/** Checks a format name (from a flag or an option). */
export function checkFormat(format: unknown): DataFormat {
    if (typeof format !== "string" || !dataFormats.includes(format as DataFormat)) {
        throw invalidArgument(`unknown data format ${JSON.stringify(format)}; use one of ${dataFormats.join(", ")}`);
    }
    return format as DataFormat;
}

/**
 * Parses JSONL lines into pairs. The format comes from `options.format` or
 * the first non-empty line; blank lines are skipped.
 */
export async function parsePairLines(
    lines: AsyncIterable<string> | Iterable<string>,
    options: ReadPairsOptions = {},
    source = "data",
): Promise<PairsFile> {
    let format = options.format === undefined ? undefined : checkFormat(options.format);
    const pairs = await parseJsonlRows(lines, source, "preference pairs", options.limit, (row, where, line) => {
        format ??= detectFormat(row);
        if (format === undefined) {
            throw invalidData(
                where,
                "the row fits no known format: expected RewardBench {prompt, chosen, rejected} strings, " +
                    "message pairs {chosen: [messages], rejected: [messages]} (optionally with prompt: [messages]), " +
                    "or hh-rlhf {chosen, rejected} transcripts",
            );
        }
        return { ...parseRow(row, format, where), line };
    });
    return { format: format!, pairs };
}

/**
 * Reads a `.jsonl` file of preference pairs, streamed; gzip files (`.jsonl.gz`,
 * recognised by their magic bytes) are decompressed on the fly.
 */
export function readPairs(file: string, options: ReadPairsOptions = {}): Promise<PairsFile> {
    return withJsonlLines(file, (lines) => parsePairLines(lines, options, file));
}
