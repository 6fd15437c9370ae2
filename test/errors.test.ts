/**
 * Every error a caller can cause: a RewardModelError with the right code,
 * no crash, and the model still usable afterwards.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, RewardModelError, type RewardErrorCode } from "../src/index.js";
import { GgmlType } from "../src/gguf/gguf-types.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { GgufWriter } from "../src/gguf/gguf-writer.js";
import { conversations, filler, requireFile, tinyF32, vocabFile } from "./support/fixtures.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-errors-"));
let model: RewardModel;

beforeAll(async () => {
    model = await RewardModel.load(requireFile(tinyF32), { contextSize: 512, parallel: 2 });
});

afterAll(async () => {
    await model?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
});

async function expectCode(promise: Promise<unknown> | (() => unknown), code: RewardErrorCode): Promise<RewardModelError> {
    let error: unknown;
    try {
        await (typeof promise === "function" ? promise() : promise);
    } catch (e) {
        error = e;
    }
    expect(error).toBeInstanceOf(RewardModelError);
    expect((error as RewardModelError).code).toBe(code);
    return error as RewardModelError;
}

function writeFile(name: string, bytes: Uint8Array | string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
}

describe("load errors", () => {
    it("missing file → ERR_MODEL_NOT_FOUND", async () => {
        const e = await expectCode(RewardModel.load(path.join(dir, "nope.gguf")), "ERR_MODEL_NOT_FOUND");
        expect(e.message).toContain("nope.gguf");
    });

    it("a directory → ERR_MODEL_NOT_FOUND", async () => {
        await expectCode(RewardModel.load(dir), "ERR_MODEL_NOT_FOUND");
    });

    it("not a GGUF file → ERR_NOT_GGUF", async () => {
        await expectCode(RewardModel.load(writeFile("text.gguf", "this is not a model at all, just text\n".repeat(4))), "ERR_NOT_GGUF");
    });

    it("truncated file → ERR_CORRUPT_MODEL", async () => {
        const whole = fs.readFileSync(tinyF32);
        const e = await expectCode(RewardModel.load(writeFile("cut.gguf", whole.subarray(0, whole.length - 4096))), "ERR_CORRUPT_MODEL");
        expect(e.message).toMatch(/truncated/);
    });

    it("garbage after a valid magic → ERR_CORRUPT_MODEL", async () => {
        const bytes = Buffer.alloc(64, 0xff);
        bytes.write("GGUF", 0, "latin1");
        bytes.writeUInt32LE(3, 4);
        await expectCode(RewardModel.load(writeFile("garbage.gguf", bytes)), "ERR_CORRUPT_MODEL");
    });

    it("unsupported architecture → ERR_UNSUPPORTED_ARCHITECTURE", async () => {
        const file = path.join(dir, "gpt2.gguf");
        const w = new GgufWriter(file);
        w.addString("general.architecture", "gpt2");
        w.addTensorInfo("cls.output.weight", [4, 1], GgmlType.F32);
        w.writeHeader();
        w.writeTensorData("cls.output.weight", new Uint8Array(16));
        w.finish();
        await expectCode(RewardModel.load(file), "ERR_UNSUPPORTED_ARCHITECTURE");
    });

    it("no reward head → ERR_NO_REWARD_HEAD", async () => {
        await expectCode(RewardModel.load(requireFile(vocabFile)), "ERR_NO_REWARD_HEAD");
    });

    it("bad options → ERR_INVALID_OPTION", async () => {
        await expectCode(RewardModel.load(tinyF32, { contextSize: -5 }), "ERR_INVALID_OPTION");
        await expectCode(RewardModel.load(tinyF32, { bos: "twice" as never }), "ERR_INVALID_OPTION");
        await expectCode(RewardModel.load(tinyF32, { kvCacheType: "q8_0", flashAttention: false }), "ERR_INVALID_OPTION");
        await expectCode(RewardModel.load(tinyF32, { batchSize: 4096, contextSize: 512 }), "ERR_INVALID_OPTION");
        await expectCode(RewardModel.load(tinyF32, { treads: 2 } as never), "ERR_INVALID_OPTION");
    });

    it("an aborted load → ERR_ABORTED", async () => {
        await expectCode(RewardModel.load(tinyF32, { signal: AbortSignal.abort() }), "ERR_ABORTED");
        const controller = new AbortController();
        const loading = RewardModel.load(tinyF32, {
            signal: controller.signal,
            onProgress: () => controller.abort(),
        });
        await expectCode(loading, "ERR_ABORTED");
    });
});

describe("call errors leave the model usable", () => {
    const ok = conversations[0]!;

    it("context overflow → ERR_CONTEXT_OVERFLOW", async () => {
        const long = [
            { role: "user", content: filler(700, 2) },
            { role: "assistant", content: "ok" },
        ];
        const e = await expectCode(model.score(long), "ERR_CONTEXT_OVERFLOW");
        expect(e.message).toMatch(/512/);
        await expectCode(model.scoreTokens(new Array(600).fill(100)), "ERR_CONTEXT_OVERFLOW");
        expect(typeof (await model.score(ok))).toBe("number");
    });

    it("truncation: left keeps the BOS tokens and the end of the conversation", async () => {
        const m = await RewardModel.load(tinyF32, { contextSize: 128, truncation: "left", parallel: 1 });
        try {
            // llama.cpp rounds the context up (to 256 here); truncation keeps what really fits
            const limit = m.info.contextSize;
            expect(limit).toBeGreaterThanOrEqual(128);
            const long = [
                { role: "user", content: filler(limit * 2, 2) },
                { role: "assistant", content: "The end." },
            ];
            const tokens = m.tokenizeConversation(long);
            expect(tokens).toHaveLength(limit);
            expect(tokens.slice(0, 2)).toEqual([128000, 128000]);
            const full = m.tokenize(m.render(long)).length;
            expect(full).toBeGreaterThan(limit);
            expect(tokens.slice(-5)).toEqual(m.tokenize(m.render(long)).slice(-5));
            expect(Number.isFinite(await m.score(long))).toBe(true);
        } finally {
            await m.dispose();
        }
    });

    it.each([
        ["not an array", "hello"],
        ["empty", []],
        ["missing role", [{ content: "x" }]],
        ["non-string content", [{ role: "user", content: 42 }]],
        ["null message", [null]],
    ])("invalid messages (%s) → ERR_INVALID_MESSAGES", async (_, messages) => {
        await expectCode(model.score(messages as never), "ERR_INVALID_MESSAGES");
        await expectCode(model.scoreBatch([ok, messages as never]), "ERR_INVALID_MESSAGES");
    });

    it.each([
        ["empty", []],
        ["negative id", [1, -1]],
        ["id past the vocabulary", [1, 128257]],
        ["fraction", [1.5]],
        ["not numbers", ["a"]],
    ])("invalid tokens (%s) → ERR_INVALID_TOKENS", async (_, tokens) => {
        await expectCode(model.scoreTokens(tokens as never), "ERR_INVALID_TOKENS");
    });

    it("abort before and while queued → ERR_ABORTED", async () => {
        await expectCode(model.score(ok, { signal: AbortSignal.abort() }), "ERR_ABORTED");
        const controller = new AbortController();
        const many = Array.from({ length: 16 }, () => conversations[2]!);
        const batch = model.scoreBatch(many, { signal: controller.signal });
        controller.abort();
        await expectCode(batch, "ERR_ABORTED");
        expect(typeof (await model.score(ok))).toBe("number");
    });

    it("an aborted call does not disturb a concurrent one", async () => {
        const controller = new AbortController();
        const expected = await model.score(conversations[3]!);
        const aborted = model.score(conversations[2]!, { signal: controller.signal });
        const kept = model.score(conversations[3]!);
        controller.abort(new Error("user cancelled"));
        const e = await expectCode(aborted, "ERR_ABORTED");
        expect((e.cause as Error).message).toBe("user cancelled");
        expect(Math.abs((await kept) - expected)).toBeLessThan(1e-6);
    });

    it("a native rejection carries the caller's stack", async () => {
        // The tiny model's own metadata and reward head, but no other tensor: the JS checks (which
        // read metadata and the head) accept it, llama.cpp refuses it for its missing weights, and
        // the addon's worker rejects on a later tick.
        const tiny = readGgufHeader(tinyF32);
        const head = tiny.tensors.find((t) => t.name === "cls.output.weight")!;
        const file = path.join(dir, "head-only.gguf");
        const w = new GgufWriter(file);
        for (const [key, value] of tiny.metadata) {
            if (key === "general.alignment") continue; // the writer adds it itself when not the default
            const type = tiny.metadataTypes.get(key)!;
            w.addKv(key, type.type, value, type.elementType);
        }
        w.addTensorInfo(head.name, head.shape, head.type);
        w.writeHeader();
        w.writeTensorData(head.name, new Uint8Array(head.byteSize));
        w.finish();
        // A plain function: V8's async stack traces only list awaiting async functions, so this
        // frame is in the stack only if the library put the caller's stack on the error.
        function loadFromCallSite(): Promise<RewardModel> {
            return RewardModel.load(file, { contextSize: 256 });
        }
        const e = await expectCode(loadFromCallSite(), "ERR_LOAD_FAILED");
        expect(e.cause).toBeInstanceOf(Error);
        expect(e.cause).not.toBeInstanceOf(RewardModelError);
        expect(e.stack).toContain("loadFromCallSite");
    });
});

describe("dispose", () => {
    it("is idempotent, rejects queued work with ERR_DISPOSED, and later calls too", async () => {
        const m = await RewardModel.load(tinyF32, { contextSize: 512, parallel: 2 });
        const running = m.scoreBatch(Array.from({ length: 12 }, () => conversations[2]!));
        const first = m.dispose();
        const second = m.dispose();
        await expectCode(running, "ERR_DISPOSED");
        await first;
        await second;
        expect(m.disposed).toBe(true);
        await expectCode(m.score(conversations[0]!), "ERR_DISPOSED");
        await expectCode(() => m.tokenize("x"), "ERR_DISPOSED");
    });

    it("supports await using (Symbol.asyncDispose)", async () => {
        let kept: RewardModel;
        {
            await using m = await RewardModel.load(tinyF32, { contextSize: 256, parallel: 1 });
            kept = m;
            expect(typeof (await m.score(conversations[0]!))).toBe("number");
        }
        expect(kept.disposed).toBe(true);
    });
});
