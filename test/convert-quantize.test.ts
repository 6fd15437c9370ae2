/**
 * Quantizing converted reward models: convert's own Q8_0 (bit-identical to
 * llama_model_quantize's), `quantize()` through llama.cpp with the head kept
 * F32, reward drift against F32, Q4_K_M's pair-order agreement, the error
 * paths, and the `convert` / `quantize` CLI commands.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, convert, quantize, type QuantizeProgress } from "../src/index.js";
import type { ChatMessage } from "../src/model/chat-template.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { GgmlType, ggmlTypeName, type GgufHeader } from "../src/gguf/gguf-types.js";
import { conversations, filler, requireFile, root, vocabFile } from "./support/fixtures.js";
import type { HfCheckpoint } from "./support/hf-checkpoint.js";
import { leftovers, loadVocab, makeWorkDir, writeLlama3Checkpoint } from "./support/hf-fixtures.js";

const work = makeWorkDir("quantize");
const f32 = path.join(work, "f32.gguf");
const convertQ8 = path.join(work, "convert-q8_0.gguf");
const quantQ8 = path.join(work, "quantize-q8_0.gguf");
const quantQ4 = path.join(work, "quantize-q4_k_m.gguf");
const cli = path.join(root, "dist", "src", "cli", "main.js");
let checkpoint: HfCheckpoint;
const q4Progress: QuantizeProgress[] = [];

/** 16 short conversations (120 pairs) for the pair-order measurement. */
const pool: ChatMessage[][] = [
    ...conversations,
    ...Array.from({ length: 12 }, (_, i) => [
        { role: "user", content: filler(12 + (i % 5) * 6, 100 + i) },
        { role: "assistant", content: filler(8 + (i % 3) * 10, 200 + i) },
    ]),
];

beforeAll(async () => {
    checkpoint = writeLlama3Checkpoint(work, loadVocab());
    await convert(checkpoint.dir, f32, { outType: "f32" });
    await convert(checkpoint.dir, convertQ8, { outType: "q8_0" });
    await quantize(f32, quantQ8, "Q8_0", { threads: 2 });
    await quantize(f32, quantQ4, "q4_k_m", { threads: 2, onProgress: (p) => q4Progress.push(p) });
});

afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
});

function typesOf(header: GgufHeader): Map<string, GgmlType> {
    return new Map(header.tensors.map((t) => [t.name, t.type]));
}

function tensorBytes(file: string, header: GgufHeader, name: string): Buffer {
    const t = header.tensors.find((x) => x.name === name)!;
    const fd = fs.openSync(file, "r");
    try {
        const b = Buffer.alloc(t.byteSize);
        fs.readSync(fd, b, 0, t.byteSize, header.dataOffset + t.offset);
        return b;
    } finally {
        fs.closeSync(fd);
    }
}

const scoreCache = new Map<string, number[]>();
async function scores(file: string, cases: ChatMessage[][]): Promise<number[]> {
    if (cases === pool && scoreCache.has(file)) return scoreCache.get(file)!;
    const model = await RewardModel.load(file, { contextSize: 2048, parallel: 4 });
    try {
        const result = await model.scoreBatch(cases);
        if (cases === pool) scoreCache.set(file, result);
        return result;
    } finally {
        await model.dispose();
    }
}

describe("convert --outtype q8_0", () => {
    it("stores weight matrices as Q8_0 and keeps norms and the head F32", () => {
        const h = readGgufHeader(convertQ8);
        expect(h.metadata.get("general.file_type")).toBe(7);
        const types = typesOf(h);
        expect(types.get("token_embd.weight")).toBe(GgmlType.Q8_0);
        expect(types.get("blk.0.attn_q.weight")).toBe(GgmlType.Q8_0);
        expect(types.get("blk.1.ffn_down.weight")).toBe(GgmlType.Q8_0);
        expect(types.get("blk.0.attn_norm.weight")).toBe(GgmlType.F32);
        expect(types.get("output_norm.weight")).toBe(GgmlType.F32);
        expect(types.get("cls.output.weight")).toBe(GgmlType.F32);
    });

    it("is bit-identical to llama_model_quantize's Q8_0 of the F32 conversion", () => {
        const a = readGgufHeader(convertQ8);
        const b = readGgufHeader(quantQ8);
        expect(b.tensors.map((t) => `${t.name}:${ggmlTypeName(t.type)}`).sort()).toEqual(
            a.tensors.map((t) => `${t.name}:${ggmlTypeName(t.type)}`).sort(),
        );
        for (const t of a.tensors) {
            expect(tensorBytes(convertQ8, a, t.name).equals(tensorBytes(quantQ8, b, t.name)), t.name).toBe(true);
        }
    });

    it("quantizes the converter's 64-byte-aligned file into a consistent file at ggml's alignment", () => {
        // llama_model_quantize writes at 32 whatever the input says; a copied general.alignment = 64 described
        // another layout, and the output read as truncated (native/patches/0014-quantize-drop-alignment-key.patch)
        expect(readGgufHeader(f32).alignment).toBe(64);
        for (const file of [quantQ8, quantQ4]) {
            const h = readGgufHeader(file);
            expect(h.metadata.has("general.alignment"), file).toBe(false);
            expect(h.alignment).toBe(32);
        }
    });
});

describe("quantize", () => {
    it("Q8_0 rewards stay within 1e-2 of F32 (relative L2 error over the reward vector)", async () => {
        const ref = await scores(f32, pool);
        const q8 = await scores(quantQ8, pool);
        const norm = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
        const relL2 = norm(q8.map((x, i) => x - ref[i]!)) / norm(ref);
        const worst = Math.max(...q8.map((x, i) => Math.abs(x - ref[i]!))) / Math.max(...ref.map(Math.abs));
        console.log(
            `[quantize] Q8_0 vs F32 over ${pool.length} conversations: ‖Δ‖/‖reward‖ = ${relL2.toExponential(3)}, ` +
                `max |Δ| / max |reward| = ${worst.toExponential(3)} (random-weight test model)`,
        );
        expect(relL2).toBeLessThanOrEqual(1e-2);
        expect(worst).toBeLessThanOrEqual(2e-2);
    });

    it("Q4_K_M keeps the head F32, uses K-quants, reports progress; its pair-order agreement is measured", async () => {
        const h = readGgufHeader(quantQ4);
        const types = typesOf(h);
        expect(h.metadata.get("general.file_type")).toBe(15);
        expect(types.get("cls.output.weight")).toBe(GgmlType.F32);
        expect([GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K]).toContain(types.get("blk.0.ffn_gate.weight"));
        expect([GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K]).toContain(types.get("blk.0.attn_q.weight"));
        expect(fs.statSync(quantQ4).size).toBeLessThan(fs.statSync(f32).size / 4);

        expect(q4Progress.length).toBe(h.tensors.length);
        expect(q4Progress[q4Progress.length - 1]).toMatchObject({ done: h.tensors.length, total: h.tensors.length });
        expect(q4Progress.map((p) => p.tensor).sort()).toEqual(h.tensors.map((t) => t.name).sort());

        const ref = await scores(f32, pool);
        const q4 = await scores(quantQ4, pool);
        let agree = 0;
        let pairs = 0;
        for (let i = 0; i < pool.length; i++) {
            for (let j = i + 1; j < pool.length; j++) {
                pairs++;
                if (Math.sign(ref[i]! - ref[j]!) === Math.sign(q4[i]! - q4[j]!)) agree++;
            }
        }
        const scale = Math.max(...ref.map(Math.abs));
        const rel = Math.max(...q4.map((x, i) => Math.abs(x - ref[i]!))) / scale;
        console.log(
            `[quantize] Q4_K_M vs F32: pair-order agreement ${agree}/${pairs} = ${(agree / pairs).toFixed(3)}, ` +
                `max |Δ| / max |reward| = ${rel.toExponential(3)} (random-weight test model)`,
        );
        // Chance is 0.5; 118/120 is measured on this deterministic model and file. 0.9 leaves room for
        // llama.cpp's kernels to differ by CPU while still failing a quantization that scrambles order.
        expect(agree / pairs).toBeGreaterThanOrEqual(0.9);
    });

    it("rejects an unknown type, listing the valid ones, and writes nothing", async () => {
        const out = path.join(work, "bad.gguf");
        await expect(quantize(f32, out, "Q4_K_X")).rejects.toMatchObject({
            code: "ERR_INVALID_OPTION",
            message: expect.stringMatching(/"Q4_K_X" is not a known type; valid types: (?=.*Q4_K_M)(?=.*Q8_0)/),
        });
        await expect(quantize(f32, out, "IQ2_XXS")).rejects.toMatchObject({
            code: "ERR_INVALID_OPTION",
            message: expect.stringMatching(/importance matrix/),
        });
        expect(leftovers(out)).toEqual([]);
    });

    it("validates the input first", async () => {
        const out = path.join(work, "bad.gguf");
        await expect(quantize(path.join(work, "missing.gguf"), out, "Q8_0")).rejects.toMatchObject({ code: "ERR_MODEL_NOT_FOUND" });
        await expect(quantize(requireFile(vocabFile), out, "Q8_0")).rejects.toMatchObject({ code: "ERR_NO_REWARD_HEAD" });
        await expect(quantize(f32, f32, "Q8_0")).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
        expect(leftovers(out)).toEqual([]);
    });
});

describe("cli convert / quantize", () => {
    function run(args: string[]) {
        return spawnSync(process.execPath, [requireFile(cli), ...args], { encoding: "utf8", cwd: root });
    }

    it("convert then quantize, as the README shows", () => {
        const f16 = path.join(work, "cli-f16.gguf");
        const q4 = path.join(work, "cli-q4_k_m.gguf");
        const a = run(["convert", checkpoint.dir, "-o", f16, "--outtype", "f16"]);
        expect(a.stderr).toMatch(/wrote .*cli-f16\.gguf \(f16,/);
        expect(a.status).toBe(0);
        expect(readGgufHeader(f16).metadata.get("general.file_type")).toBe(1);
        const b = run(["quantize", f16, q4, "Q4_K_M", "--threads", "2"]);
        expect(b.stderr).toMatch(/wrote .*cli-q4_k_m\.gguf \(Q4_K_M,/);
        expect(b.status).toBe(0);
        expect(readGgufHeader(q4).tensors.find((t) => t.name === "cls.output.weight")!.type).toBe(GgmlType.F32);
    });

    it("errors are one line with a code: a wrong command line exits 2, a failure 1", () => {
        const bad = run(["quantize", f32, path.join(work, "x.gguf"), "Q3_X"]);
        expect(bad.status).toBe(2);
        expect(bad.stderr).toMatch(/^llama-reward quantize: .*valid types: .*Q4_K_M.* \[ERR_INVALID_OPTION\]\n$/);
        const missing = run(["convert", path.join(work, "nope"), "-o", path.join(work, "x.gguf")]);
        expect(missing.status).toBe(1);
        expect(missing.stderr).toMatch(/\[ERR_MODEL_NOT_FOUND\]/);
        expect(run(["--help"]).stdout).toMatch(/convert HF_DIR -o OUT\.gguf[\s\S]*quantize IN\.gguf OUT\.gguf TYPE/);
    });
});
