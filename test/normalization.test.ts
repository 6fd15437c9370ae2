/**
 * Reward normalization as OpenRLHF-trained checkpoints carry it: config.json's
 * mean, std and normalize_reward kept by convert as GGUF metadata, applied as
 * (r - mean) / std by default when the checkpoint says so, switched by the
 * `normalize` option, shown in model.info; against the float64 transformers
 * reference. Malformed values are coded errors (convert, load, option).
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, convert } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { rewriteGguf } from "../src/gguf/gguf-rewrite.js";
import { GgufValueType } from "../src/gguf/gguf-types.js";
import { writeRewardModelFile } from "../src/train/head-file.js";
import { conversations, tinyF32 } from "./support/fixtures.js";
import { loadVocab, makeWorkDir, writeLlama3Checkpoint } from "./support/hf-fixtures.js";
import type { HfCheckpoint } from "./support/hf-checkpoint.js";
import { hfReferenceScores } from "./reference/hf-llama-reference.js";

const work = makeWorkDir("normalization");
const out = path.join(work, "normalized-f32.gguf");
const exact = { flashAttention: false, kvCacheType: "f32", contextSize: 1024, parallel: 2 } as const;
const mean = 0.37;
const std = 1.9;
let checkpoint: HfCheckpoint;
let raw: number[];

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
    const file = path.join(dir, "config.json");
    const c = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    edit(c);
    fs.writeFileSync(file, JSON.stringify(c));
}

beforeAll(async () => {
    checkpoint = writeLlama3Checkpoint(work, loadVocab());
    editConfig(checkpoint.dir, (c) => Object.assign(c, { mean, std, normalize_reward: true }));
    await convert(checkpoint.dir, out, { outType: "f32" });
});

afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
});

describe("normalization: convert keeps it", () => {
    it("writes mean, std and normalize_reward as llama_reward.normalization.*", () => {
        const m = readGgufHeader(out).metadata;
        expect(m.get("llama_reward.normalization.mean")).toBe(mean);
        expect(m.get("llama_reward.normalization.std")).toBe(std);
        expect(m.get("llama_reward.normalization.enabled")).toBe(true);
    });

    it("refuses malformed values in config.json with ERR_CONVERT_FAILED", async () => {
        for (const [key, value, message] of [
            ["std", 0, /std must be a finite positive number/],
            ["mean", "0.1", /mean must be a finite number/],
            ["normalize_reward", "yes", /normalize_reward must be a boolean/],
        ] as const) {
            editConfig(checkpoint.dir, (c) => Object.assign(c, { mean, std, normalize_reward: true, [key]: value }));
            await expect(convert(checkpoint.dir, path.join(work, "bad.gguf")), key).rejects.toMatchObject({
                code: "ERR_CONVERT_FAILED",
                message: expect.stringMatching(message),
            });
            expect(fs.existsSync(path.join(work, "bad.gguf"))).toBe(false);
        }
        editConfig(checkpoint.dir, (c) => Object.assign(c, { mean, std, normalize_reward: true }));
    });
});

describe("normalization: scores", () => {
    let model: RewardModel;
    beforeAll(async () => {
        model = await RewardModel.load(out, exact);
        raw = conversations.map((c) => hfReferenceScores(checkpoint.config, checkpoint.weights, model.tokenizeConversation(c))[0]!);
    });
    afterAll(async () => {
        await model?.dispose();
    });

    it("by default follows the checkpoint: (r - mean) / std on every scoring call, within 1e-4 of the reference", async () => {
        expect(model.options.normalize).toBe(true);
        expect(model.info.normalization).toEqual({ mean, std, normalizeReward: true, applied: true });
        const want = raw.map((r) => (r - mean) / std);
        const batch = await model.scoreBatch(conversations);
        const vectors = await Promise.all(conversations.map((c) => model.scoreVector(c)));
        const tokens = await model.scoreTokenBatch(conversations.map((c) => model.tokenizeConversation(c)));
        const single = await model.scoreTokens(model.tokenizeConversation(conversations[0]!));
        want.forEach((w, i) => {
            expect(Math.abs(batch[i]! - w)).toBeLessThanOrEqual(1e-4);
            expect(Math.abs(vectors[i]![0]! - w)).toBeLessThanOrEqual(1e-4);
            expect(Math.abs(tokens[i]![0]! - w)).toBeLessThanOrEqual(1e-4);
        });
        expect(Math.abs(single - want[0]!)).toBeLessThanOrEqual(1e-4);
        // normalized and raw rewards are visibly different numbers
        expect(Math.abs(batch[0]! - raw[0]!)).toBeGreaterThan(1e-2);
    });

    it("normalize: false gives the raw rewards", async () => {
        const plain = await RewardModel.load(out, { ...exact, normalize: false });
        try {
            expect(plain.info.normalization).toEqual({ mean, std, normalizeReward: true, applied: false });
            const got = await plain.scoreBatch(conversations);
            got.forEach((g, i) => expect(Math.abs(g - raw[i]!)).toBeLessThanOrEqual(1e-4));
        } finally {
            await plain.dispose();
        }
    });
});

describe("normalization: bad options and bad files", () => {
    it("normalize: true on a file without mean/std, or a non-boolean, is ERR_INVALID_OPTION", async () => {
        await expect(RewardModel.load(tinyF32, { normalize: true })).rejects.toMatchObject({
            code: "ERR_INVALID_OPTION",
            message: expect.stringContaining("normalize: true needs"),
        });
        await expect(RewardModel.load(out, { normalize: "yes" as never })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        const plain = await RewardModel.load(tinyF32, { contextSize: 256, parallel: 1 });
        try {
            expect(plain.info.normalization).toBeNull();
            expect(plain.options.normalize).toBe(false);
        } finally {
            await plain.dispose();
        }
    });

    it("a head trained on the file (train-head's writer) does not inherit the old head's normalization", async () => {
        const reheaded = path.join(work, "reheaded.gguf");
        const record = { dataSha256: "0", dataFormat: "messages", trainPairs: 1, validationPairs: 0, trainAccuracy: 1, trainLoss: 0 };
        writeRewardModelFile(
            out,
            readGgufHeader(out),
            reheaded,
            { weight: new Float64Array(256).fill(0.01), label: "new" },
            {
                ...record,
                l2: 0,
                seed: 1,
                iterations: 1,
                init: "zeros",
            },
        );
        const normalizationKeysOf = (file: string) =>
            [...readGgufHeader(file).metadata.keys()].filter((k) => k.startsWith("llama_reward.normalization."));
        expect(normalizationKeysOf(out)).not.toEqual([]);
        expect(normalizationKeysOf(reheaded)).toEqual([]);
        const m = readGgufHeader(reheaded).metadata;
        expect(m.get("llama.classifier.output_labels")).toEqual(["new"]);
        fs.rmSync(reheaded, { force: true });
    });

    it("malformed normalization metadata is ERR_CORRUPT_MODEL at load", async () => {
        const header = readGgufHeader(out);
        const broken = path.join(work, "broken.gguf");
        const edits: [string, Parameters<typeof rewriteGguf>[2]][] = [
            ["std 0", { setKeys: new Map([["llama_reward.normalization.std", { type: GgufValueType.FLOAT64, value: 0 }]]) }],
            ["mean a string", { setKeys: new Map([["llama_reward.normalization.mean", { type: GgufValueType.STRING, value: "0.3" }]]) }],
            ["enabled a number", { setKeys: new Map([["llama_reward.normalization.enabled", { type: GgufValueType.UINT32, value: 1 }]]) }],
            ["std missing", { dropKeys: (k) => k === "llama_reward.normalization.std" }],
        ];
        for (const [what, edit] of edits) {
            rewriteGguf(out, broken, edit, header);
            await expect(RewardModel.load(broken, exact), what).rejects.toMatchObject({
                code: "ERR_CORRUPT_MODEL",
                message: expect.stringContaining("llama_reward.normalization"),
            });
        }
        fs.rmSync(broken, { force: true });
    });
});
