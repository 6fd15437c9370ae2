/**
 * Best-of-N evaluation data: RewardBench 2 rows (`prompt`, `chosen` and
 * `rejected` lists of completions, `num_correct`, `total_completions`,
 * `subset`, `id`) and the generic `{prompt, responses, best}` form, parsed
 * into prompts with their completions ordered correct first. A row that does
 * not fit is rejected with ERR_INVALID_DATA naming the line and the field; a
 * subset name RewardBench 2 does not have is a warning, not an error.
 */
import { type RewardModelError, invalidArgument } from "../errors.js";
import type { ChatMessage } from "../model/chat-template.js";
import { parseJsonlRows, withJsonlLines } from "./jsonl.js";
import { isTiesSubset, parseTiesId, rewardBench2Subsets } from "./rewardbench2.js";

/**
 * - `rewardbench2`: `{prompt, chosen: [str], rejected: [str], num_correct?, total_completions?, subset?, id?}`
 * - `best-of-n`: `{prompt, responses: [str], best: index, subset?, id?}`
 *
 * `prompt` is a string (one user turn) or a list of {role, content} messages.
 */
export type BestOfNFormat = "rewardbench2" | "best-of-n";

export const bestOfNFormats: readonly BestOfNFormat[] = ["rewardbench2", "best-of-n"];

/** One prompt and its completions; `responses[0..numCorrect)` are the correct (chosen) ones. */
export interface BestOfNItem {
    prompt: ChatMessage[];
    responses: string[];
    numCorrect: number;
    subset?: string;
    id?: string | number;
    /** 1-based line in the source file, when read from one. */
    line?: number;
    /** `best-of-n` rows: the input index of each response (the best is moved first). */
    sourceIndex?: number[];
}

export interface BestOfNFile {
    format: BestOfNFormat;
    items: BestOfNItem[];
    /** Rows that were accepted with a remark (an unknown RewardBench 2 subset). */
    warnings: string[];
}

function invalid(where: string, message: string): RewardModelError {
    return invalidArgument(`${where}: ${message}`, "ERR_INVALID_DATA");
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The best-of-N format a row looks like, or undefined (a preference pair, or nothing known). */
export function detectBestOfNFormat(row: unknown): BestOfNFormat | undefined {
    if (!isRecord(row)) return undefined;
    if (Array.isArray(row.responses)) return "best-of-n";
    const { chosen, rejected } = row;
    const completions = (v: unknown) => Array.isArray(v) && (v.length === 0 || typeof v[0] === "string");
    return completions(chosen) && completions(rejected) ? "rewardbench2" : undefined;
}

function promptField(value: unknown, where: string): ChatMessage[] {
    if (typeof value === "string") return [{ role: "user", content: value }];
    if (!Array.isArray(value) || value.length === 0) {
        throw invalid(where, `"prompt" must be a string or a non-empty array of {role, content} messages`);
    }
    return value.map((m: unknown, i) => {
        if (!isRecord(m) || typeof m.role !== "string" || m.role === "" || typeof m.content !== "string") {
            throw invalid(where, `"prompt[${i}]" must be a message {role: string, content: string}`);
        }
        return { role: m.role, content: m.content };
    });
}

function completionsField(row: Record<string, unknown>, field: string, where: string): string[] {
    const value = row[field];
    if (!Array.isArray(value)) throw invalid(where, `"${field}" must be an array of completion strings`);
    if (value.length === 0) throw invalid(where, `"${field}" has no completions`);
    value.forEach((v, i) => {
        if (typeof v !== "string") throw invalid(where, `"${field}[${i}]" must be a string`);
    });
    return value as string[];
}

function countField(row: Record<string, unknown>, field: string, where: string, expected: number): void {
    const value = row[field];
    if (value === undefined || value === null) return;
    if (typeof value !== "number" || !Number.isInteger(value)) throw invalid(where, `"${field}" must be an integer`);
    if (value !== expected) throw invalid(where, `"${field}" is ${value} but the row has ${expected}`);
}

/** Parses one row (already JSON-decoded). `warn` receives remarks that do not reject the row. */
export function parseBestOfNRow(
    row: unknown,
    format: BestOfNFormat,
    where = "row",
    warn: (remark: string) => void = () => {},
): BestOfNItem {
    if (!isRecord(row)) throw invalid(where, "expected a JSON object");
    const prompt = promptField(row.prompt, where);
    let item: BestOfNItem;
    if (format === "rewardbench2") {
        const chosen = completionsField(row, "chosen", where);
        const rejected = completionsField(row, "rejected", where);
        countField(row, "num_correct", where, chosen.length);
        countField(row, "total_completions", where, chosen.length + rejected.length);
        item = { prompt, responses: [...chosen, ...rejected], numCorrect: chosen.length };
    } else if (format === "best-of-n") {
        const responses = completionsField(row, "responses", where);
        if (responses.length < 2) throw invalid(where, `"responses" needs at least two completions`);
        const best = row.best;
        if (typeof best !== "number" || !Number.isInteger(best) || best < 0 || best >= responses.length) {
            throw invalid(where, `"best" must be the index of a response (0..${responses.length - 1})`);
        }
        const order = [best, ...responses.keys()].filter((i, k) => k === 0 || i !== best);
        item = { prompt, responses: order.map((i) => responses[i]!), numCorrect: 1, sourceIndex: order };
    } else {
        throw invalidArgument(`unknown best-of-N format ${JSON.stringify(format)}; use one of ${bestOfNFormats.join(", ")}`);
    }
    if (row.subset !== undefined && row.subset !== null) {
        if (typeof row.subset !== "string") throw invalid(where, `"subset" must be a string`);
        item.subset = row.subset;
        if (format === "rewardbench2" && !rewardBench2Subsets.includes(row.subset)) {
            warn(`${where}: subset ${JSON.stringify(row.subset)} is not one of RewardBench 2's (${rewardBench2Subsets.join(", ")})`);
        }
    }
    if (row.id !== undefined && row.id !== null) {
        if (typeof row.id !== "string" && typeof row.id !== "number") throw invalid(where, `"id" must be a string or a number`);
        item.id = row.id;
    }
    if (isTiesSubset(item.subset) && (typeof item.id !== "string" || parseTiesId(item.id) === undefined)) {
        throw invalid(where, `"id" of a Ties row must be "ref:N" or "tied:N", got ${JSON.stringify(item.id ?? null)}`);
    }
    if (isTiesSubset(item.subset) && item.numCorrect >= item.responses.length) {
        throw invalid(where, "a Ties row needs at least one incorrect completion");
    }
    return item;
}

/** Parses JSONL lines of best-of-N rows; the format is forced or taken from the first row. */
export async function parseBestOfNLines(
    lines: AsyncIterable<string> | Iterable<string>,
    options: { format?: BestOfNFormat; limit?: number } = {},
    source = "data",
): Promise<BestOfNFile> {
    let format = options.format;
    if (format !== undefined && !bestOfNFormats.includes(format)) {
        throw invalidArgument(`unknown best-of-N format ${JSON.stringify(format)}; use one of ${bestOfNFormats.join(", ")}`);
    }
    const warnings: string[] = [];
    const items = await parseJsonlRows(lines, source, "best-of-N rows", options.limit, (row, where, line) => {
        format ??= detectBestOfNFormat(row);
        if (format === undefined) {
            throw invalid(
                where,
                "the row is not a best-of-N row: expected {prompt, chosen: [..], rejected: [..]} or {prompt, responses, best}",
            );
        }
        return { ...parseBestOfNRow(row, format, where, (w) => warnings.push(w)), line };
    });
    return { format: format!, items, warnings };
}

/** Reads a `.jsonl` (or gzip-compressed) file of best-of-N rows, streamed. */
export function readBestOfN(file: string, options: { format?: BestOfNFormat; limit?: number } = {}): Promise<BestOfNFile> {
    return withJsonlLines(file, (lines) => parseBestOfNLines(lines, options, file));
}
