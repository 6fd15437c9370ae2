/**
 * Reading evaluation data files: the lines of a `.jsonl` file, or of a
 * gzip-compressed one (recognised by its magic bytes, whatever its name),
 * streamed, with every failure to open or read it an ERR_INVALID_DATA
 * naming the file; and the rows of such lines, parsed as JSON, each named
 * by its line in errors.
 */
import fs from "node:fs";
import readline from "node:readline";
import type { Readable } from "node:stream";
import zlib from "node:zlib";
import { RewardModelError, invalidArgument } from "../errors.js";

function isGzip(file: string): boolean {
    const fd = fs.openSync(file, "r");
    try {
        const head = Buffer.alloc(2);
        return fs.readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
    } finally {
        fs.closeSync(fd);
    }
}

/**
 * Runs `consume` over the lines of `file` and closes the stream afterwards,
 * whether it finished, stopped early or threw. A RewardModelError from
 * `consume` passes through; any other failure (unreadable file, broken
 * gzip stream) becomes ERR_INVALID_DATA naming the file.
 */
export async function withJsonlLines<T>(file: string, consume: (lines: AsyncIterable<string>) => Promise<T>): Promise<T> {
    let stat: fs.Stats;
    try {
        stat = fs.statSync(file);
    } catch (cause) {
        throw new RewardModelError("ERR_INVALID_DATA", `cannot read ${file}: ${(cause as Error).message}`, { cause });
    }
    if (!stat.isFile()) throw invalidArgument(`${file} is not a file`, "ERR_INVALID_DATA");
    const raw = fs.createReadStream(file);
    let input: Readable = raw;
    if (isGzip(file)) {
        const gunzip = zlib.createGunzip();
        raw.on("error", (e) => gunzip.destroy(e));
        input = raw.pipe(gunzip);
    }
    const lines = readline.createInterface({ input, crlfDelay: Infinity });
    try {
        return await consume(lines);
    } catch (error) {
        if (error instanceof RewardModelError) throw error;
        throw new RewardModelError("ERR_INVALID_DATA", `cannot read ${file}: ${(error as Error).message}`, { cause: error });
    } finally {
        lines.close();
        input.destroy();
    }
}

/** The first non-empty line of `file` parsed as JSON; undefined when there is none or it is not JSON (the reader reports that). */
export function firstJsonRow(file: string): Promise<unknown> {
    return withJsonlLines(file, async (lines) => {
        for await (const line of lines) {
            if (line.trim() === "") continue;
            try {
                return JSON.parse(line) as unknown;
            } catch {
                return undefined;
            }
        }
        return undefined;
    });
}

/**
 * Parses JSONL `lines` into values: `parse` gets each non-blank line's JSON
 * value, a `where` ("SOURCE line N") for its errors and the 1-based line
 * number. Stops after `limit` values; a line that is not JSON is
 * ERR_INVALID_DATA naming it; no value at all is ERR_INVALID_DATA saying the
 * source holds no `what`.
 */
export async function parseJsonlRows<T>(
    lines: AsyncIterable<string> | Iterable<string>,
    source: string,
    what: string,
    limit: number | undefined,
    parse: (row: unknown, where: string, line: number) => T,
): Promise<T[]> {
    const max = limit ?? Infinity;
    if (max !== Infinity && (!Number.isInteger(max) || max < 1))
        throw invalidArgument(`limit must be a positive integer, got ${String(limit)}`);
    const out: T[] = [];
    let lineNumber = 0;
    for await (const text of lines) {
        lineNumber++;
        if (text.trim() === "") continue;
        const where = `${source} line ${lineNumber}`;
        let row: unknown;
        try {
            row = JSON.parse(text);
        } catch (cause) {
            throw new RewardModelError("ERR_INVALID_DATA", `${where}: not valid JSON (${(cause as Error).message})`, { cause });
        }
        out.push(parse(row, where, lineNumber));
        if (out.length >= max) break;
    }
    if (out.length === 0) throw invalidArgument(`${source} holds no ${what}`, "ERR_INVALID_DATA");
    return out;
}
