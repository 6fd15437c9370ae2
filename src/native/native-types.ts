/**
 * Hand-written TypeScript view of the C++ exports in native/src. Each
 * declaration mirrors the signature comment next to its C++ registration.
 */

export interface NativeModelInfo {
    description: string;
    architecture: string;
    name: string;
    fileType: string;
    parameterCount: number;
    sizeBytes: number;
    layerCount: number;
    embeddingSize: number;
    headCount: number;
    kvHeadCount: number;
    trainContextLength: number;
    vocabSize: number;
    labels: string[];
    bosToken: number;
    eosToken: number;
    chatTemplate: string | null;
}

export interface NativeContextOptions {
    contextSize: number;
    batchSize: number;
    parallel: number;
    threads: number;
    flashAttention: "auto" | "on" | "off";
    kvCacheType: "f16" | "f32" | "q8_0";
}

export interface NativeContextInfo {
    contextSize: number;
    batchSize: number;
    parallel: number;
    labelCount: number;
}

/** One scheduler step: KV removals, then KV copies, then one packed batch. */
export interface NativeDecodeStep {
    remove: Int32Array;     // sequence ids whose KV is dropped
    copies: Int32Array;     // (src, dst, p0, p1) quadruples for llama_memory_seq_cp
    tokens: Int32Array;
    seqIds: Int32Array;
    positions: Int32Array;
    outputs: Int32Array;    // sequences whose last token is in this batch
}

export interface NativeContext {
    /** Resolves with labelCount floats per entry of step.outputs. */
    decode(step: NativeDecodeStep): Promise<Float32Array>;
    info(): NativeContextInfo;
    dispose(): void;
}

export interface NativeModel {
    tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array;
    tokenText(token: number): string;
    info(): NativeModelInfo;
    createContext(options: NativeContextOptions): Promise<NativeContext>;
    dispose(): void;
}

export interface NativeDevice {
    name: string;
    description: string;
    type: "cpu" | "gpu" | "igpu" | "accel";
    memoryTotal: number;
    memoryFree: number;
}

export interface NativeAddon {
    loadModel(path: string, options: { gpuLayers: number; useMmap: boolean }, abortFlag: Int32Array,
              onProgress?: (progress: number) => void): Promise<NativeModel>;
    quantize(input: string, output: string, options: { ftype: number; threads: number },
             onProgress?: (done: number, total: number, tensor: string) => void): Promise<void>;
    systemInfo(): string;
    backendDevices(): NativeDevice[];
}

/** The shape of errors the addon rejects with. */
export interface NativeError extends Error {
    code?: string;
}
