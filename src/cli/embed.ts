/**
 * `llama-reward embed`: the final-norm hidden state of each conversation's
 * last token (RewardModel.hiddenStates), from JSONL conversations, written as
 * JSONL (one {"hidden": [...]} per input line, errors per line, as score
 * does) or as a NumPy .npy float32 matrix [conversations, n_embd] (4 bytes a
 * value instead of about 20 characters, read by numpy.load as it is; every
 * line must then be valid, since a matrix has no room for a failed row).
 */
import fs from "node:fs";
import readline from "node:readline";
import { parseArgs } from "node:util";
import { RewardModelError, fromNativeError, invalidArgument } from "../errors.js";
import type { ChatMessage } from "../model/chat-template.js";
import { RewardModel } from "../model/reward-model.js";
import { conversationIoFlags, parseConversationLine } from "./conversation-lines.js";
import { choiceFlag, integerFlag } from "./flag-values.js";
import { loadFlags, loadOptionsFrom } from "./load-flags.js";
import { ProgressBar } from "./progress-bar.js";

export const embedUsage = `embed options (hidden states: the vector a reward head multiplies; works on models without a head):
  -m, --model PATH          a llama GGUF, chat or reward model (required)
  -i, --input PATH|-        JSONL input, one {"messages": [...]} or bare [...] per line (default: -, stdin)
  -o, --output PATH|-       output (default: -, stdout; --format npy needs a file)
      --format jsonl|npy    jsonl: one {"hidden": [...]} per line, errors as {"error", "code"} lines;
                            npy: a float32 matrix [lines, n_embd] for numpy.load (default: jsonl)
      --chunk N             lines embedded per batch (default: 256)
  and the load options (--bos ... --template-var, listed under "load options")
`;

/** The .npy header (format 1.0) of a little-endian float32 C-order matrix, padded to `length` bytes. */
function npyHeader(rows: number, columns: number, length = 128): Buffer {
    const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${columns}), }`;
    const prefix = 10; // magic (6) + version (2) + header length (2)
    const padded = `${dict}${" ".repeat(Math.max(0, length - prefix - dict.length - 1))}\n`;
    if (prefix + padded.length !== length) throw new RewardModelError("ERR_INTERNAL", "npy header does not fit its reserved length");
    const out = Buffer.alloc(length);
    out.write("\x93NUMPY", 0, "latin1");
    out[6] = 1;
    out[7] = 0;
    out.writeUInt16LE(padded.length, 8);
    out.write(padded, prefix, "latin1");
    return out;
}

function parseConversation(text: string, lineNumber: number): ChatMessage[] {
    try {
        return parseConversationLine(text);
    } catch (error) {
        throw new RewardModelError("ERR_INVALID_MESSAGES", `line ${lineNumber}: ${(error as Error).message}`);
    }
}

export async function commandEmbed(argv: string[]): Promise<number> {
    const { values } = parseArgs({
        args: argv,
        options: { ...conversationIoFlags, format: { type: "string", default: "jsonl" }, ...loadFlags },
        strict: true,
        allowPositionals: false,
    });
    if (!values.model) throw invalidArgument("embed needs --model PATH");
    const format = choiceFlag(values.format, "format", ["jsonl", "npy"] as const)!;
    if (format === "npy" && values.output === "-") throw invalidArgument("--format npy needs --output FILE.npy");
    const chunkSize = integerFlag(values.chunk, "chunk", 1)!;
    const load = loadOptionsFrom(values);
    const input = values.input === "-" ? process.stdin : fs.createReadStream(values.input!);
    const model = await RewardModel.load(values.model, { ...load, requireRewardHead: false });
    const width = model.info.embeddingSize;
    const bar = new ProgressBar("embedding", 0);
    // npy: rows go to <output>.tmp after a reserved header; the file is renamed only when complete
    const npyTmp = format === "npy" ? `${values.output}.tmp` : undefined;
    const npyFd = npyTmp === undefined ? undefined : fs.openSync(npyTmp, "w");
    const jsonOut: NodeJS.WritableStream | undefined =
        format === "jsonl" ? (values.output === "-" ? process.stdout : fs.createWriteStream(values.output!)) : undefined;
    let rows = 0;
    let failures = 0;
    let done = 0;
    let complete = false;
    try {
        if (npyFd !== undefined) fs.writeSync(npyFd, npyHeader(0, width));
        const lines = readline.createInterface({ input, crlfDelay: Infinity });
        let pending: { lineNumber: number; text: string }[] = [];
        const flush = async () => {
            const results: string[] = new Array(pending.length);
            const valid: { index: number; tokens: number[] }[] = [];
            pending.forEach(({ lineNumber, text }, index) => {
                try {
                    valid.push({ index, tokens: model.tokenizeConversation(parseConversation(text, lineNumber)) });
                } catch (error) {
                    const e = fromNativeError(error, "ERR_INVALID_MESSAGES");
                    const message = e.message.startsWith("line ") ? e.message : `line ${lineNumber}: ${e.message}`;
                    if (npyFd !== undefined) throw new RewardModelError(e.code, message, { cause: e });
                    failures++;
                    results[index] = JSON.stringify({ error: message, code: e.code });
                }
            });
            bar.setTotal(done + pending.length);
            const base = done;
            const embedding = model.hiddenStatesOfTokens(
                valid.map((v) => v.tokens),
                { onProgress: ({ completed }) => bar.update(base + completed) },
            );
            if (npyFd !== undefined) {
                const hidden = await embedding; // a failed batch fails the matrix
                for (const h of hidden) fs.writeSync(npyFd, new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
                rows += hidden.length;
            } else {
                try {
                    const hidden = await embedding;
                    valid.forEach((v, k) => {
                        results[v.index] = JSON.stringify({ hidden: Array.from(hidden[k]!) });
                    });
                } catch (error) {
                    // every line still gets an answer, as in score, and the exit status says the run did not fully succeed
                    const e = fromNativeError(error, "ERR_DECODE_FAILED");
                    failures += valid.length;
                    for (const v of valid) {
                        results[v.index] = JSON.stringify({ error: `line ${pending[v.index]?.lineNumber}: ${e.message}`, code: e.code });
                    }
                }
                for (const line of results) {
                    if (!jsonOut!.write(`${line}\n`)) await new Promise<void>((r) => jsonOut!.once("drain", () => r()));
                }
            }
            done += pending.length;
            bar.update(done);
            pending = [];
        };
        let lineNumber = 0;
        for await (const text of lines) {
            lineNumber++;
            if (text.trim() === "") continue;
            pending.push({ lineNumber, text });
            if (pending.length >= chunkSize) await flush();
        }
        if (pending.length > 0) await flush();
        if (npyFd !== undefined) {
            fs.writeSync(npyFd, npyHeader(rows, width), 0, 128, 0);
            fs.closeSync(npyFd);
            fs.renameSync(npyTmp!, values.output!);
        }
        complete = true;
    } finally {
        bar.finish();
        await model.dispose();
        if (!complete && npyFd !== undefined) {
            try {
                fs.closeSync(npyFd);
            } catch {
                /* already closed */
            }
            fs.rmSync(npyTmp!, { force: true });
        }
        if (jsonOut !== undefined && jsonOut !== process.stdout) await new Promise((r) => (jsonOut as fs.WriteStream).end(r));
    }
    if (failures > 0) process.stderr.write(`llama-reward embed: ${failures} line(s) could not be embedded (see "error" lines)\n`);
    else if (npyFd !== undefined) process.stderr.write(`llama-reward embed: wrote ${values.output} (float32 [${rows}, ${width}])\n`);
    return failures > 0 ? 2 : 0;
}
