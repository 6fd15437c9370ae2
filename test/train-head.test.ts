/**
 * trainHead() and `llama-reward train-head` on the tiny model. A head is
 * planted on real hidden states of a few hundred conversations and pairs are
 * labelled through the Bradley–Terry model; the trained head must recover its
 * direction and its validation accuracy, the written GGUF must score exactly
 * what the head gives on the cached features and keep the base file intact,
 * re-heading must work, and bad input must fail with coded errors before any
 * file is written.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgmlType, GgufValueType, type GgufHeader } from "../src/gguf/gguf-types.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { rewriteGguf } from "../src/gguf/gguf-rewrite.js";
import { GgufWriter } from "../src/gguf/gguf-writer.js";
import { RewardModel, quantize, trainHead, type ChatMessage, type LoadOptions, type TrainHeadResult } from "../src/index.js";
import { writeRewardModelFile } from "../src/train/head-file.js";
import { seededRandom, splitIndices } from "../src/train/seeded-split.js";
import { filler, requireFile, root, tinyF32 } from "./support/fixtures.js";
import { writeHeadlessCopy } from "./support/headless-model.js";

// one thread: the tests share a small machine, and ggml's spinning threads slow down many-fold when oversubscribed
const exact: LoadOptions = { flashAttention: false, kvCacheType: "f32", batchSize: 256, threads: 1 };
const conversationCount = 400;
const pairCount = 20000;
const cli = path.join(root, "dist", "src", "cli", "main.js");

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
    return s;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
    return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
}

function tensorBytes(file: string, header: GgufHeader, name: string): Buffer {
    const t = header.tensors.find((x) => x.name === name)!;
    const fd = fs.openSync(file, "r");
    try {
        const out = Buffer.alloc(t.byteSize);
        fs.readSync(fd, out, 0, t.byteSize, header.dataOffset + t.offset);
        return out;
    } finally {
        fs.closeSync(fd);
    }
}

describe("train-head", () => {
    let dir: string;
    let base: string; // the tiny model without its head: a "chat model"
    let data: string;
    let conversations: ChatMessage[][];
    let features: Float32Array[]; // hidden states of `conversations`, computed once here
    let planted: Float64Array;
    let labelled: [number, number][]; // (chosen, rejected) conversation indices per line
    let trained: TrainHeadResult;
    let out: string;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-train-"));
        base = writeHeadlessCopy(requireFile(tinyF32), path.join(dir, "base.gguf"));
        conversations = Array.from({ length: conversationCount }, (_, i) => [
            { role: "user", content: filler(4 + (i % 11), 100 + i) },
            { role: "assistant", content: filler(2 + (i % 5), 9000 + i) },
        ]);
        const model = await RewardModel.load(base, { ...exact, requireRewardHead: false });
        try {
            features = await model.hiddenStates(conversations);
        } finally {
            await model.dispose();
        }
        // A planted head, scaled so that rewards spread with a standard deviation of 2.5.
        const random = seededRandom(7);
        const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
        planted = Float64Array.from({ length: features[0]!.length }, gauss);
        let rewards = features.map((h) => dot(planted, h));
        const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
        const scale = 2.5 / Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / rewards.length);
        planted = planted.map((w) => w * scale);
        rewards = rewards.map((r) => r * scale);
        // Pairs of distinct conversations, labelled by the Bradley–Terry model: P(a ≻ b) = sigmoid(r_a − r_b).
        labelled = [];
        const lines: string[] = [];
        for (let i = 0; i < pairCount; i++) {
            const a = Math.floor(random() * conversationCount);
            let b = Math.floor(random() * (conversationCount - 1));
            if (b >= a) b++;
            const aWins = random() < 1 / (1 + Math.exp(-(rewards[a]! - rewards[b]!)));
            const [c, r] = aWins ? [a, b] : [b, a];
            labelled.push([c, r]);
            lines.push(JSON.stringify({ chosen: conversations[c], rejected: conversations[r] }));
        }
        data = path.join(dir, "pairs.jsonl");
        fs.writeFileSync(data, `${lines.join("\n")}\n`);
        out = path.join(dir, "reward.gguf");
        trained = await trainHead({ model: base, data, out, bias: true, load: exact });
        const s = trained.report.seconds;
        console.log(
            `[train-head] ${trained.report.conversations} conversations, ${trained.report.pairs.train}+${trained.report.pairs.validation} pairs: ` +
                `features ${s.features.toFixed(2)} s, fit ${s.fit.toFixed(3)} s (${trained.report.iterations} iterations, ${trained.report.stopReason}), ` +
                `write ${s.write.toFixed(2)} s`,
        );
    });

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("recovers the planted head's direction and its validation accuracy", () => {
        const cos = cosine(trained.weight, planted);
        const { validation } = splitIndices(pairCount, 0.1, 1); // the defaults trainHead used
        const plantedAccuracy =
            validation.filter((i) => dot(planted, features[labelled[i]![0]]!) > dot(planted, features[labelled[i]![1]]!)).length /
            validation.length;
        const got = trained.report.validation!;
        const standardError = Math.sqrt((plantedAccuracy * (1 - plantedAccuracy)) / validation.length);
        console.log(
            `[train-head] cosine ${cos.toFixed(4)}; validation accuracy ${got.accuracy.toFixed(4)}, planted head ${plantedAccuracy.toFixed(4)} ` +
                `(standard error ${standardError.toFixed(4)})`,
        );
        expect(trained.report.pairs).toEqual({ total: pairCount, train: pairCount - validation.length, validation: validation.length });
        expect(cos).toBeGreaterThanOrEqual(0.95);
        expect(Math.abs(got.accuracy - plantedAccuracy)).toBeLessThanOrEqual(3 * standardError);
        expect(plantedAccuracy).toBeGreaterThan(0.7); // the labels carry signal, so a wrong head would show
        expect(trained.report.history[0]!.iteration).toBe(0);
        expect(trained.report.validation!.loss).toBeLessThan(trained.report.history[0]!.validation!.loss);
    });

    it("the written GGUF scores, through RewardModel.load, what the trained head gives on the cached features", async () => {
        const model = await RewardModel.load(out, exact);
        try {
            expect(model.info.hasRewardHead).toBe(true);
            expect(model.info.labels).toEqual(["LABEL_0"]);
            const subset = conversations.slice(0, 60);
            const rewards = await model.scoreBatch(subset);
            let err = 0;
            subset.forEach((_, i) => {
                err = Math.max(err, Math.abs(rewards[i]! - (dot(trained.weight, features[i]!) + trained.bias!)));
            });
            console.log(`[train-head] output file vs head on cached features: max |Δ| = ${err.toExponential(3)}`);
            expect(err).toBeLessThanOrEqual(1e-5);
            // the bias centres the training rewards on 0
            expect(Math.abs(rewards.reduce((a, b) => a + b, 0) / rewards.length)).toBeLessThan(1.5);
        } finally {
            await model.dispose();
        }
    });

    it("the output keeps every base tensor and key and records the head and its training", () => {
        const b = readGgufHeader(base);
        const o = readGgufHeader(out);
        for (const t of b.tensors) {
            const copy = o.tensors.find((x) => x.name === t.name);
            expect(copy, t.name).toBeDefined();
            expect([copy!.type, copy!.shape]).toEqual([t.type, t.shape]);
            expect(tensorBytes(out, o, t.name).equals(tensorBytes(base, b, t.name)), t.name).toBe(true);
        }
        for (const [key, value] of b.metadata) expect(o.metadata.get(key), key).toEqual(value);
        const head = o.tensors.find((t) => t.name === "cls.output.weight")!;
        expect([head.type, head.shape]).toEqual([GgmlType.F32, [64, 1]]);
        expect(o.tensors.find((t) => t.name === "cls.output.bias")?.shape).toEqual([1]);
        expect(o.tensors).toHaveLength(b.tensors.length + 2);
        expect(o.metadata.get("llama.pooling_type")).toBe(4);
        expect(o.metadata.get("llama.classifier.output_labels")).toEqual(["LABEL_0"]);
        const sha = createHash("sha256").update(fs.readFileSync(data)).digest("hex");
        expect(o.metadata.get("llama_reward.head.data_sha256")).toBe(sha);
        expect(o.metadata.get("llama_reward.head.train_pairs")).toBe(trained.report.pairs.train);
        expect(o.metadata.get("llama_reward.head.validation_accuracy")).toBe(trained.report.validation!.accuracy);
        expect(o.metadata.get("llama_reward.head.l2")).toBe(1e-3);
        const report = JSON.parse(fs.readFileSync(trained.reportPath!, "utf8")) as { seconds: { features: number; fit: number } };
        expect(trained.reportPath).toBe(path.join(dir, "reward.report.json"));
        expect(report.seconds.fit).toBeGreaterThan(0);
        expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    });

    it("re-heads a reward model from its own head (--init base) or from zero", async () => {
        const fromHead = await trainHead({
            model: out,
            data,
            out: path.join(dir, "rehead.gguf"),
            init: "base",
            report: false,
            load: exact,
        });
        expect(cosine(fromHead.weight, trained.weight)).toBeGreaterThan(0.999);
        expect(fromHead.report.iterations).toBeLessThanOrEqual(trained.report.iterations);
        const o = readGgufHeader(path.join(dir, "rehead.gguf"));
        expect(o.metadata.get("llama_reward.head.init")).toBe("base");
        expect(o.tensors.filter((t) => t.name.startsWith("cls.output.")).map((t) => t.name)).toEqual(["cls.output.weight"]); // no bias asked
        expect(o.tensors.find((t) => t.name === "token_embd.weight")).toBeDefined();
        const fromZero = await trainHead({ model: out, data, out: path.join(dir, "rezero.gguf"), report: false, load: exact });
        expect(cosine(fromZero.weight, trained.weight)).toBeGreaterThan(0.999);
    });

    it("a quantized base stays quantized: its tensors are copied as they are and the result scores", async () => {
        const q8 = path.join(dir, "tiny-q8_0.gguf");
        await quantize(tinyF32, q8, "Q8_0", { threads: 1 });
        const target = path.join(dir, "q8-rm.gguf");
        const small = fs.readFileSync(data, "utf8").split("\n").slice(0, 400).join("\n");
        const pairsFile = path.join(dir, "q8-pairs.jsonl");
        fs.writeFileSync(pairsFile, small);
        const result = await trainHead({ model: q8, data: pairsFile, out: target, report: false, load: exact });
        const b = readGgufHeader(q8);
        const o = readGgufHeader(target);
        expect(b.tensors.some((t) => t.type === GgmlType.Q8_0)).toBe(true);
        for (const t of b.tensors.filter((x) => !x.name.startsWith("cls.output."))) {
            const copy = o.tensors.find((x) => x.name === t.name)!;
            expect(copy.type, t.name).toBe(t.type);
            expect(tensorBytes(target, o, t.name).equals(tensorBytes(q8, b, t.name)), t.name).toBe(true);
        }
        expect(o.tensors.find((t) => t.name === "cls.output.weight")!.type).toBe(GgmlType.F32);
        const model = await RewardModel.load(target, exact);
        try {
            expect(model.info.fileType).toBe("Q8_0");
            const [hidden] = await model.hiddenStates([conversations[0]!]);
            expect(Math.abs((await model.score(conversations[0]!)) - dot(result.weight, hidden!))).toBeLessThanOrEqual(1e-5);
        } finally {
            await model.dispose();
        }
    });

    it("rejects bad input with coded errors naming the line or field, and writes nothing", async () => {
        const target = path.join(dir, "never.gguf");
        const pairs = (n: number) =>
            Array.from({ length: n }, (_, i) => ({ chosen: conversations[2 * i]!, rejected: conversations[2 * i + 1]! }));
        const fails = async (options: Partial<Parameters<typeof trainHead>[0]>, code: string, message: RegExp) => {
            const e = await trainHead({ model: base, data: pairs(40), out: target, report: false, ...options }).then(
                () => undefined,
                (error: unknown) => error as { code?: string; message: string },
            );
            expect(e?.code).toBe(code);
            expect(e?.message).toMatch(message);
        };
        await fails({ data: pairs(5) }, "ERR_INVALID_DATA", /at least 10 training pairs/);
        const same = path.join(dir, "same.jsonl");
        const rows = pairs(20).map((p) => JSON.stringify(p));
        rows[2] = JSON.stringify({ chosen: conversations[0], rejected: conversations[0] });
        fs.writeFileSync(same, rows.join("\n"));
        await fails({ data: same }, "ERR_INVALID_DATA", /same\.jsonl line 3: "chosen" equals "rejected"/);
        fs.writeFileSync(same, `${rows[0]}\n{oops\n`);
        await fails({ data: same }, "ERR_INVALID_DATA", /line 2: not valid JSON/);
        // a reward model of another width
        const narrow = path.join(dir, "narrow.gguf");
        rewriteGguf(tinyF32, narrow, {
            setKeys: new Map([["llama.embedding_length", { type: GgufValueType.UINT32, value: 32 }]]),
            dropTensors: (n) => n.startsWith("cls.output."),
            addTensors: [{ name: "cls.output.weight", shape: [32, 1], type: GgmlType.F32, data: new Uint8Array(128) }],
        });
        await fails({ init: narrow }, "ERR_INVALID_OPTION", /cls\.output\.weight has shape \[32, 1\].*\[64, 1\]/);
        await fails({ init: "base" }, "ERR_NO_REWARD_HEAD", /has no reward head/);
        const notGguf = path.join(dir, "not.gguf");
        fs.writeFileSync(notGguf, "this is not a model");
        await fails({ model: notGguf }, "ERR_NOT_GGUF", /not\.gguf/);
        const gpt2 = path.join(dir, "gpt2.gguf");
        const w = new GgufWriter(gpt2);
        w.addString("general.architecture", "gpt2");
        w.writeHeader();
        w.finish();
        await fails({ model: gpt2 }, "ERR_UNSUPPORTED_ARCHITECTURE", /gpt2/);
        await fails({ validation: 1 }, "ERR_INVALID_OPTION", /validation/);
        await fails({ l2: -1 }, "ERR_INVALID_OPTION", /l2/);
        await fails({ out: path.join(dir, "missing-folder", "x.gguf") }, "ERR_INVALID_OPTION", /cannot write into/);
        await fails({ signal: AbortSignal.abort() }, "ERR_ABORTED", /aborted/);
        expect(fs.existsSync(target)).toBe(false);
        // an existing output is kept unless forced
        fs.writeFileSync(target, "keep me");
        await fails({}, "ERR_INVALID_OPTION", /exists; pass force/);
        expect(fs.readFileSync(target, "utf8")).toBe("keep me");
    });

    it("llama-reward train-head writes the model and report, and refuses to overwrite without --force", () => {
        const small = path.join(dir, "small.jsonl");
        fs.writeFileSync(small, fs.readFileSync(data, "utf8").split("\n").slice(0, 400).join("\n"));
        const target = path.join(dir, "cli.gguf");
        const args = [
            "train-head",
            "-m",
            base,
            "-d",
            small,
            "-o",
            target,
            "--validation",
            "0.25",
            "--seed",
            "5",
            "--l2",
            "0.01",
            "--threads",
            "1",
        ];
        const first = spawnSync(process.execPath, [requireFile(cli), ...args, "--flash-attention", "x"], { encoding: "utf8" });
        expect(first.status).toBe(2); // a bad flag value: a wrong command line, refused before any work
        expect(first.stderr).toMatch(/--flash-attention/);
        const run = spawnSync(process.execPath, [requireFile(cli), ...args], { encoding: "utf8" });
        expect(run.status, run.stderr).toBe(0);
        expect(run.stderr).toMatch(/wrote .*cli\.gguf: validation accuracy .* on 100 pairs, train accuracy .* on 300 pairs/);
        expect(run.stderr).toMatch(/features [\d.]+ s for \d+ conversations, fit [\d.]+ s/);
        const report = JSON.parse(fs.readFileSync(path.join(dir, "cli.report.json"), "utf8")) as {
            seed: number;
            pairs: { validation: number };
        };
        expect(report).toMatchObject({ seed: 5, pairs: { validation: 100 } });
        expect(readGgufHeader(target).metadata.get("llama_reward.head.seed")).toBe(5);
        const again = spawnSync(process.execPath, [requireFile(cli), ...args], { encoding: "utf8" });
        expect(again.status).toBe(2);
        expect(again.stderr).toMatch(/exists; pass force \(--force\).*\[ERR_INVALID_OPTION\]/);
        const forced = spawnSync(process.execPath, [requireFile(cli), ...args, "--force", "--no-report"], { encoding: "utf8" });
        expect(forced.status, forced.stderr).toBe(0);
    });

    it("a new head drops every key of the old head (normalization, gating, LM-head tokens, steps) and keeps the base's own", () => {
        const old = path.join(dir, "old-head.gguf");
        const oldHeadKeys = new Map([
            ["llama_reward.normalization.mean", { type: GgufValueType.FLOAT64, value: 0.5 }],
            ["llama_reward.gating.temperature", { type: GgufValueType.FLOAT32, value: 10 }],
            ["llama_reward.head.lm_head_tokens", { type: GgufValueType.ARRAY, value: [10, 12], elementType: GgufValueType.INT32 }],
            ["llama_reward.steps.format", { type: GgufValueType.STRING, value: "assistant-turns" }],
        ]);
        rewriteGguf(tinyF32, old, { setKeys: oldHeadKeys });
        const reheaded = path.join(dir, "reheaded.gguf");
        const record = { dataSha256: "0", dataFormat: "messages", trainPairs: 1, validationPairs: 0, trainAccuracy: 1, trainLoss: 0 };
        writeRewardModelFile(
            old,
            readGgufHeader(old),
            reheaded,
            { weight: new Float64Array(64).fill(0.01), label: "new" },
            {
                ...record,
                l2: 0,
                seed: 1,
                iterations: 1,
                init: "zeros",
            },
        );
        const before = readGgufHeader(old).metadata;
        const after = readGgufHeader(reheaded).metadata;
        for (const key of oldHeadKeys.keys()) {
            expect(before.has(key), key).toBe(true);
            expect(after.has(key), key).toBe(false);
        }
        // the generator's version describes the base, not the head
        expect(before.get("llama_reward.generator_version")).toBeDefined();
        expect(after.get("llama_reward.generator_version")).toEqual(before.get("llama_reward.generator_version"));
        expect(after.get("llama_reward.head.seed")).toBe(1);
        fs.rmSync(old, { force: true });
        fs.rmSync(reheaded, { force: true });
    });
});
