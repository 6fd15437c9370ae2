/**
 * GGUF vocabulary shared by the reader and the writer: the file's constants,
 * its metadata value types, the ggml tensor types with their block layout,
 * and the interfaces that describe a parsed header.
 */

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
/** Versions this package reads. It always writes GGUF_WRITE_VERSION. */
export const GGUF_SUPPORTED_VERSIONS: readonly number[] = [2, 3];
export const GGUF_WRITE_VERSION = 3;
/** Tensor data alignment when the file has no `general.alignment`. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/**
 * The alignment of the model files llama-reward writes (`convert`, the tiny and bench models), written as
 * `general.alignment`: llama.cpp multiplies mapped F32/F16/BF16 weights in place, and rows that start 32
 * bytes into a cache line cost llama-reward's AMX BF16 kernel 5-12% of its speed, and its AVX-512 kernels a
 * copy of each chunk into a staging buffer (docs/performance.md, "Weights on cache-line boundaries").
 */
export const MODEL_FILE_ALIGNMENT = 64;

/** Type tags of GGUF metadata values. */
export enum GgufValueType {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
}

/** Byte size of the fixed-size GGUF value types (strings and arrays excluded). */
export const GGUF_SCALAR_SIZE: Readonly<Partial<Record<GgufValueType, number>>> = {
    [GgufValueType.UINT8]: 1,
    [GgufValueType.INT8]: 1,
    [GgufValueType.UINT16]: 2,
    [GgufValueType.INT16]: 2,
    [GgufValueType.UINT32]: 4,
    [GgufValueType.INT32]: 4,
    [GgufValueType.FLOAT32]: 4,
    [GgufValueType.BOOL]: 1,
    [GgufValueType.UINT64]: 8,
    [GgufValueType.INT64]: 8,
    [GgufValueType.FLOAT64]: 8,
};

/** ggml tensor element types, with the numeric ids used in GGUF files. */
export enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
}

/** Layout of one ggml type: `blockSize` elements are stored in `typeSize` bytes. */
export interface GgmlTypeLayout {
    readonly blockSize: number;
    readonly typeSize: number;
}

export const GGML_TYPE_LAYOUT: Readonly<Record<GgmlType, GgmlTypeLayout>> = {
    [GgmlType.F32]: { blockSize: 1, typeSize: 4 },
    [GgmlType.F16]: { blockSize: 1, typeSize: 2 },
    [GgmlType.Q4_0]: { blockSize: 32, typeSize: 18 },
    [GgmlType.Q4_1]: { blockSize: 32, typeSize: 20 },
    [GgmlType.Q5_0]: { blockSize: 32, typeSize: 22 },
    [GgmlType.Q5_1]: { blockSize: 32, typeSize: 24 },
    [GgmlType.Q8_0]: { blockSize: 32, typeSize: 34 },
    [GgmlType.Q8_1]: { blockSize: 32, typeSize: 40 },
    [GgmlType.Q2_K]: { blockSize: 256, typeSize: 84 },
    [GgmlType.Q3_K]: { blockSize: 256, typeSize: 110 },
    [GgmlType.Q4_K]: { blockSize: 256, typeSize: 144 },
    [GgmlType.Q5_K]: { blockSize: 256, typeSize: 176 },
    [GgmlType.Q6_K]: { blockSize: 256, typeSize: 210 },
    [GgmlType.Q8_K]: { blockSize: 256, typeSize: 292 },
    [GgmlType.IQ2_XXS]: { blockSize: 256, typeSize: 66 },
    [GgmlType.IQ2_XS]: { blockSize: 256, typeSize: 74 },
    [GgmlType.IQ3_XXS]: { blockSize: 256, typeSize: 98 },
    [GgmlType.IQ1_S]: { blockSize: 256, typeSize: 50 },
    [GgmlType.IQ4_NL]: { blockSize: 32, typeSize: 18 },
    [GgmlType.IQ3_S]: { blockSize: 256, typeSize: 110 },
    [GgmlType.IQ2_S]: { blockSize: 256, typeSize: 82 },
    [GgmlType.IQ4_XS]: { blockSize: 256, typeSize: 136 },
    [GgmlType.I8]: { blockSize: 1, typeSize: 1 },
    [GgmlType.I16]: { blockSize: 1, typeSize: 2 },
    [GgmlType.I32]: { blockSize: 1, typeSize: 4 },
    [GgmlType.I64]: { blockSize: 1, typeSize: 8 },
    [GgmlType.F64]: { blockSize: 1, typeSize: 8 },
    [GgmlType.IQ1_M]: { blockSize: 256, typeSize: 56 },
    [GgmlType.BF16]: { blockSize: 1, typeSize: 2 },
    [GgmlType.TQ1_0]: { blockSize: 256, typeSize: 54 },
    [GgmlType.TQ2_0]: { blockSize: 256, typeSize: 66 },
    [GgmlType.MXFP4]: { blockSize: 32, typeSize: 17 },
    [GgmlType.NVFP4]: { blockSize: 64, typeSize: 36 },
    [GgmlType.Q1_0]: { blockSize: 128, typeSize: 18 },
    [GgmlType.Q2_0]: { blockSize: 64, typeSize: 18 },
};

/** True when `type` is a ggml type id this package knows the layout of. */
export function isKnownGgmlType(type: number): type is GgmlType {
    return Object.hasOwn(GGML_TYPE_LAYOUT, type);
}

/** The ggml type's name ("Q8_0"), or "type N" for an unknown id. */
export function ggmlTypeName(type: number): string {
    return isKnownGgmlType(type) ? GgmlType[type] : `type ${type}`;
}

/**
 * Bytes taken by a tensor of `type` with ggml dimensions `shape` (ne order).
 * Rows (ne[0]) must be a whole number of blocks, as ggml requires.
 * Throws a plain Error on an unknown type or a partial block; callers map it.
 */
export function ggmlTensorByteSize(type: number, shape: readonly number[]): number {
    if (!isKnownGgmlType(type)) throw new Error(`unknown ggml type ${type}`);
    const { blockSize, typeSize } = GGML_TYPE_LAYOUT[type];
    const rowLength = shape.length > 0 ? shape[0]! : 1;
    if (rowLength % blockSize !== 0) {
        throw new Error(`row length ${rowLength} is not a multiple of the ${GgmlType[type]} block size ${blockSize}`);
    }
    let rows = 1;
    for (let i = 1; i < shape.length; i++) rows *= shape[i]!;
    return (rowLength / blockSize) * typeSize * rows;
}

/** Number of elements of a tensor with ggml dimensions `shape`. */
export function ggmlElementCount(shape: readonly number[]): number {
    let n = 1;
    for (const d of shape) n *= d;
    return n;
}

/** A scalar metadata value as read: 64-bit integers come back as bigint. */
export type GgufScalar = number | bigint | boolean | string;

/** A metadata value as read: arrays become plain JS arrays of their elements. */
export type GgufValue = GgufScalar | GgufValue[];

/** How a metadata value was stored: its type and, for arrays, the element type. */
export interface GgufValueTypeInfo {
    readonly type: GgufValueType;
    readonly elementType?: GgufValueType;
}

/** One entry of the tensor table. */
export interface GgufTensorInfo {
    readonly name: string;
    /** ggml dimensions, ne order: shape[0] is the contiguous (row) dimension. */
    readonly shape: number[];
    readonly type: GgmlType;
    /** Byte offset relative to the start of the tensor data section. */
    readonly offset: number;
    readonly byteSize: number;
}

/** Everything in a GGUF file before the tensor data. */
export interface GgufHeader {
    readonly version: number;
    /** Metadata values by key, in file order. */
    readonly metadata: Map<string, GgufValue>;
    /** The value type each key was stored with (so it can be written back unchanged). */
    readonly metadataTypes: Map<string, GgufValueTypeInfo>;
    readonly tensors: GgufTensorInfo[];
    readonly alignment: number;
    /** Absolute file offset of the tensor data section. */
    readonly dataOffset: number;
    readonly fileSize: number;
}

/** Rounds `n` up to a multiple of `alignment`. */
export function alignUp(n: number, alignment: number): number {
    const rest = n % alignment;
    return rest === 0 ? n : n + alignment - rest;
}
