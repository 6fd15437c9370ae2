/**
 * llama.cpp's file types (enum llama_ftype): the names users type
 * (`Q4_K_M`) and the numbers GGUF files and llama_model_quantize use.
 */

export const fileTypes = {
    F32: 0,
    F16: 1,
    Q4_0: 2,
    Q4_1: 3,
    Q8_0: 7,
    Q5_0: 8,
    Q5_1: 9,
    Q2_K: 10,
    Q3_K_S: 11,
    Q3_K_M: 12,
    Q3_K_L: 13,
    Q4_K_S: 14,
    Q4_K_M: 15,
    Q5_K_S: 16,
    Q5_K_M: 17,
    Q6_K: 18,
    IQ2_XXS: 19,
    IQ2_XS: 20,
    Q2_K_S: 21,
    IQ3_XS: 22,
    IQ3_XXS: 23,
    IQ1_S: 24,
    IQ4_NL: 25,
    IQ3_S: 26,
    IQ3_M: 27,
    IQ2_S: 28,
    IQ2_M: 29,
    IQ4_XS: 30,
    IQ1_M: 31,
    BF16: 32,
    TQ1_0: 36,
    TQ2_0: 37,
} as const;

export type FileTypeName = keyof typeof fileTypes;

/** The name of a llama_ftype number, or `unknown(N)`. */
export function fileTypeName(ftype: number): string {
    for (const [name, value] of Object.entries(fileTypes)) {
        if (value === ftype) return name;
    }
    return `unknown(${ftype})`;
}

/** The llama_ftype number of a name such as "q4_k_m" (case-insensitive), or undefined. */
export function fileTypeFromName(name: string): number | undefined {
    const key = name.trim().toUpperCase() as FileTypeName;
    return Object.hasOwn(fileTypes, key) ? fileTypes[key] : undefined;
}
