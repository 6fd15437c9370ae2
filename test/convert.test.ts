/**
 * `convert()` against independent truths: the float64 transformers reference
 * on the HF layout (rewards), llama.cpp's own Llama-3 vocab file (tokenizer
 * metadata), Hugging Face's tokenizer vectors (tokenization), and clear
 * errors for broken checkpoints with nothing left at the output path.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, convert, isRewardModelError, type ConvertProgress } from "../src/index.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { readTensorAsFloat64 } from "../src/gguf/gguf-tensor-reader.js";
import { GgmlType, type GgufHeader } from "../src/gguf/gguf-types.js";
import { conversations, filler, vocabFile } from "./support/fixtures.js";
import type { HfCheckpoint } from "./support/hf-checkpoint.js";
import { leftovers, loadVocab, makeWorkDir, writeLlama31Checkpoint, writeLlama3Checkpoint } from "./support/hf-fixtures.js";
import { hfInvFreq, hfReferenceScores } from "./reference/hf-llama-reference.js";
import type { Llama3Vocab } from "./support/hf-tokenizer-json.js";

const work = makeWorkDir("convert");
let vocab: Llama3Vocab;
let llama3: HfCheckpoint;
let llama31: HfCheckpoint;
const llama3Out = path.join(work, "llama3-f32.gguf");
const llama31Out = path.join(work, "llama31-f32.gguf");
const progress: ConvertProgress[] = [];
const headers = new Map<string, GgufHeader>();
/** Each file's header, parsed once (the tokenizer arrays make it slow). */
function header(file: string): GgufHeader {
    if (!headers.has(file)) headers.set(file, readGgufHeader(file));
    return headers.get(file)!;
}

const longConversation = [
    { role: "user", content: filler(160, 11) },
    { role: "assistant", content: filler(60, 12) },
];
const cases = [...conversations, longConversation];

beforeAll(async () => {
    vocab = loadVocab();
    llama3 = writeLlama3Checkpoint(work, vocab);
    llama31 = writeLlama31Checkpoint(work, vocab);
    await convert(llama3.dir, llama3Out, { outType: "f32", onProgress: (p) => progress.push(p) });
    await convert(llama31.dir, llama31Out, { outType: "f32" });
});

afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
});

function tensor(header: GgufHeader, name: string) {
    const t = header.tensors.find((x) => x.name === name);
    if (t === undefined) throw new Error(`no tensor ${name}`);
    return t;
}

describe("convert: the GGUF file", () => {
    it("has llama hparams, the reward-model contract and an F32 head", () => {
        const h = header(llama3Out);
        const m = h.metadata;
        expect(m.get("general.architecture")).toBe("llama");
        expect(m.get("general.file_type")).toBe(0);
        expect(m.get("llama.embedding_length")).toBe(256);
        expect(m.get("llama.block_count")).toBe(2);
        expect(m.get("llama.feed_forward_length")).toBe(512);
        expect(m.get("llama.attention.head_count")).toBe(4);
        expect(m.get("llama.attention.head_count_kv")).toBe(2);
        expect(m.get("llama.context_length")).toBe(8192);
        expect(m.get("llama.rope.freq_base")).toBe(500000);
        expect(m.get("llama.rope.dimension_count")).toBe(64);
        expect(m.get("llama.attention.layer_norm_rms_epsilon")).toBeCloseTo(1e-5, 10);
        expect(m.get("llama.vocab_size")).toBe(128257);
        expect(m.get("llama.pooling_type")).toBe(4);
        expect(m.get("llama.classifier.output_labels")).toEqual(["LABEL_0"]);
        const head = tensor(h, "cls.output.weight");
        expect(head.type).toBe(GgmlType.F32);
        expect(head.shape).toEqual([256, 1]);
        expect(tensor(h, "token_embd.weight").shape).toEqual([256, 128257]);
        expect(h.tensors.some((t) => t.name === "rope_freqs.weight")).toBe(false);
        expect(h.tensors.some((t) => t.name === "output.weight")).toBe(false);
        expect(h.tensors).toHaveLength(1 + 2 * 9 + 2);
        // weights start on cache lines: llama.cpp multiplies mapped F32/F16/BF16 weights in place
        expect(m.get("general.alignment")).toBe(64);
        for (const t of h.tensors) expect((h.dataOffset + t.offset) % 64, t.name).toBe(0);
    });

    it("reports progress up to every checkpoint byte", () => {
        expect(progress.length).toBeGreaterThan(5);
        const last = progress[progress.length - 1]!;
        expect(last.bytesDone).toBe(last.bytesTotal);
        expect(last.tensorsDone).toBe(last.tensorCount);
        expect(last.bytesTotal).toBe(
            fs.statSync(path.join(llama3.dir, "model.safetensors")).size -
                8 -
                Number(fs.readFileSync(path.join(llama3.dir, "model.safetensors")).readBigUInt64LE(0)),
        );
        for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytesDone).toBeGreaterThanOrEqual(progress[i - 1]!.bytesDone);
    });

    it("writes the tokenizer exactly as llama.cpp's converter wrote its Llama-3 vocab file, plus the [PAD]", () => {
        const m = header(llama3Out).metadata;
        const ref = header(vocabFile).metadata;
        expect(m.get("tokenizer.ggml.model")).toBe("gpt2");
        expect(m.get("tokenizer.ggml.pre")).toBe("llama-bpe");
        const tokens = m.get("tokenizer.ggml.tokens") as string[];
        const types = m.get("tokenizer.ggml.token_type") as number[];
        expect(tokens).toHaveLength(128257);
        expect(tokens.slice(0, 128256)).toEqual(ref.get("tokenizer.ggml.tokens"));
        expect(types.slice(0, 128256)).toEqual(ref.get("tokenizer.ggml.token_type"));
        expect(tokens[128256]).toBe("[PAD]");
        expect(types[128256]).toBe(3); // CONTROL
        expect(m.get("tokenizer.ggml.merges")).toEqual(ref.get("tokenizer.ggml.merges"));
        expect(m.get("tokenizer.ggml.bos_token_id")).toBe(128000);
        expect(m.get("tokenizer.ggml.eos_token_id")).toBe(128009);
        expect(m.get("tokenizer.ggml.padding_token_id")).toBe(128256);
        expect(m.get("tokenizer.ggml.add_bos_token")).toBe(true);
        expect(m.get("tokenizer.ggml.add_eos_token")).toBe(false);
        expect(m.get("tokenizer.chat_template")).toMatch(/^\{% set loop_messages = messages %\}/);
    });

    it("reads merges in the pair format and add_bos from the post-processor (Llama-3.1 files)", () => {
        const m = header(llama31Out).metadata;
        const ref = header(vocabFile).metadata;
        expect(m.get("tokenizer.ggml.merges")).toEqual(ref.get("tokenizer.ggml.merges"));
        expect(m.get("tokenizer.ggml.tokens")).toEqual(ref.get("tokenizer.ggml.tokens"));
        expect(m.get("tokenizer.ggml.add_bos_token")).toBe(true);
        expect(m.has("tokenizer.ggml.add_eos_token")).toBe(false);
        expect(m.get("tokenizer.ggml.eos_token_id")).toBe(128009);
        expect(m.get("tokenizer.ggml.padding_token_id")).toBe(128004);
        expect(m.get("llama.classifier.output_labels")).toEqual(["helpful", "harmless"]);
        expect(m.get("llama.vocab_size")).toBe(128256);
    });

    it("writes rope_freqs for llama3 scaling, consistent with transformers' scaled inv_freq", () => {
        const h = header(llama31Out);
        const info = tensor(h, "rope_freqs.weight");
        expect(info.type).toBe(GgmlType.F32);
        expect(info.shape).toEqual([32]);
        const factors = readTensorAsFloat64(llama31Out, h, "rope_freqs.weight");
        const inv = hfInvFreq(llama31.config);
        for (let i = 0; i < 32; i++) {
            const llamaCpp = Math.pow(500000, -(2 * i) / 64) / factors[i]!;
            expect(Math.abs(llamaCpp / inv[i]! - 1)).toBeLessThan(1e-6);
        }
        expect(factors[0]).toBe(1);
        expect(factors[31]).toBe(8);
        expect(new Set(Array.from(factors)).size).toBeGreaterThan(3); // the smooth band is exercised
    });

    it("permutes Q and K rows into llama.cpp's RoPE layout and leaves V alone", () => {
        const h = header(llama3Out);
        const hd = 64;
        for (const [gguf, hf, heads] of [
            ["attn_q", "q_proj", 4],
            ["attn_k", "k_proj", 2],
            ["attn_v", "v_proj", 2],
        ] as const) {
            const got = readTensorAsFloat64(llama3Out, h, `blk.1.${gguf}.weight`);
            const src = llama3.weights.get(`model.layers.1.self_attn.${hf}.weight`)!;
            for (let head = 0; head < heads; head++) {
                for (let j = 0; j < hd / 2; j++) {
                    for (let k = 0; k < 2; k++) {
                        const outRow = head * hd + 2 * j + k;
                        const inRow = gguf === "attn_v" ? outRow : head * hd + k * (hd / 2) + j;
                        expect(got[outRow * 256 + 5]).toBe(src[inRow * 256 + 5]);
                    }
                }
            }
        }
    });
});

function maxAbsDiff(a: number[][], b: number[][]): number {
    let m = 0;
    a.forEach((row, i) =>
        row.forEach((x, j) => {
            m = Math.max(m, Math.abs(x - b[i]![j]!));
        }),
    );
    return m;
}

describe.each([
    ["Llama-3 (BF16, [PAD], 1 label)", () => llama3, () => llama3Out],
    ["Llama-3.1 (sharded F32, llama3 RoPE scaling, 2 labels)", () => llama31, () => llama31Out],
])("convert → score parity with transformers (%s)", (label, checkpoint, out) => {
    let model: RewardModel;
    let expected: number[][];

    beforeAll(async () => {
        model = await RewardModel.load(out(), { flashAttention: false, kvCacheType: "f32", contextSize: 2048 });
        expected = cases.map((c) => hfReferenceScores(checkpoint().config, checkpoint().weights, model.tokenizeConversation(c)));
    });

    afterAll(async () => {
        await model?.dispose();
    });

    it("matches the float64 HF reference within 1e-4 on every label", async () => {
        const got = await Promise.all(cases.map((c) => model.scoreVector(c)));
        const err = maxAbsDiff(got, expected);
        console.log(
            `[convert parity] ${label}: max |Δ| = ${err.toExponential(3)} over ${cases.length} conversations ` +
                `(${model.tokenizeConversation(longConversation).length} tokens in the longest)`,
        );
        expect(err).toBeLessThanOrEqual(1e-4);
        expect(Math.max(...expected.map((e) => e[0]!)) - Math.min(...expected.map((e) => e[0]!))).toBeGreaterThan(1e-2);
    });
});

describe("convert: the llama3 RoPE scaling is load-bearing", () => {
    it("the Llama-3.1 reference changes visibly without it (so parity above tests rope_freqs)", () => {
        const model = RewardModel.load(llama31Out, { contextSize: 1024, parallel: 1 });
        return model.then(async (m) => {
            try {
                const tokens = m.tokenizeConversation(conversations[1]!);
                const scaled = hfReferenceScores(llama31.config, llama31.weights, tokens);
                const plain = hfReferenceScores({ ...llama31.config, rope_scaling: null }, llama31.weights, tokens);
                expect(Math.abs(scaled[0]! - plain[0]!)).toBeGreaterThan(1e-3);
            } finally {
                await m.dispose();
            }
        });
    });
});

describe("convert: tokenization", () => {
    it("the converted file tokenizes every Hugging Face vector for Llama-3 exactly", async () => {
        const model = await RewardModel.load(llama3Out, { contextSize: 512, parallel: 1 });
        try {
            const raw = fs.readFileSync(`${vocabFile}.inp`, "utf8");
            const outs = fs.readFileSync(`${vocabFile}.out`, "utf8").split("\n");
            const inputs = raw.split("\n__ggml_vocab_test__\n");
            if (inputs[inputs.length - 1]!.endsWith("\n__ggml_vocab_test__")) {
                inputs[inputs.length - 1] = inputs[inputs.length - 1]!.slice(0, -"\n__ggml_vocab_test__".length);
            }
            expect(inputs.length).toBeGreaterThanOrEqual(40);
            inputs.forEach((text, i) => {
                const ids = outs[i]!.trim() === "" ? [] : outs[i]!.trim().split(/\s+/).map(Number);
                expect(model.tokenize(text, { special: false }), JSON.stringify(text)).toEqual(ids);
            });
            expect(model.tokenize("[PAD]", { special: true })).toEqual([128000, 128256]);
        } finally {
            await model.dispose();
        }
    });
});

describe("convert: broken checkpoints fail clearly and leave nothing behind", () => {
    const out = () => path.join(work, "broken.gguf");

    /**
     * A copy of the Llama-3 checkpoint with `mutate` applied: the files in
     * `copied` are real copies, the others symbolic links to the originals.
     */
    function brokenCopy(name: string, mutate: (dir: string) => void, copied: string[] = ["config.json"]): string {
        const dir = path.join(work, `broken-${name}`);
        fs.mkdirSync(dir);
        for (const file of fs.readdirSync(llama3.dir)) {
            if (copied.includes(file)) fs.copyFileSync(path.join(llama3.dir, file), path.join(dir, file));
            else fs.symlinkSync(path.join(llama3.dir, file), path.join(dir, file));
        }
        mutate(dir);
        return dir;
    }

    async function expectFailure(dir: string, code: string, message: RegExp): Promise<void> {
        fs.writeFileSync(out(), "previous"); // an existing output survives a failed conversion unchanged
        let error: unknown;
        try {
            await convert(dir, out(), { outType: "f16" });
        } catch (e) {
            error = e;
        }
        expect(isRewardModelError(error), String(error)).toBe(true);
        expect((error as { code: string }).code).toBe(code);
        expect((error as Error).message).toMatch(message);
        expect(fs.readFileSync(out(), "utf8")).toBe("previous");
        fs.rmSync(out());
        expect(leftovers(out())).toEqual([]);
    }

    function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
        const file = path.join(dir, "config.json");
        const c = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
        edit(c);
        fs.writeFileSync(file, JSON.stringify(c));
    }

    /** Rewrites one tensor's dtype in the safetensors header, keeping the header length. */
    function retagDtype(dir: string, tensorName: string, dtype: string): void {
        const file = path.join(dir, "model.safetensors");
        const fd = fs.openSync(file, "r+");
        try {
            const len = Buffer.alloc(8);
            fs.readSync(fd, len, 0, 8, 0);
            const n = Number(len.readBigUInt64LE(0));
            const json = Buffer.alloc(n);
            fs.readSync(fd, json, 0, n, 8);
            const header = JSON.parse(json.toString("utf8")) as Record<string, { dtype: string }>;
            header[tensorName]!.dtype = dtype;
            const text = JSON.stringify(header);
            expect(text.length).toBeLessThanOrEqual(n);
            fs.writeSync(fd, Buffer.from(text.padEnd(n, " ")), 0, n, 8);
        } finally {
            fs.closeSync(fd);
        }
    }

    it("a missing directory is ERR_MODEL_NOT_FOUND", async () => {
        await expectFailure(path.join(work, "no-such-dir"), "ERR_MODEL_NOT_FOUND", /not found/);
    });

    it("missing files", async () => {
        await expectFailure(
            brokenCopy("no-config", (d) => fs.rmSync(path.join(d, "config.json"))),
            "ERR_CONVERT_FAILED",
            /Missing config\.json/,
        );
        await expectFailure(
            brokenCopy("no-tokenizer", (d) => fs.rmSync(path.join(d, "tokenizer.json"))),
            "ERR_CONVERT_FAILED",
            /Missing tokenizer\.json/,
        );
        await expectFailure(
            brokenCopy("no-weights", (d) => fs.rmSync(path.join(d, "model.safetensors"))),
            "ERR_CONVERT_FAILED",
            /has no weights/,
        );
    });

    it("a missing shard of a sharded checkpoint", async () => {
        const dir = path.join(work, "broken-shard");
        fs.cpSync(llama31.dir, dir, { recursive: true });
        fs.rmSync(path.join(dir, "model-00002-of-00003.safetensors"));
        await expectFailure(dir, "ERR_CONVERT_FAILED", /Shard model-00002-of-00003\.safetensors .* is missing/);
    });

    it("an unsupported architecture", async () => {
        const dir = brokenCopy("causal", (d) =>
            editConfig(d, (c) => {
                c.architectures = ["LlamaForCausalLM"];
            }),
        );
        await expectFailure(dir, "ERR_CONVERT_FAILED", /unsupported architecture "LlamaForCausalLM".*language model/);
        const mistral = brokenCopy("mistral", (d) =>
            editConfig(d, (c) => {
                c.architectures = ["MistralForSequenceClassification"];
            }),
        );
        await expectFailure(mistral, "ERR_CONVERT_FAILED", /unsupported architecture/);
    });

    it("an unsupported dtype", async () => {
        await expectFailure(
            brokenCopy("i16", (d) => retagDtype(d, "model.norm.weight", "I16"), ["model.safetensors"]),
            "ERR_CONVERT_FAILED",
            /model\.norm\.weight .* dtype I16/,
        );
        await expectFailure(
            brokenCopy("f64", (d) =>
                editConfig(d, (c) => {
                    c.torch_dtype = "float64";
                }),
            ),
            "ERR_CONVERT_FAILED",
            /torch_dtype "float64"/,
        );
    });

    it("shape mismatches between config.json and the tensors", async () => {
        const dir = brokenCopy("shape", (d) =>
            editConfig(d, (c) => {
                c.intermediate_size = 768;
            }),
        );
        await expectFailure(
            dir,
            "ERR_CONVERT_FAILED",
            /mlp\.gate_proj\.weight has shape \[512, 256\], but config\.json implies \[768, 256\]/,
        );
        const heads = brokenCopy("heads", (d) =>
            editConfig(d, (c) => {
                c.num_key_value_heads = 4;
            }),
        );
        await expectFailure(heads, "ERR_CONVERT_FAILED", /k_proj\.weight has shape/);
        const vocabSize = brokenCopy("vocab", (d) =>
            editConfig(d, (c) => {
                c.vocab_size = 128256;
            }),
        );
        await expectFailure(
            vocabSize,
            "ERR_CONVERT_FAILED",
            /embed_tokens\.weight has shape \[128257, 256\], but config\.json implies \[128256, 256\]/,
        );
        const layers = brokenCopy("layers", (d) =>
            editConfig(d, (c) => {
                c.num_hidden_layers = 1;
            }),
        );
        await expectFailure(layers, "ERR_CONVERT_FAILED", /Unexpected tensor model\.layers\.1\./);
        const labels = brokenCopy("labels", (d) =>
            editConfig(d, (c) => {
                c.id2label = { 0: "a", 1: "b" };
            }),
        );
        await expectFailure(labels, "ERR_CONVERT_FAILED", /id2label has 2 labels but score\.weight has 1 row/);
    });

    it("a truncated safetensors file", async () => {
        const dir = brokenCopy(
            "truncated",
            (d) => {
                const file = path.join(d, "model.safetensors");
                fs.truncateSync(file, fs.statSync(file).size - 1000);
            },
            ["model.safetensors"],
        );
        await expectFailure(dir, "ERR_CONVERT_FAILED", /model\.safetensors is truncated/);
    });

    it("a tokenizer that is not Llama-3's", async () => {
        const dir = brokenCopy(
            "pretok",
            (d) => {
                const file = path.join(d, "tokenizer.json");
                const t = JSON.parse(fs.readFileSync(file, "utf8")) as { pre_tokenizer: unknown };
                t.pre_tokenizer = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
                fs.writeFileSync(file, JSON.stringify(t));
            },
            ["tokenizer.json"],
        );
        await expectFailure(dir, "ERR_CONVERT_FAILED", /pre-tokenizer is not Llama-3's/);
    });

    it("an aborted conversion is ERR_ABORTED", async () => {
        const controller = new AbortController();
        fs.writeFileSync(out(), "previous");
        const promise = convert(llama3.dir, out(), {
            signal: controller.signal,
            onProgress: () => controller.abort(),
        });
        await expect(promise).rejects.toMatchObject({ code: "ERR_ABORTED" });
        expect(fs.readFileSync(out(), "utf8")).toBe("previous");
        fs.rmSync(out());
        expect(leftovers(out())).toEqual([]);
    });

    it("a bad outType is ERR_INVALID_OPTION", async () => {
        await expect(convert(llama3.dir, out(), { outType: "q4_0" as never })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        expect(leftovers(out())).toEqual([]);
    });
});
