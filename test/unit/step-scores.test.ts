/**
 * Process-reward rules without a model: the settings a scoreSteps() call
 * resolves (options over the file's metadata, every wrong value a coded
 * error), step-tag positions, activations, aggregates, the RLHFlow
 * conversation, the step metadata's GGUF round trip, and the
 * `--head-from-lm-head` token list and its vocabulary lookup.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseTokenList, resolveTokens } from "../../src/convert/lm-head-rows.js";
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { GgufWriter } from "../../src/gguf/gguf-writer.js";
import { readStepMetadata, stepMetadataKeys, writeStepMetadata, type StepMetadata } from "../../src/gguf/step-metadata.js";
import { activate, aggregateSteps, resolveStepSettings, stepConversation, stepTagPositions } from "../../src/model/step-scores.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-steps-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const oneToken = (text: string) => {
    if (text === "<tag>") return 7;
    throw Object.assign(new Error(`${text} is 2 tokens, not one`), { code: "ERR_INVALID_OPTION" });
};

describe("step settings", () => {
    it("options override the file's metadata; the defaults fit the head", () => {
        expect(resolveStepSettings({}, { stepTag: "<tag>" }, 2, 100, oneToken)).toEqual({
            format: "step-tag",
            tagId: 7,
            activation: "softmax",
            scoreLabel: 0,
            aggregate: "min",
        });
        expect(resolveStepSettings({}, { stepTag: 9 }, 1, 100, oneToken)).toMatchObject({ tagId: 9, activation: "sigmoid" });
        const meta = { format: "assistant-turns", activation: "softmax", scoreLabel: 1, aggregate: "last" } as const;
        expect(resolveStepSettings(meta, {}, 2, 100, oneToken)).toEqual({ ...meta, tagId: undefined });
        expect(resolveStepSettings(meta, { aggregate: "mean", activation: "none" }, 2, 100, oneToken)).toMatchObject({
            aggregate: "mean",
            activation: "none",
        });
        expect(resolveStepSettings({ format: "step-tag", tagId: 3 }, {}, 2, 100, oneToken)).toMatchObject({ tagId: 3 });
    });

    it.each([
        [{}, {}, "says nothing about its steps"],
        [{}, { stepTag: 100 }, "not a token id"],
        [{}, { stepTag: 1.5 }, "not a token id"],
        [{}, { stepTag: "" }, "non-empty"],
        [{}, { format: "step-tag" }, "needs a stepTag"],
        [{}, { format: "assistant-turns", stepTag: 3 }, 'not "assistant-turns"'],
        [{}, { format: "steps" }, "format must be one of"],
        [{}, { stepTag: 3, activation: "relu" }, "activation must be one of"],
        [{}, { stepTag: 3, aggregate: "max" }, "aggregate must be one of"],
        [{}, { stepTag: 3, scoreLabel: 2 }, "scoreLabel"],
        [{ format: "step-tag", tagId: 500 }, {}, "outside the vocabulary"],
    ])("%j with %j is ERR_INVALID_OPTION (%s)", (meta, options, message) => {
        expect(() => resolveStepSettings(meta as never, options as never, 2, 100, oneToken)).toThrow(
            expect.objectContaining({ code: "ERR_INVALID_OPTION", message: expect.stringContaining(message) }),
        );
    });

    it("a step tag text of several tokens is refused by the tokenizer callback", () => {
        expect(() => resolveStepSettings({}, { stepTag: "two tokens" }, 2, 100, oneToken)).toThrow(/not one/);
    });
});

describe("steps", () => {
    it("finds every step tag, or says there is none", () => {
        expect(stepTagPositions([1, 7, 2, 7, 7], 7, "<tag>")).toEqual([1, 3, 4]);
        expect(() => stepTagPositions([1, 2], 7, "<tag>")).toThrow(
            expect.objectContaining({ code: "ERR_INVALID_MESSAGES", message: expect.stringContaining('"<tag>" (token 7)') }),
        );
    });

    it("activations and aggregates", () => {
        const soft = activate([1, 3], "softmax");
        expect(soft[0]).toBeCloseTo(1 / (1 + Math.exp(2)), 15);
        expect(soft[0]! + soft[1]!).toBeCloseTo(1, 15);
        expect(activate([1000, 0], "softmax")).toEqual([1, 0]); // no overflow
        expect(activate([0, 2], "sigmoid")).toEqual([0.5, 1 / (1 + Math.exp(-2))]);
        expect(activate([-2, 5], "none")).toEqual([-2, 5]);
        expect(aggregateSteps([0.5, 0.25, 0.75])).toEqual({ mean: 0.5, min: 0.25, last: 0.75 });
    });

    it("builds the RLHFlow conversation: question and first step, then a user turn per step, each answered +", () => {
        expect(stepConversation({ question: "Q?", steps: ["a", "b"] })).toEqual([
            { role: "user", content: "Q? a" },
            { role: "assistant", content: "+" },
            { role: "user", content: "b" },
            { role: "assistant", content: "+" },
        ]);
        for (const bad of [{ question: "Q", steps: [] }, { question: "Q", steps: [1] }, { steps: ["a"] }, null]) {
            expect(() => stepConversation(bad as never)).toThrow(expect.objectContaining({ code: "ERR_INVALID_MESSAGES" }));
        }
    });
});

describe("step metadata in GGUF", () => {
    function write(name: string, fill: (w: GgufWriter) => void): string {
        const file = path.join(tmp, name);
        const w = new GgufWriter(file);
        w.addString("general.architecture", "llama");
        fill(w);
        w.writeHeader();
        w.finish();
        return file;
    }

    it("round-trips every key, and a file without them has none", () => {
        const meta: StepMetadata = {
            lmHeadTokens: [10, 12],
            format: "assistant-turns",
            tagId: 5,
            activation: "sigmoid",
            scoreLabel: 1,
            aggregate: "mean",
        };
        const file = write("steps.gguf", (w) => writeStepMetadata(w, meta));
        expect(readStepMetadata(file, readGgufHeader(file))).toEqual(meta);
        const none = write("none.gguf", () => {});
        expect(readStepMetadata(none, readGgufHeader(none))).toEqual({});
    });

    it.each([
        [stepMetadataKeys.format, (w: GgufWriter) => w.addString(stepMetadataKeys.format, "everywhere")],
        [stepMetadataKeys.activation, (w: GgufWriter) => w.addU32(stepMetadataKeys.activation, 1)],
        [stepMetadataKeys.lmHeadTokens, (w: GgufWriter) => w.addStringArray(stepMetadataKeys.lmHeadTokens, ["+"])],
        [stepMetadataKeys.tagId, (w: GgufWriter) => w.addString(stepMetadataKeys.tagId, "x")],
    ])("a wrong %s is ERR_CORRUPT_MODEL naming the key", (key, fill) => {
        const file = write(`bad-${key}.gguf`, fill);
        expect(() => readStepMetadata(file, readGgufHeader(file))).toThrow(
            expect.objectContaining({ code: "ERR_CORRUPT_MODEL", message: expect.stringContaining(key) }),
        );
    });
});

describe("--head-from-lm-head tokens", () => {
    const vocabulary = ["!", "+", "-", "Ġ+", "hello", "<|eot_id|>"];

    it("parses ids and texts", () => {
        expect(parseTokenList("+,-")).toEqual(["+", "-"]);
        expect(parseTokenList("10,12")).toEqual([10, 12]);
        expect(parseTokenList("0,<|eot_id|>")).toEqual([0, "<|eot_id|>"]);
        for (const bad of ["", "+,", ",-"])
            expect(() => parseTokenList(bad)).toThrow(expect.objectContaining({ code: "ERR_INVALID_OPTION" }));
    });

    it("finds texts as written or in byte-level form, ids as given; labels are the tokens", () => {
        expect(resolveTokens(["+", "-"], vocabulary)).toEqual({ ids: [1, 2], labels: ["+", "-"] });
        expect(resolveTokens([" +", 4, "<|eot_id|>"], vocabulary)).toEqual({ ids: [3, 4, 5], labels: [" +", "hello", "<|eot_id|>"] });
    });

    it.each([[["++"]], [[6]], [[-1]], [[]], [["+", 1]]])("%j is ERR_INVALID_OPTION", (refs) => {
        expect(() => resolveTokens(refs as never, vocabulary)).toThrow(expect.objectContaining({ code: "ERR_INVALID_OPTION" }));
    });
});
