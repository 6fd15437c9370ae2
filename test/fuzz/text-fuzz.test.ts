/**
 * tokenize(), render(), tokenizeConversation() and score() under hostile
 * text: random Unicode, lone surrogates, NUL bytes, every special-token text,
 * template syntax, roles that are not roles, and multi-megabyte strings.
 * Each call returns or throws a RewardModelError, and the model keeps
 * scoring afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { RewardModel, RewardModelError } from "../../src/index.js";
import { requireFile, tinyF32 } from "../support/fixtures.js";
import { Rng } from "./prng.js";
import { hostileText } from "./text-fuzz.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
let model: RewardModel;
let specials: string[];

beforeAll(async () => {
    model = await RewardModel.load(requireFile(tinyF32), { contextSize: 512, parallel: 4, threads: 1 });
    // every special-token text of the Llama-3 vocabulary (ids 128000..128255), as the file lists them
    const tokens = readGgufHeader(tinyF32).metadata.get("tokenizer.ggml.tokens") as string[];
    specials = tokens.slice(128000, 128256);
});

afterAll(async () => {
    await model?.dispose();
});

/** Runs `fn`; a thrown error must be a RewardModelError. Returns the value or the code. */
function attempt<T>(fn: () => T): T | string {
    try {
        return fn();
    } catch (error) {
        if (!(error instanceof RewardModelError)) throw error;
        return error.code;
    }
}

describe("hostile text", () => {
    it("special-token texts tokenize to their ids with special, and to plain text without", () => {
        const texts = specialTexts();
        expect(texts.length).toBe(256);
        texts.forEach((text, k) => {
            expect(model.tokenize(text, { special: true })).toEqual([model.info.bosToken, 128000 + k]);
            const plain = model.tokenize(text, { special: false });
            expect(plain.length).toBeGreaterThan(1);
            expect(plain).not.toContain(128000 + k);
        });
    });

    it("1500 random strings through tokenize, render and tokenizeConversation", () => {
        const rng = Rng.forCase(SEED, 1);
        const texts = specialTexts();
        const codes = new Map<string, number>();
        for (let i = 0; i < 1500; i++) {
            const text = hostileText(rng, texts);
            const special = rng.chance(0.5);
            const tokens = attempt(() => model.tokenize(text, { special }));
            if (typeof tokens === "string") codes.set(tokens, (codes.get(tokens) ?? 0) + 1);
            else expect(tokens.every((t) => Number.isInteger(t) && t >= 0 && t < model.info.vocabSize)).toBe(true);
            const role = rng.chance(0.8) ? rng.pick(["user", "assistant", "system"]) : hostileText(rng, texts, 20);
            const messages = [
                { role, content: text },
                { role: "assistant", content: hostileText(rng, texts, 50) },
            ];
            const rendered = attempt(() => model.render(messages));
            if (typeof rendered !== "string") codes.set(rendered, (codes.get(rendered) ?? 0) + 1);
            attempt(() => model.tokenizeConversation(messages));
        }
        // every error is a known code (none expected for strings, but none may be untyped)
        for (const code of codes.keys()) expect(code).toMatch(/^ERR_/);
    });

    it("random conversations score or fail with a code, concurrently", async () => {
        const rng = Rng.forCase(SEED, 2);
        const texts = specialTexts();
        const calls = Array.from({ length: 60 }, () =>
            model
                .score([
                    { role: "user", content: hostileText(rng, texts, 300) },
                    { role: "assistant", content: hostileText(rng, texts, 300) },
                ])
                .then(
                    (v) => (Number.isFinite(v) ? "score" : "non-finite"),
                    (e: unknown) => {
                        if (!(e instanceof RewardModelError)) throw e;
                        return e.code;
                    },
                ),
        );
        const outcomes = await Promise.all(calls);
        expect(outcomes.filter((o) => o === "score").length).toBeGreaterThan(0);
        for (const o of outcomes) expect(["score", "ERR_CONTEXT_OVERFLOW"]).toContain(o);
    });

    it("multi-megabyte strings: tokenize works, score reports ERR_CONTEXT_OVERFLOW, the model still scores", async () => {
        // 40,000 special-token texts in one string: llama.cpp split them in O(n^2) (about 50 s on the
        // calling thread, minutes at 80,000) until the patch made it linear (about 1 s)
        const huge = "héllo wörld \u0000 <|eot_id|> ".repeat(40_000); // ~1.1 M UTF-16 units
        const began = performance.now();
        const tokens = model.tokenize(huge, { special: true });
        expect(performance.now() - began).toBeLessThan(15_000);
        expect(tokens.length).toBeGreaterThan(10 * 40_000);
        expect(tokens.filter((t) => t === 128009).length).toBe(40_000);
        const e = await model
            .score([
                { role: "user", content: huge },
                { role: "assistant", content: "ok" },
            ])
            .catch((x: unknown) => x);
        expect(e).toBeInstanceOf(RewardModelError);
        expect((e as RewardModelError).code).toBe("ERR_CONTEXT_OVERFLOW");
        const lone = "\ud800".repeat(200_000);
        expect(model.tokenize(lone).length).toBeGreaterThan(1);
        expect(
            typeof (await model.score([
                { role: "user", content: "hi" },
                { role: "assistant", content: "hello" },
            ])),
        ).toBe("number");
    });
});

function specialTexts(): string[] {
    return specials;
}
