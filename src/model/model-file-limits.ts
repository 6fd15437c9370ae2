/**
 * Checks of a GGUF reward model that llama.cpp would otherwise enforce with
 * an assertion (aborting the whole process) or not at all (crashing later in
 * a compute kernel): tensor types ggml cannot compute with, layer and expert
 * counts and RoPE scaling types (the tokenizer's are in tokenizer-checks.ts).
 * Each rule here was found by the GGUF fuzzer (test/fuzz) killing the process.
 */
import { RewardModelError } from "../errors.js";
import { GgmlType, ggmlTypeName, type GgufHeader, type GgufValue } from "../gguf/gguf-types.js";

/** llama.cpp's LLAMA_MAX_LAYERS and LLAMA_MAX_EXPERTS. */
const MAX_LAYERS = 512;
const MAX_EXPERTS = 1024;

/**
 * Types ggml's CPU backend has no dot product or binary kernels for: Q8_1 and
 * Q8_K exist only as intermediate activation types, the integer types and F64
 * only as inputs of special ops. A weight of such a type aborts or crashes the
 * first decode.
 */
const NON_WEIGHT_TYPES: ReadonlySet<number> = new Set([
    GgmlType.Q8_1,
    GgmlType.Q8_K,
    GgmlType.I8,
    GgmlType.I16,
    GgmlType.I32,
    GgmlType.I64,
    GgmlType.F64,
]);

/** The values llama.cpp's llama_rope_scaling_type_from_string accepts. */
const ROPE_SCALING_TYPES = ["none", "linear", "yarn", "longrope"];

function corrupt(path: string, detail: string): RewardModelError {
    return new RewardModelError("ERR_CORRUPT_MODEL", `${path}: ${detail}`);
}

/** A GGUF integer value as a number, or undefined when the value is not an integer. */
function ggufInteger(v: GgufValue | undefined): number | undefined {
    if (typeof v === "number" && Number.isInteger(v)) return v;
    if (typeof v === "bigint") return Number(v);
    return undefined;
}

/** A per-layer key stored as one integer or an array of them: the largest value. */
function maxOf(v: GgufValue | undefined): number | undefined {
    if (Array.isArray(v)) {
        // a loop, not Math.max(...values): a corrupt file can hold an array of any length
        let max: number | undefined;
        for (const x of v.map(ggufInteger)) if (x !== undefined && (max === undefined || x > max)) max = x;
        return max;
    }
    return ggufInteger(v);
}

/** ggml's TENSOR_ALIGNMENT: a mapped tensor whose data is less aligned fails an assertion when the weights are mapped. */
const TENSOR_ALIGNMENT = 32;

export function checkTensorTypes(path: string, header: GgufHeader): void {
    if (header.tensors.length > 0 && header.alignment % TENSOR_ALIGNMENT !== 0) {
        throw corrupt(path, `general.alignment ${header.alignment} is below ggml's tensor alignment of ${TENSOR_ALIGNMENT} bytes`);
    }
    for (const t of header.tensors) {
        if (NON_WEIGHT_TYPES.has(t.type)) {
            throw corrupt(path, `tensor ${t.name} has type ${ggmlTypeName(t.type)}, which cannot hold model weights`);
        }
        // norms and biases are added/multiplied elementwise into F32 activations: ggml needs them in F32
        const isVector = t.shape.length <= 1 || t.shape.slice(1).every((d) => d === 1);
        if (isVector && t.name !== "cls.output.weight" && t.type !== GgmlType.F32) {
            throw corrupt(path, `tensor ${t.name} is a vector of type ${ggmlTypeName(t.type)}; norms and biases must be F32`);
        }
    }
}

export function checkHyperparameters(path: string, header: GgufHeader, arch: string): void {
    const m = header.metadata;
    const layers = ggufInteger(m.get(`${arch}.block_count`));
    if (layers === undefined || layers < 1 || layers > MAX_LAYERS) {
        throw corrupt(path, `${arch}.block_count must be an integer from 1 to ${MAX_LAYERS}, got ${String(m.get(`${arch}.block_count`))}`);
    }
    const nextn = ggufInteger(m.get(`${arch}.nextn_predict_layers`)) ?? 0;
    if (nextn < 0 || nextn > layers) throw corrupt(path, `${arch}.nextn_predict_layers ${nextn} exceeds the ${layers} layers`);

    const experts = ggufInteger(m.get(`${arch}.expert_count`)) ?? 0;
    const used = maxOf(m.get(`${arch}.expert_used_count`)) ?? 0;
    const groups = ggufInteger(m.get(`${arch}.expert_group_count`)) ?? 0;
    const groupsUsed = ggufInteger(m.get(`${arch}.expert_group_used_count`)) ?? 0;
    const expertsOk =
        experts === 0
            ? used === 0 && groups === 0
            : experts > 0 &&
              experts <= MAX_EXPERTS &&
              used > 0 &&
              used <= experts &&
              groups >= 0 &&
              groups < experts &&
              (groups <= 1 || (experts % groups === 0 && groupsUsed > 0 && groupsUsed < groups));
    if (!expertsOk) {
        throw corrupt(
            path,
            `inconsistent mixture-of-experts counts (expert_count ${experts}, expert_used_count ${used}, ` +
                `expert_group_count ${groups}, expert_group_used_count ${groupsUsed})`,
        );
    }

    // ggml's norm kernels assert eps >= 0 on every decode
    for (const key of [`${arch}.attention.layer_norm_rms_epsilon`, `${arch}.attention.layer_norm_epsilon`]) {
        const eps = m.get(key);
        if (eps !== undefined && !(typeof eps === "number" && eps >= 0 && Number.isFinite(eps))) {
            throw corrupt(path, `${key} must be a finite number >= 0, got ${String(eps)}`);
        }
    }

    checkAttentionShape(path, header, arch, layers);

    const scaling = m.get(`${arch}.rope.scaling.type`);
    if (scaling !== undefined && (typeof scaling !== "string" || !ROPE_SCALING_TYPES.includes(scaling))) {
        const shown = typeof scaling === "string" ? JSON.stringify(scaling) : `a ${Array.isArray(scaling) ? "array" : typeof scaling}`;
        throw corrupt(path, `${arch}.rope.scaling.type ${shown} is not one of ${ROPE_SCALING_TYPES.join(", ")}`);
    }
}

/**
 * The llama architecture sizes each layer's key and value tensors from layer
 * 0's key/value head count (deps/llama.cpp/src/models/llama.cpp passes
 * n_embd_k_gqa without a layer), while its graph reads each layer's own: a
 * per-layer head_count_kv that varies passes the tensor shape checks and then
 * fails GGML_ASSERT(a->ne[0] == b->ne[0]) in the first decode (found by the
 * field-level fuzzer). That array must hold one value, and the heads must
 * split into whole key/value groups. (A varying head_count or
 * feed_forward_length loads and scores.)
 */
const UNIFORM_PER_LAYER = ["attention.head_count_kv"];

function checkAttentionShape(path: string, header: GgufHeader, arch: string, layers: number): void {
    const m = header.metadata;
    for (const name of UNIFORM_PER_LAYER) {
        const key = `${arch}.${name}`;
        const v = m.get(key);
        if (!Array.isArray(v)) continue;
        const values = v.map(ggufInteger);
        if (values.length !== layers || values.some((x) => x === undefined || x !== values[0])) {
            const shown = v.length > 8 ? `${v.slice(0, 8).map(String).join(", ")}, …` : v.map(String).join(", ");
            throw corrupt(path, `${key} per layer [${shown}] must be one value for all ${layers} layers of a ${arch} model`);
        }
    }
    const heads = maxOf(m.get(`${arch}.attention.head_count`));
    const kvHeads = maxOf(m.get(`${arch}.attention.head_count_kv`)) ?? heads;
    if (heads !== undefined && kvHeads !== undefined && heads > 0 && (kvHeads < 1 || heads % kvHeads !== 0)) {
        throw corrupt(path, `${arch}.attention.head_count ${heads} is not a multiple of ${arch}.attention.head_count_kv ${kvHeads}`);
    }
}
