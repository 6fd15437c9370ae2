/**
 * Fuzz of the CLI's JSONL reader: files mixing valid conversations with
 * hostile lines (random bytes and invalid UTF-8, truncated and deeply nested
 * JSON, wrong shapes and types, NULs, lone surrogates, CR/CRLF/LS line ends,
 * a BOM, lines far longer than the context). The CLI must answer every
 * non-blank line in order with {"reward"} or {"error", "code"}, exit with 0
 * or 2, and print no stack trace.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { conversations, filler, requireFile, root, tinyF32 } from "../support/fixtures.js";
import { Rng } from "./prng.js";
import { hostileText } from "./text-fuzz.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const cli = path.join(root, "dist", "src", "cli", "main.js");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-jsonl-fuzz-"));

afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
});

function hostileLine(rng: Rng): Buffer {
    const valid = rng.pick(conversations);
    switch (rng.int(14)) {
        case 0:
            return Buffer.from(JSON.stringify({ messages: valid }));
        case 1:
            return Buffer.from(JSON.stringify(valid));
        case 2:
            return Buffer.from(Array.from({ length: rng.int(200) }, () => rng.int(256)).filter((b) => b !== 10 && b !== 13));
        case 3: {
            const s = JSON.stringify({ messages: valid });
            return Buffer.from(s.slice(0, rng.int(s.length)));
        }
        case 4:
            return Buffer.from(`${"[".repeat(50_000)}${"]".repeat(50_000)}`);
        case 5:
            return Buffer.from(
                JSON.stringify(
                    rng.pick([
                        null,
                        0,
                        "x",
                        true,
                        {},
                        [],
                        { messages: null },
                        { messages: "hi" },
                        [null],
                        [{}],
                        [{ role: 1, content: "x" }],
                        [{ role: "user" }],
                        [{ role: "user", content: ["x"] }],
                        { messages: [{ role: "user", content: "x" }], extra: 1 },
                    ]),
                ),
            );
        case 6:
            return Buffer.from(
                JSON.stringify([
                    {
                        role: "user",
                        content: hostileText(rng, ["<|eot_id|>", "<|begin_of_text|>"], 300).replace(/[\r\n\u2028\u2029]/g, " "),
                    },
                    { role: "assistant", content: "ok" },
                ]),
            );
        case 7:
            return Buffer.from(
                JSON.stringify([
                    { role: "user", content: filler(3000, rng.u32()) },
                    { role: "assistant", content: "too long" },
                ]),
            );
        case 8:
            return Buffer.from(
                JSON.stringify([
                    { role: "user", content: "a\u0000b\ud800c" },
                    { role: "assistant", content: "\udfff" },
                ]),
            );
        case 9:
            return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(valid))]);
        case 10:
            return Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc, 0xff, 0xfe]);
        case 11:
            return Buffer.from(`   ${JSON.stringify({ messages: valid })}   `);
        case 12:
            return Buffer.from(JSON.stringify({ messages: [...valid, { role: "tool", content: "{}" }] }));
        default:
            return Buffer.from(" \t ");
    }
}

describe("the CLI's JSONL reader", () => {
    for (const round of [0]) {
        it(`answers every line of a hostile file in order (round ${round})`, () => {
            const rng = Rng.forCase(SEED ^ 0x15, round);
            const lines = Array.from({ length: 120 }, () => hostileLine(rng));
            const ends = [Buffer.from("\n"), Buffer.from("\r\n"), Buffer.from("\r")];
            const input = Buffer.concat(lines.flatMap((l) => [l, rng.pick(ends)]));
            const file = path.join(work, `round-${round}.jsonl`);
            fs.writeFileSync(file, input);
            // what readline sees: the decoded text split at \r\n, \n and \r; blank lines are skipped
            const expected = input
                .toString("utf8")
                .split(/\r\n|\n|\r/)
                .filter((l) => l.trim() !== "").length;
            const r = spawnSync(
                process.execPath,
                [
                    requireFile(cli),
                    "score",
                    "-m",
                    tinyF32,
                    "-i",
                    file,
                    "--context-size",
                    "512",
                    "--threads",
                    "1",
                    "--chunk",
                    String(7 + round * 30),
                ],
                { encoding: "utf8", cwd: root, timeout: 120_000 },
            );
            expect(r.signal).toBeNull();
            expect([0, 2]).toContain(r.status);
            expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
            const out = r.stdout
                .trim()
                .split("\n")
                .map((l) => JSON.parse(l) as { reward?: number; error?: string; code?: string });
            expect(out).toHaveLength(expected);
            for (const o of out) {
                if (o.reward !== undefined) expect(Number.isFinite(o.reward)).toBe(true);
                else expect(o.code).toMatch(/^ERR_(INVALID_MESSAGES|CONTEXT_OVERFLOW|TEMPLATE)$/);
            }
            expect(out.filter((o) => o.reward !== undefined).length).toBeGreaterThan(10);
            expect(out.filter((o) => o.code !== undefined).length).toBeGreaterThan(10);
        });
    }
});
