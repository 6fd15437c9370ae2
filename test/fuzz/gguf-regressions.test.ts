/**
 * Every process death the GGUF fuzzer found, kept as a regression: the exact
 * edit that killed the process (seed and case in each title), which must now
 * be rejected with a RewardModelError code before llama.cpp sees the file.
 * Near-miss edits that are valid must still load and score.
 */
import * as fs from "node:fs";
import * as path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { RewardModel, RewardModelError, type IsolatedRewardModel } from "../../src/index.js";
import { GgmlType, GgufValueType, ggmlTensorByteSize } from "../../src/gguf/gguf-types.js";
import { cloneLayout, type GgufLayout } from "./gguf-layout.js";
import { writeCase, type FuzzBase } from "./gguf-mutations.js";
import { loadFuzzBases, makeScratchDir, runTarget, type FuzzOutcome } from "./gguf-fuzz-target.js";
import { serializeLayout } from "./gguf-layout.js";
import { setKv, vocabCorruptions } from "./vocab-corruptions.js";

let bases: FuzzBase[];
let dir: string;

beforeAll(() => {
    bases = loadFuzzBases();
    dir = makeScratchDir();
});

afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
});

/** Changes a tensor's type and resizes its data to match, as the fuzzer's tensor-type mutation does. */
function retype(layout: GgufLayout, name: string, type: GgmlType): void {
    const t = layout.tensors.find((x) => x.name === name)!;
    t.type = type;
    t.data = Buffer.alloc(ggmlTensorByteSize(type, t.dims.map(Number)));
}

let counter = 0;
function writeEdited(base: "tiny-f16" | "tiny-f32", edit: (layout: GgufLayout) => void): string {
    const layout = cloneLayout(bases.find((b) => b.name === base)!.layout);
    edit(layout);
    const file = path.join(dir, `regression-${counter++}.gguf`);
    writeCase({ seed: 0, index: 0, base, kind: "hparam", mutation: "", serialized: serializeLayout(layout) }, file);
    return file;
}

async function run(base: "tiny-f16" | "tiny-f32", edit: (layout: GgufLayout) => void): Promise<FuzzOutcome> {
    const file = writeEdited(base, edit);
    try {
        return await runTarget(file);
    } finally {
        fs.rmSync(file, { force: true });
    }
}

/**
 * What llama.cpp does with `file` when llama-reward checks nothing: loads it
 * (and scores once) in an isolated engine with the test-only switch that
 * skips the file checks. "abort" is the engine process dying.
 */
async function uncheckedOutcome(file: string): Promise<{ outcome: "abort" | "refuses" | "accepts"; detail: string }> {
    let model: IsolatedRewardModel | undefined;
    try {
        process.env.LLAMA_REWARD_TEST_ONLY_SKIP_FILE_CHECKS = "1"; // the engine process inherits it
        try {
            model = await RewardModel.load(file, { isolate: true, contextSize: 256, batchSize: 256, parallel: 2, threads: 1 });
        } finally {
            delete process.env.LLAMA_REWARD_TEST_ONLY_SKIP_FILE_CHECKS;
        }
        // text beyond ASCII, with a tab and a newline: tokenizers fall back to bytes on it
        await model.score([
            { role: "user", content: "Is this file intact? héllo ☃ wörld\n\ttabs 😀" },
            { role: "assistant", content: "Probably not." },
        ]);
        return { outcome: "accepts", detail: "loaded and scored" };
    } catch (error) {
        if (!(error instanceof RewardModelError)) throw error;
        const outcome = error.code === "ERR_ENGINE_CRASHED" ? "abort" : "refuses";
        return { outcome, detail: `${error.code}: ${error.message.slice(-300)}` };
    } finally {
        await model?.dispose();
    }
}

interface Death {
    title: string;
    base: "tiny-f16" | "tiny-f32";
    edit: (layout: GgufLayout) => void;
    message: RegExp;
    /** What llama.cpp does with the file unchecked on this build, when it is not a death any more. */
    unchecked?: "accepts";
}

const deaths: Death[] = [
    {
        title: "seed 1 case 14: reward head F32 -> I64 (SIGSEGV in mul_mat: no I64 dot product)",
        base: "tiny-f16",
        edit: (l) => retype(l, "cls.output.weight", GgmlType.I64),
        message: /cls\.output\.weight has type I64/,
    },
    {
        title: "seed 1 case 64: attn_k F16 -> I16 (SIGSEGV in mul_mat)",
        base: "tiny-f16",
        edit: (l) => retype(l, "blk.0.attn_k.weight", GgmlType.I16),
        message: /type I16/,
    },
    {
        title: "seed 1 case 238: attn_k F16 -> I32 (SIGSEGV in mul_mat)",
        base: "tiny-f16",
        edit: (l) => retype(l, "blk.0.attn_k.weight", GgmlType.I32),
        message: /type I32/,
    },
    {
        title: "seed 1 case 220: ffn_norm F32 -> Q8_1 (abort: binary_op unsupported types)",
        base: "tiny-f16",
        edit: (l) => {
            retype(l, "blk.0.ffn_norm.weight", GgmlType.Q8_1);
        },
        message: /type Q8_1/,
    },
    {
        title: "a norm quantized to Q8_0 (abort: binary_op unsupported types)",
        base: "tiny-f32",
        edit: (l) => {
            retype(l, "output_norm.weight", GgmlType.Q8_0);
        },
        message: /norms and biases must be F32/,
    },
    {
        title: "seed 1 case 34: expert_used_count 0xffffffff without experts (GGML_ASSERT in load_hparams)",
        base: "tiny-f16",
        edit: (l) => setKv(l, "llama.expert_used_count", GgufValueType.UINT32, 0xffffffff),
        message: /mixture-of-experts/,
    },
    {
        title: 'seed 1 case 101: rope.scaling.type "" (GGML_ASSERT rope_scaling_type_train != UNSPECIFIED)',
        base: "tiny-f16",
        edit: (l) => setKv(l, "llama.rope.scaling.type", GgufValueType.STRING, ""),
        message: /rope\.scaling\.type/,
    },
    {
        title: "seed 1 case 270: layer_norm_rms_epsilon -1 (GGML_ASSERT(eps >= 0) in the first decode)",
        base: "tiny-f32",
        edit: (l) => setKv(l, "llama.attention.layer_norm_rms_epsilon", GgufValueType.FLOAT32, -1),
        message: /epsilon/,
    },
    {
        title: "layer_norm_rms_epsilon NaN (GGML_ASSERT(eps >= 0) in the first decode)",
        base: "tiny-f16",
        edit: (l) => setKv(l, "llama.attention.layer_norm_rms_epsilon", GgufValueType.FLOAT32, Number.NaN),
        message: /epsilon/,
    },
    {
        title: "seed 3 case 148: general.alignment 1 (GGML_ASSERT buffer pointer must be aligned, mapping the weights)",
        base: "tiny-f16",
        edit: (l) => setKv(l, "general.alignment", GgufValueType.UINT32, 1),
        message: /alignment/,
    },
    {
        title: "general.alignment 16 (tensor data 16-byte aligned: the same assertion)",
        base: "tiny-f32",
        edit: (l) => setKv(l, "general.alignment", GgufValueType.UINT32, 16),
        message: /alignment/,
        // 16-byte aligned data happens to satisfy the CPU buffer on this build; ggml's TENSOR_ALIGNMENT is 32
        unchecked: "accepts",
    },
    {
        title: "block_count 0 (GGML_ASSERT n_layer_all > 0)",
        base: "tiny-f16",
        edit: (l) => setKv(l, "llama.block_count", GgufValueType.UINT32, 0),
        message: /block_count/,
    },
    {
        title: "block_count 513 (GGML_ASSERT n_layer_all <= LLAMA_MAX_LAYERS)",
        base: "tiny-f16",
        edit: (l) => setKv(l, "llama.block_count", GgufValueType.UINT32, 513),
        message: /block_count/,
    },
    {
        title: "structured seed 1 case 219: head_count_kv per layer [2, 3] (GGML_ASSERT(a->ne[0] == b->ne[0]) in the first decode)",
        base: "tiny-f16",
        edit: (l) => setKv(l, "llama.attention.head_count_kv", GgufValueType.ARRAY, [2, 3], GgufValueType.UINT32),
        message: /head_count_kv per layer \[2, 3\]/,
    },
    {
        title: "head_count_kv per layer [2, 1] (the same mismatch, fewer heads in the second layer)",
        base: "tiny-f32",
        edit: (l) => setKv(l, "llama.attention.head_count_kv", GgufValueType.ARRAY, [2, 1], GgufValueType.UINT32),
        message: /head_count_kv per layer \[2, 1\]/,
    },
    {
        title: "a token text listed twice (GGML_ASSERT id_to_token.size() == token_to_id.size())",
        base: "tiny-f16",
        edit: (l) => {
            const kv = l.kvs.find((x) => x.key === "tokenizer.ggml.tokens")!;
            const tokens = [...(kv.value as string[])];
            tokens[5] = tokens[6]!;
            setKv(l, kv.key, GgufValueType.ARRAY, tokens, GgufValueType.STRING);
        },
        message: /repeats the text of token/,
    },
];

describe("process deaths found by the GGUF fuzzer are rejected before llama.cpp", () => {
    for (const d of deaths) {
        it(d.title, async () => {
            const file = writeEdited(d.base, d.edit);
            try {
                // unchecked, the file still kills the engine process: the check below is what stands in front
                const unchecked = await uncheckedOutcome(file);
                expect(unchecked.outcome, unchecked.detail).toBe(d.unchecked ?? "abort");
                const outcome = await runTarget(file);
                expect(outcome).toMatchObject({ kind: "rejected", stage: "load", code: "ERR_CORRUPT_MODEL" });
                expect((outcome as { message: string }).message).toMatch(d.message);
            } finally {
                fs.rmSync(file, { force: true });
            }
        }, 60_000);
    }
});

describe("tokenizer corruptions: what llama.cpp does with each unchecked, and the check now in front of it", () => {
    for (const c of vocabCorruptions) {
        it(`${c.title}: ${c.key} (llama.cpp unchecked: ${c.llamaCpp})`, async () => {
            const file = writeEdited("tiny-f32", c.edit);
            try {
                // the file really does what the title says to llama.cpp (for "abort": kills the process)
                const unchecked = await uncheckedOutcome(file);
                expect(unchecked.outcome, unchecked.detail).toBe(c.llamaCpp);
                if (c.llamaCpp === "abort") expect(unchecked.detail).toMatch(/GGML_ASSERT|SIGABRT/);
                // and llama-reward rejects it first, naming the key
                const outcome = await runTarget(file);
                expect(outcome).toMatchObject({ kind: "rejected", stage: "load", code: "ERR_CORRUPT_MODEL" });
                expect((outcome as { message: string }).message).toContain(`: ${c.key} `);
            } finally {
                fs.rmSync(file, { force: true });
            }
        }, 60_000);
    }
});

describe("a hang found by the GGUF fuzzer is rejected before llama.cpp", () => {
    // not replayed unchecked here: the RWKV tokenizer grows to gigabytes within a second on this text
    it('structured seed 2 case 432: tokenizer.ggml.model "rwkv" with <0xXX> byte tokens (runaway memory, then std::bad_alloc)', async () => {
        const outcome = await run("tiny-f16", (l) => {
            setKv(l, "tokenizer.ggml.model", GgufValueType.STRING, "rwkv");
            const tokens = [...(l.kvs.find((kv) => kv.key === "tokenizer.ggml.tokens")!.value as string[])];
            for (let b = 0; b < 256; b++) tokens[b] = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
            setKv(l, "tokenizer.ggml.tokens", GgufValueType.ARRAY, tokens, GgufValueType.STRING);
        });
        expect(outcome).toMatchObject({ kind: "rejected", stage: "load", code: "ERR_CORRUPT_MODEL" });
        expect((outcome as { message: string }).message).toMatch(
            /tokenizer\.ggml\.model "rwkv" is not the tokenizer of a llama reward model/,
        );
    });
});

describe("untyped errors found by the GGUF fuzzer are coded rejections now", () => {
    it("structured seed 1 case 412: head_count as an array of 128256 (RangeError: Maximum call stack size exceeded)", async () => {
        const outcome = await run("tiny-f16", (l) =>
            setKv(l, "llama.attention.head_count", GgufValueType.ARRAY, new Array<number>(128256).fill(4), GgufValueType.INT32),
        );
        expect(outcome).toMatchObject({ kind: "rejected", stage: "load" });
    });

    it('structured seed 2 case 125: tokenizer.ggml.model "no_vocab" (BOS -1: Error "token id -1 is outside the vocabulary")', async () => {
        const outcome = await run("tiny-f32", (l) => setKv(l, "tokenizer.ggml.model", GgufValueType.STRING, "no_vocab"));
        expect(outcome).toMatchObject({ kind: "rejected", stage: "load", code: "ERR_CORRUPT_MODEL" });
    });
});

describe("valid neighbours of those files still load and score", () => {
    it("per-layer arrays of head counts and feed-forward length (uniform, and a head count that varies)", async () => {
        const outcome = await run("tiny-f16", (l) => {
            for (const key of ["llama.attention.head_count", "llama.attention.head_count_kv", "llama.feed_forward_length"]) {
                const v = l.kvs.find((kv) => kv.key === key)!.value as number;
                setKv(l, key, GgufValueType.ARRAY, [v, v], GgufValueType.UINT32);
            }
        });
        expect(outcome.kind).toBe("score");
        const varying = await run("tiny-f32", (l) => {
            setKv(l, "llama.attention.head_count", GgufValueType.ARRAY, [4, 8], GgufValueType.UINT32);
            setKv(l, "llama.feed_forward_length", GgufValueType.ARRAY, [128, 256], GgufValueType.UINT32);
        });
        expect(varying.kind).toBe("score");
    });

    it("a supported RoPE scaling type, a zero epsilon and explicit zero expert counts", async () => {
        const outcome = await run("tiny-f16", (l) => {
            setKv(l, "llama.rope.scaling.type", GgufValueType.STRING, "linear");
            setKv(l, "llama.attention.layer_norm_rms_epsilon", GgufValueType.FLOAT32, 0);
            setKv(l, "llama.expert_count", GgufValueType.UINT32, 0);
            setKv(l, "llama.expert_used_count", GgufValueType.UINT32, 0);
        });
        expect(outcome.kind).toBe("score");
    });

    it('an SPM vocabulary (tokenizer.ggml.model "llama") that spells every byte as <0xXX>', async () => {
        const outcome = await run("tiny-f32", (l) => {
            setKv(l, "tokenizer.ggml.model", GgufValueType.STRING, "llama");
            const tokens = [...(l.kvs.find((kv) => kv.key === "tokenizer.ggml.tokens")!.value as string[])];
            for (let b = 0; b < 256; b++) tokens[b] = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
            setKv(l, "tokenizer.ggml.tokens", GgufValueType.ARRAY, tokens, GgufValueType.STRING);
        });
        expect(outcome.kind).toBe("score");
    });

    it("general.alignment 64", async () => {
        expect((await run("tiny-f16", (l) => setKv(l, "general.alignment", GgufValueType.UINT32, 64))).kind).toBe("score");
    });

    it("an F16 reward head (quantize keeps the head's type) in an F32 model", async () => {
        const outcome = await run("tiny-f32", (l) => {
            retype(l, "cls.output.weight", GgmlType.F16);
        });
        expect(outcome.kind).toBe("score");
    });
});
