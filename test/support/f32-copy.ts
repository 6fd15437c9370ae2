/**
 * An F32 copy of a model file's F16 or BF16 weight matrices, for the widening
 * kernels' tests (test/avx512-widened.test.ts, test/avx2.test.ts): widening
 * to F32 is exact, so a kernel that widens must score the copy bitwise as
 * the F32 kernel scores it.
 */
import { expect } from "vitest";
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { rewriteGguf } from "../../src/gguf/gguf-rewrite.js";
import { readTensorAsFloat64 } from "../../src/gguf/gguf-tensor-reader.js";
import { GgmlType } from "../../src/gguf/gguf-types.js";

/** The weight products the kernels take: every block's attention and feed-forward projections. */
const PROJECTION = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;

/** A copy of `file` whose projection weights (of `type`) are F32 holding the same values (F16 and BF16 widen exactly). */
export function f32CopyOf(file: string, type: GgmlType, out: string): void {
    const header = readGgufHeader(file);
    const widened = header.tensors
        .filter((t) => PROJECTION.test(t.name))
        .map((t) => {
            expect(t.type).toBe(type);
            const values = Float32Array.from(readTensorAsFloat64(file, header, t.name));
            return { name: t.name, shape: [...t.shape], type: GgmlType.F32, data: new Uint8Array(values.buffer) };
        });
    expect(widened.length).toBeGreaterThan(0);
    // at 64 bytes, so that the F32 kernel reads the copy's weights in place rather than through the same staging
    rewriteGguf(file, out, { dropTensors: (name) => PROJECTION.test(name), addTensors: widened }, { ...header, alignment: 64 });
}
