/**
 * The GGUF layer without the addon or a model: writer → reader round trips,
 * the writer's misuse errors, the reader's error codes and half-precision
 * conversions (the tiny-model generator is tested in
 * test/tiny-model-generator.test.ts, with the llama.cpp vocabulary).
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { isRewardModelError, type RewardErrorCode } from "../../src/errors.js";
import { bf16ToFloat32, f16ToFloat32, float32ArrayToF16, float32Bits, float32ToBf16, float32ToF16 } from "../../src/gguf/float16.js";
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { readTensorAsFloat64 } from "../../src/gguf/gguf-tensor-reader.js";
import { GgmlType, GgufValueType } from "../../src/gguf/gguf-types.js";
import { GgufWriter } from "../../src/gguf/gguf-writer.js";

let tmp: string;
beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-gguf-"));
});
afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
});

function expectCode(fn: () => unknown, code: RewardErrorCode, ...fragments: (string | RegExp)[]): void {
    let caught: unknown;
    try {
        fn();
    } catch (e) {
        caught = e;
    }
    expect(caught, `expected ${code}`).toBeDefined();
    if (!isRewardModelError(caught, code)) throw caught;
    for (const f of fragments) expect(caught.message).toMatch(f);
}

function bytesOf(a: Float32Array | Uint16Array | Int8Array | Uint8Array): Uint8Array {
    return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** One Q8_0 block: an f16 scale then 32 int8 quants. */
function q8Block(scale: number, quants: number[]): Uint8Array {
    const b = new Uint8Array(34);
    new DataView(b.buffer).setUint16(0, float32ToF16(scale), true);
    b.set(bytesOf(Int8Array.from(quants)), 2);
    return b;
}

const f32Data = Float32Array.from({ length: 6 * 4 }, (_, i) => i * 0.25 - 3);
const f16Values = [0, 1, -2, 0.5, 65504, 1 / 1024, -0.125, 3.140625];
const bf16Values = [1, -1, 2, 0.5, 256, -3.5, 1e-3, 12345];
const q8Quants = Array.from({ length: 64 }, (_, i) => ((i * 7) % 255) - 127);

/** Writes a small GGUF with every metadata type and four tensor types. */
function writeSample(file: string): void {
    const w = new GgufWriter(file);
    w.addKv("t.u8", GgufValueType.UINT8, 200);
    w.addKv("t.i8", GgufValueType.INT8, -100);
    w.addKv("t.u16", GgufValueType.UINT16, 60000);
    w.addKv("t.i16", GgufValueType.INT16, -30000);
    w.addU32("t.u32", 4000000000);
    w.addI32("t.i32", -2000000000);
    w.addF32("t.f32", 0.1);
    w.addBool("t.bool.true", true);
    w.addBool("t.bool.false", false);
    w.addString("t.string", "héllo ✓ <|eot_id|>\n");
    w.addString("t.empty", "");
    w.addU64("t.u64", 2n ** 63n + 5n);
    w.addKv("t.i64", GgufValueType.INT64, -(2n ** 62n));
    w.addF64("t.f64", Math.PI);
    w.addStringArray("t.arr.str", ["a", "", "ß", "<|begin_of_text|>"]);
    w.addI32Array("t.arr.i32", [1, -2, 3]);
    w.addU32Array("t.arr.u32", [4000000000, 0]);
    w.addF32Array("t.arr.f32", [0.5, -1.25]);
    w.addKv("t.arr.u8", GgufValueType.ARRAY, [1, 2, 255], GgufValueType.UINT8);
    w.addKv("t.arr.bool", GgufValueType.ARRAY, [true, false], GgufValueType.BOOL);
    w.addKv("t.arr.i64", GgufValueType.ARRAY, [-1n, 7n], GgufValueType.INT64);
    w.addKv("t.arr.empty", GgufValueType.ARRAY, [], GgufValueType.FLOAT32);
    w.addTensorInfo("a.f32", [6, 4], GgmlType.F32);
    w.addTensorInfo("b.f16", [f16Values.length], GgmlType.F16);
    w.addTensorInfo("c.bf16", [bf16Values.length], GgmlType.BF16);
    w.addTensorInfo("d.q8_0", [32, 2], GgmlType.Q8_0);
    w.writeHeader();
    w.writeTensorData("a.f32", bytesOf(f32Data));
    w.writeTensorData("b.f16", bytesOf(float32ArrayToF16(f16Values)));
    w.writeTensorData("c.bf16", bytesOf(Uint16Array.from(bf16Values, float32ToBf16)));
    // Q8_0 data in two chunks: chunked writes make up one tensor.
    w.writeTensorData("d.q8_0", q8Block(0.5, q8Quants.slice(0, 32)));
    w.writeTensorData("d.q8_0", q8Block(-0.03125, q8Quants.slice(32)));
    w.finish();
}

describe("GGUF writer → reader round trip", () => {
    let file: string;
    beforeAll(() => {
        file = path.join(tmp, "sample.gguf");
        writeSample(file);
    });

    it("renames the temporary file into place", () => {
        expect(fs.existsSync(file)).toBe(true);
        expect(fs.existsSync(`${file}.tmp`)).toBe(false);
    });

    it("reads back every metadata type", () => {
        const h = readGgufHeader(file);
        expect(h.version).toBe(3);
        const m = h.metadata;
        expect(m.get("t.u8")).toBe(200);
        expect(m.get("t.i8")).toBe(-100);
        expect(m.get("t.u16")).toBe(60000);
        expect(m.get("t.i16")).toBe(-30000);
        expect(m.get("t.u32")).toBe(4000000000);
        expect(m.get("t.i32")).toBe(-2000000000);
        expect(m.get("t.f32")).toBe(Math.fround(0.1));
        expect(m.get("t.bool.true")).toBe(true);
        expect(m.get("t.bool.false")).toBe(false);
        expect(m.get("t.string")).toBe("héllo ✓ <|eot_id|>\n");
        expect(m.get("t.empty")).toBe("");
        expect(m.get("t.u64")).toBe(2n ** 63n + 5n);
        expect(m.get("t.i64")).toBe(-(2n ** 62n));
        expect(m.get("t.f64")).toBe(Math.PI);
        expect(m.get("t.arr.str")).toEqual(["a", "", "ß", "<|begin_of_text|>"]);
        expect(m.get("t.arr.i32")).toEqual([1, -2, 3]);
        expect(m.get("t.arr.u32")).toEqual([4000000000, 0]);
        expect(m.get("t.arr.f32")).toEqual([0.5, -1.25]);
        expect(m.get("t.arr.u8")).toEqual([1, 2, 255]);
        expect(m.get("t.arr.bool")).toEqual([true, false]);
        expect(m.get("t.arr.i64")).toEqual([-1n, 7n]);
        expect(m.get("t.arr.empty")).toEqual([]);
        expect(h.metadataTypes.get("t.arr.str")).toEqual({ type: GgufValueType.ARRAY, elementType: GgufValueType.STRING });
        expect(h.metadataTypes.get("t.i16")).toEqual({ type: GgufValueType.INT16 });
        expect([...m.keys()][0]).toBe("t.u8"); // file order
    });

    it("reads back the tensor table with aligned offsets", () => {
        const h = readGgufHeader(file);
        expect(h.alignment).toBe(32);
        expect(h.dataOffset % 32).toBe(0);
        expect(h.tensors.map((t) => [t.name, t.shape, t.type, t.byteSize])).toEqual([
            ["a.f32", [6, 4], GgmlType.F32, 96],
            ["b.f16", [8], GgmlType.F16, 16],
            ["c.bf16", [8], GgmlType.BF16, 16],
            ["d.q8_0", [32, 2], GgmlType.Q8_0, 68],
        ]);
        for (const t of h.tensors) expect(t.offset % 32).toBe(0);
        expect(h.fileSize).toBe(fs.statSync(file).size);
        const last = h.tensors[h.tensors.length - 1]!;
        expect(h.fileSize).toBeGreaterThanOrEqual(h.dataOffset + last.offset + last.byteSize);
    });

    it("dequantizes F32, F16, BF16 and Q8_0 tensors", () => {
        const h = readGgufHeader(file);
        expect(Array.from(readTensorAsFloat64(file, h, "a.f32"))).toEqual(Array.from(f32Data));
        expect(Array.from(readTensorAsFloat64(file, h, "b.f16"))).toEqual(f16Values); // all exact in f16
        expect(Array.from(readTensorAsFloat64(file, h, "c.bf16"))).toEqual(bf16Values.map((v) => bf16ToFloat32(float32ToBf16(v))));
        const q8 = readTensorAsFloat64(file, h, "d.q8_0");
        const expected = q8Quants.map((q, i) => (i < 32 ? 0.5 : -0.03125) * q);
        expect(Array.from(q8)).toEqual(expected);
        expectCode(() => readTensorAsFloat64(file, h, "nope"), "ERR_INVALID_OPTION", "nope");
    });

    it("honours a non-default alignment", () => {
        const f = path.join(tmp, "align64.gguf");
        const w = new GgufWriter(f, { alignment: 64 });
        w.addTensorInfo("x", [3], GgmlType.F32);
        w.addTensorInfo("y", [5], GgmlType.F32);
        w.writeHeader();
        w.writeTensorData("x", bytesOf(Float32Array.of(1, 2, 3)));
        w.writeTensorData("y", bytesOf(Float32Array.of(4, 5, 6, 7, 8)));
        w.finish();
        const h = readGgufHeader(f);
        expect(h.alignment).toBe(64);
        expect(h.metadata.get("general.alignment")).toBe(64);
        expect(h.dataOffset % 64).toBe(0);
        expect(h.tensors[1]!.offset).toBe(64);
        expect(Array.from(readTensorAsFloat64(f, h, "y"))).toEqual([4, 5, 6, 7, 8]);
    });
});

describe("GGUF writer misuse and failure", () => {
    function started(name: string): GgufWriter {
        const w = new GgufWriter(path.join(tmp, name));
        w.addTensorInfo("first", [4], GgmlType.F32);
        w.addTensorInfo("second", [2], GgmlType.F32);
        w.writeHeader();
        return w;
    }

    it("rejects tensors out of declaration order", () => {
        const w = started("order.gguf");
        expectCode(() => w.writeTensorData("second", new Uint8Array(8)), "ERR_INVALID_OPTION", /declaration order/);
        w.abort();
    });

    it("rejects data larger than the tensor", () => {
        const w = started("size.gguf");
        expectCode(() => w.writeTensorData("first", new Uint8Array(20)), "ERR_INVALID_OPTION", /16 bytes/);
        w.abort();
    });

    it("rejects moving on from an incomplete tensor, and finishing early", () => {
        const w = started("incomplete.gguf");
        w.writeTensorData("first", new Uint8Array(8));
        expectCode(() => w.writeTensorData("second", new Uint8Array(8)), "ERR_INVALID_OPTION", /incomplete/);
        expectCode(() => w.finish(), "ERR_INVALID_OPTION", /first/);
        w.writeTensorData("first", new Uint8Array(8));
        expectCode(() => w.finish(), "ERR_INVALID_OPTION", /second/);
        w.abort();
    });

    it("abort() removes the temporary file and never creates the output", () => {
        const w = started("aborted.gguf");
        expect(fs.existsSync(w.tmpPath)).toBe(true);
        w.writeTensorData("first", new Uint8Array(16));
        w.abort();
        w.abort();
        expect(fs.existsSync(w.tmpPath)).toBe(false);
        expect(fs.existsSync(w.outPath)).toBe(false);
    });

    it("rejects duplicate keys and tensors, and partial quant blocks", () => {
        const w = new GgufWriter(path.join(tmp, "dup.gguf"));
        w.addU32("k", 1);
        expectCode(() => w.addU32("k", 2), "ERR_INVALID_OPTION");
        w.addTensorInfo("t", [32], GgmlType.Q8_0);
        expectCode(() => w.addTensorInfo("t", [32], GgmlType.Q8_0), "ERR_INVALID_OPTION");
        expectCode(() => w.addTensorInfo("u", [33], GgmlType.Q8_0), "ERR_INVALID_OPTION", /block size/);
    });
});

describe("readGgufHeader errors", () => {
    /** A valid file's bytes, to be damaged by each test. */
    let valid: Buffer;
    let header: ReturnType<typeof readGgufHeader>;
    beforeAll(() => {
        const f = path.join(tmp, "valid.gguf");
        writeSample(f);
        valid = fs.readFileSync(f);
        header = readGgufHeader(f);
    });

    function damaged(name: string, bytes: Uint8Array): string {
        const f = path.join(tmp, name);
        fs.writeFileSync(f, bytes);
        return f;
    }

    it("ERR_MODEL_NOT_FOUND for a missing file, naming it", () => {
        const f = path.join(tmp, "does-not-exist.gguf");
        expectCode(() => readGgufHeader(f), "ERR_MODEL_NOT_FOUND", f);
    });

    it("ERR_MODEL_NOT_FOUND for a directory and for an empty path", () => {
        expectCode(() => readGgufHeader(tmp), "ERR_MODEL_NOT_FOUND", tmp, /directory/);
        expectCode(() => readGgufHeader(""), "ERR_MODEL_NOT_FOUND");
    });

    it("ERR_NOT_GGUF for another kind of file", () => {
        const f = damaged("text.gguf", Buffer.from("this is not a model, just some text\n"));
        expectCode(() => readGgufHeader(f), "ERR_NOT_GGUF", f, /magic/);
        const tiny = damaged("tiny.gguf", Buffer.from("GGU"));
        expectCode(() => readGgufHeader(tiny), "ERR_NOT_GGUF", tiny);
        const empty = damaged("empty.gguf", new Uint8Array(0));
        expectCode(() => readGgufHeader(empty), "ERR_NOT_GGUF", empty);
    });

    it("ERR_NOT_GGUF for unsupported versions", () => {
        for (const version of [1, 4, 0x03000000]) {
            const b = Buffer.from(valid);
            b.writeUInt32LE(version, 4);
            const f = damaged(`version-${version}.gguf`, b);
            expectCode(() => readGgufHeader(f), "ERR_NOT_GGUF", f, /version/);
        }
    });

    it("accepts version 2", () => {
        const b = Buffer.from(valid);
        b.writeUInt32LE(2, 4);
        expect(readGgufHeader(damaged("version-2.gguf", b)).version).toBe(2);
    });

    it("ERR_CORRUPT_MODEL 'truncated' when tensor data is cut off", () => {
        const last = header.tensors[header.tensors.length - 1]!;
        const needed = header.dataOffset + last.offset + last.byteSize;
        const f = damaged("truncated.gguf", valid.subarray(0, needed - 10));
        expectCode(() => readGgufHeader(f), "ERR_CORRUPT_MODEL", f, /truncated/, `expected ${needed} bytes, file has ${needed - 10}`);
    });

    it("ERR_CORRUPT_MODEL when the header itself is cut off", () => {
        for (const cut of [12, 30, 200, 400, header.dataOffset - 40]) {
            const f = damaged(`cut-header-${cut}.gguf`, valid.subarray(0, cut));
            expectCode(() => readGgufHeader(f), "ERR_CORRUPT_MODEL", f, /end of file|cannot hold/);
        }
    });

    it("ERR_CORRUPT_MODEL for absurd counts", () => {
        const kv = Buffer.from(valid);
        kv.writeBigUInt64LE(2n ** 40n, 16);
        const f1 = damaged("kv-count.gguf", kv);
        expectCode(() => readGgufHeader(f1), "ERR_CORRUPT_MODEL", f1, /metadata count/);
        const tc = Buffer.from(valid);
        tc.writeBigUInt64LE(2n ** 63n, 8);
        const f2 = damaged("tensor-count.gguf", tc);
        expectCode(() => readGgufHeader(f2), "ERR_CORRUPT_MODEL", f2, /tensor count/);
    });

    it("ERR_CORRUPT_MODEL for an absurd string length", () => {
        const b = Buffer.from(valid);
        b.writeBigUInt64LE(2n ** 50n, 24); // length of the first key
        const f = damaged("key-length.gguf", b);
        expectCode(() => readGgufHeader(f), "ERR_CORRUPT_MODEL", f);
    });

    it("ERR_CORRUPT_MODEL for an unknown value type", () => {
        const b = Buffer.from(valid);
        const firstKeyLength = Number(b.readBigUInt64LE(24));
        b.writeUInt32LE(99, 24 + 8 + firstKeyLength);
        const f = damaged("value-type.gguf", b);
        expectCode(() => readGgufHeader(f), "ERR_CORRUPT_MODEL", f, /value type 99/);
    });

    it("ERR_CORRUPT_MODEL for garbage after the magic", () => {
        const b = Buffer.alloc(4096);
        let x = 12345;
        for (let i = 0; i < b.length; i++) {
            x = (x * 1103515245 + 12345) >>> 0;
            b[i] = x >>> 24;
        }
        b.write("GGUF", 0, "latin1");
        b.writeUInt32LE(3, 4);
        const f = damaged("garbage.gguf", b);
        expectCode(() => readGgufHeader(f), "ERR_CORRUPT_MODEL", f);
    });

    it("ERR_CORRUPT_MODEL for an unknown ggml type or a misaligned tensor offset", () => {
        // The tensor table sits right before the data section; patch the last entry.
        const last = header.tensors[header.tensors.length - 1]!;
        const name = Buffer.from(last.name);
        const at = valid.lastIndexOf(name, header.dataOffset);
        const typeAt = at + name.length + 4 + 8 * last.shape.length;
        const badType = Buffer.from(valid);
        badType.writeUInt32LE(77, typeAt);
        const f1 = damaged("ggml-type.gguf", badType);
        expectCode(() => readGgufHeader(f1), "ERR_CORRUPT_MODEL", f1, /ggml type 77/);
        const badOffset = Buffer.from(valid);
        badOffset.writeBigUInt64LE(BigInt(last.offset + 3), typeAt + 4);
        const f2 = damaged("offset.gguf", badOffset);
        expectCode(() => readGgufHeader(f2), "ERR_CORRUPT_MODEL", f2, /alignment/);
    });
});

describe("half-precision conversions", () => {
    it("converts float32 to f16 with round to nearest even", () => {
        const cases: [number, number][] = [
            [0, 0x0000],
            [-0, 0x8000],
            [1, 0x3c00],
            [-2, 0xc000],
            [0.5, 0x3800],
            [65504, 0x7bff], // largest finite
            [65519, 0x7bff], // just below the midpoint to 65536
            [65520, 0x7c00], // midpoint: ties to even, which is Inf
            [1e9, 0x7c00],
            [-1e9, 0xfc00],
            [Infinity, 0x7c00],
            [-Infinity, 0xfc00],
            [2 ** -14, 0x0400], // smallest normal
            [2 ** -24, 0x0001], // smallest subnormal
            [2 ** -25, 0x0000], // half of it: ties to even (0)
            [2 ** -25 * 1.5, 0x0001],
            [3 * 2 ** -25, 0x0002], // 1.5 ulp: ties to even (2)
            [1023.5 * 2 ** -24, 0x0400], // rounds up from the largest subnormal into the normals
            [1 + 2 ** -11, 0x3c00], // midpoint between 1 and next: ties to even
            [1 + 3 * 2 ** -11, 0x3c02],
            [1 + 2 ** -11 + 2 ** -20, 0x3c01],
            [-(1 + 2 ** -11 + 2 ** -20), 0xbc01],
            [1e-10, 0x0000],
        ];
        for (const [value, bits] of cases) expect(float32ToF16(value), `${value}`).toBe(bits);
        const nan = float32ToF16(NaN);
        expect(nan & 0x7c00).toBe(0x7c00);
        expect(nan & 0x3ff).not.toBe(0);
    });

    it("f16 → float32 → f16 is the identity on every non-NaN pattern", () => {
        for (let h = 0; h < 0x10000; h++) {
            const v = f16ToFloat32(h);
            if (Number.isNaN(v)) {
                expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
                continue;
            }
            if (float32ToF16(v) !== h) expect(float32ToF16(v)).toBe(h);
        }
        expect(f16ToFloat32(0x0001)).toBe(2 ** -24);
        expect(f16ToFloat32(0x7bff)).toBe(65504);
        expect(f16ToFloat32(0xfc00)).toBe(-Infinity);
        expect(Object.is(f16ToFloat32(0x8000), -0)).toBe(true);
    });

    it("f16 rounding matches round-to-nearest on random float32 values", () => {
        let s = 7;
        for (let i = 0; i < 20000; i++) {
            s = (s * 1664525 + 1013904223) >>> 0;
            const v = Math.fround(((s / 2 ** 32) * 2 - 1) * 2 ** ((i % 40) - 26));
            const h = float32ToF16(v);
            const got = f16ToFloat32(h);
            // No f16 value is closer than the chosen one.
            const below = f16ToFloat32(h - 1 >= 0 ? h - 1 : h);
            const above = f16ToFloat32(h + 1);
            if ((h & 0x7fff) !== 0 && (h & 0x7fff) !== 0x7c00) {
                expect(Math.abs(v - got)).toBeLessThanOrEqual(Math.abs(v - below));
                expect(Math.abs(v - got)).toBeLessThanOrEqual(Math.abs(v - above));
            }
        }
    });

    it("converts float32 to bf16 with round to nearest even", () => {
        expect(float32ToBf16(1)).toBe(0x3f80);
        expect(float32ToBf16(-2)).toBe(0xc000);
        expect(float32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // midpoint: ties to even
        expect(float32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
        expect(float32ToBf16(1 + 2 ** -8 + 2 ** -16)).toBe(0x3f81);
        expect(float32ToBf16(Infinity)).toBe(0x7f80);
        expect(float32ToBf16(3.4e38)).toBe(0x7f80); // rounds past the largest finite bf16
        const nan = float32ToBf16(NaN);
        expect(Number.isNaN(bf16ToFloat32(nan))).toBe(true);
        for (let b = 0; b < 0x10000; b++) {
            const v = bf16ToFloat32(b);
            if (!Number.isNaN(v) && float32ToBf16(v) !== b) expect(float32ToBf16(v)).toBe(b);
        }
        expect(float32Bits(bf16ToFloat32(0x3f80))).toBe(0x3f800000);
    });
});
