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
    /** "rank" (default): the reward head's labels per sequence; "last": the final-norm hidden state (n_embd floats). */
    pooling?: "rank" | "last";
}

export interface NativeContextInfo {
    contextSize: number;
    batchSize: number;
    parallel: number;
    /** Floats per output sequence: the head's labels ("rank" pooling) or n_embd ("last" pooling). */
    labelCount: number;
    /** Floats per marked token of a step (step.rows): n_embd on a "rank" context, 0 where rows cannot be read. */
    rowSize: number;
    /** Bytes of the KV cache, reported to V8 as external memory until the context is disposed. */
    kvCacheBytes: number;
}

/** One scheduler step: KV removals, then KV copies, then one packed batch. */
export interface NativeDecodeStep {
    remove: Int32Array; // sequence ids whose KV is dropped
    copies: Int32Array; // (src, dst, p0, p1) quadruples for llama_memory_seq_cp
    tokens: Int32Array;
    seqIds: Int32Array;
    positions: Int32Array;
    outputs: Int32Array; // sequences whose last token is in this batch
    /** Batch indices of marked tokens whose final-norm hidden states are returned after the outputs. */
    rows?: Int32Array;
}

export interface NativeContext {
    /**
     * Resolves with labelCount floats (labels or n_embd, see NativeContextInfo) per entry of step.outputs,
     * then rowSize floats (the final-norm hidden state) per entry of step.rows.
     */
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
    /** ggml registry name: "CPU", "CUDA", "Vulkan", "Metal", ... */
    backend: string;
    memoryTotal: number;
    memoryFree: number;
}

/** What the loader learnt about the ggml backends of this process (src/addon/load-addon.ts). */
export interface NativeBackendStatus {
    /** The addon uses ggml's loadable backends (prebuilt ggml) rather than backends compiled in. */
    dynamicBackends: boolean;
    /** ggml registry names loaded, e.g. ["CPU", "Vulkan"]. */
    registries: string[];
    /** GPU backend libraries present but not loadable, with the loader's reason. */
    failures: { backend: "cuda" | "vulkan"; library: string; error: string }[];
    /** node-llama-cpp release whose ggml packages fit this addon. */
    ggmlPackageVersion: string;
}

/**
 * Which kernel multiplies BF16 weights on the CPU: llama-reward's AMX kernel, its AVX-512 BF16 kernel (vdpbf16ps), its
 * AVX-512 FMA kernel (weights widened to F32: native/src/avx512_f32_matmul.cpp), its AVX2 FMA kernel (the same on
 * 256-bit vectors: native/src/avx2_matmul.cpp), its Arm NEON kernel (the same on 128-bit vectors:
 * native/src/neon_matmul.cpp), or ggml's own.
 */
export type Bf16Kernel = "amx" | "avx512-bf16" | "avx512-fma" | "avx2-fma" | "neon-fma" | "ggml";
/**
 * The kernel F32 weight products on the CPU run on: llama-reward's AVX-512 one (native/src/avx512_f32_matmul.cpp), its
 * AVX2 one (native/src/avx2_matmul.cpp), its Arm NEON one (native/src/neon_matmul.cpp) or ggml's.
 */
export type F32Kernel = "avx512-f32" | "avx2-f32" | "neon-f32" | "ggml";
/**
 * The kernel F16 weight products on the CPU run on: llama-reward's AVX-512 one (native/src/avx512_f32_matmul.cpp, F16
 * widened to F32), its AVX2 one (native/src/avx2_matmul.cpp, the same), its Arm NEON one (native/src/neon_matmul.cpp,
 * the same) or ggml's.
 */
export type F16Kernel = "avx512-f16" | "avx2-f16" | "neon-f16" | "ggml";

export interface NativeAddon {
    /** `devices`: ggml device names to offload to; empty means CPU only. */
    loadModel(
        path: string,
        options: { gpuLayers: number; useMmap: boolean; devices: string[] },
        abortFlag: Int32Array,
        onProgress?: (progress: number) => void,
    ): Promise<NativeModel>;
    quantize(
        input: string,
        output: string,
        options: { ftype: number; threads: number },
        onProgress?: (done: number, total: number, tensor: string) => void,
    ): Promise<void>;
    systemInfo(): string;
    /** True when BF16 weight products on the CPU run on AMX tiles (native/src/amx_bf16_matmul.cpp). */
    amxBf16(): boolean;
    /** The kernel BF16 weight products on the CPU run on (Bf16Kernel). */
    bf16Kernel?(): Bf16Kernel;
    /** Diagnostics: weight products the AVX-512 BF16 kernel has computed in this process. */
    avx512Bf16Products?(): number;
    /** The kernel F32 weight products on the CPU run on. */
    f32Kernel?(): F32Kernel;
    /** Diagnostics: weight products the AVX-512 F32 kernel has computed in this process. */
    avx512F32Products?(): number;
    /** The kernel F16 weight products on the CPU run on. */
    f16Kernel?(): F16Kernel;
    /** Diagnostics: weight products the AVX-512 kernel has computed on F16 weights in this process. */
    avx512F16Products?(): number;
    /** Diagnostics: weight products the AVX2 kernel has computed in this process, all weight types. */
    avx2Products?(): number;
    /** Diagnostics: weight products the NEON kernel has computed in this process, all weight types. */
    neonProducts?(): number;
    /** Diagnostics: weight products the AVX-512 FMA kernel has computed on BF16 weights in this process. */
    avx512Bf16FmaProducts?(): number;
    /** Diagnostics: weight products of the AVX-512, AVX2 and NEON kernels whose rows were off their vector width and were staged. */
    misalignedWeightProducts?(): number;
    /** Diagnostics: weight products of the AVX-512, AVX2 and NEON kernels whose rows are on their vector width, are read as stored (not widened), lie a multiple of an L1 way apart (colliding in L1's sets) and were copied in at least one pass. */
    copiedWeightProducts?(): number;
    /** The byte alignment of the CPU backend's intermediate tensors (native/src/cpu_compute_buffer.cpp): 64, or ggml's 32. */
    computeAlignment?(): number;
    /** Diagnostics: CPU compute buffers allocated with that alignment in this process. */
    alignedComputeBuffers?(): number;
    /** The bytes V8 counts as external memory for this isolate (KV caches of live contexts included). */
    externalMemory(): number;
    /** Tests only: a worker whose Execute throws (a std::exception or another type); rejects with ERR_INTERNAL. */
    checkWorkerThrow(kind: "std" | "other"): Promise<never>;
    backendDevices(): NativeDevice[];
    /** True when built against prebuilt ggml shared libraries whose backends load at run time. */
    dynamicBackends(): boolean;
    /** ggml_backend_load_all_from_path(dir), once per process. */
    loadBackends(dir: string): void;
    /** ggml_backend_load(path): the registry name, or the loader's error. */
    loadBackendLibrary(path: string): { name?: string; error?: string };
    /** Names of the ggml backend registries loaded. */
    backendRegistries(): string[];
    /**
     * Connects to a ggml RPC server (`host:port`) and registers its devices; returns their ggml names. ggml
     * aborts the process when the server does not answer: probe it first (src/model/rpc-servers.ts).
     * Absent from addons built before the RPC backend.
     */
    rpcAddServer?(endpoint: string): string[];
    /** Serves this process's CPU device over ggml's RPC protocol on `endpoint`; settles only when the server fails to start. */
    rpcStartServer?(endpoint: string, threads: number): Promise<void>;
    /**
     * Points fd 1 at stderr, so what ggml's RPC server prints goes there, and returns a duplicate of the
     * original stdout (for rpc-server's ready line alone). Changes the whole process: rpc-server only.
     */
    rpcDetachStdout?(): number;
    /** The port of the listening IPv4 socket this process holds on `host` (ggml's RPC server once bound), or 0. */
    rpcListeningPort?(host: string): number;
    /** The file of the CPU backend variant ggml loaded (libggml-cpu-<variant>.so, ggml-cpu-<variant>.dll); null when compiled in or unknown. */
    cpuBackendLibrary?(): string | null;
}
