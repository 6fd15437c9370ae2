/**
 * Checks a file against the GGUF reward-model contract (docs/format.md §2)
 * before llama.cpp sees it: GGUF magic/version and intact tensor table, a
 * supported architecture, and a reward head cls.output.weight [n_embd, n_labels]
 * (optional for callers that read hidden states only).
 */
import { RewardModelError } from "../errors.js";
import { readGgufHeader } from "../gguf/gguf-reader.js";
import { checkHyperparameters, checkTensorTypes } from "./model-file-limits.js";
import { checkTokenizer } from "./tokenizer-checks.js";
import { type GgufHeader, type GgufTensorInfo, MODEL_FILE_ALIGNMENT } from "../gguf/gguf-types.js";

export const supportedArchitectures = ["llama"] as const;

export interface RewardModelFile {
    header: GgufHeader;
    architecture: string;
    trainContextLength: number;
    embeddingSize: number;
    /** 0 when the file has no reward head (only with `requireRewardHead: false`). */
    labelCount: number;
    hasRewardHead: boolean;
}

export interface InspectOptions {
    /** Reject a file without cls.output.weight with ERR_NO_REWARD_HEAD. Default: true. */
    requireRewardHead?: boolean;
}

function numberOf(header: GgufHeader, key: string): number | undefined {
    const v = header.metadata.get(key);
    if (typeof v === "number") return v;
    if (typeof v === "bigint") return Number(v);
    return undefined;
}

export function inspectRewardModelFile(path: string, options: InspectOptions = {}): RewardModelFile {
    const header = readGgufHeader(path); // ERR_MODEL_NOT_FOUND, ERR_NOT_GGUF, ERR_CORRUPT_MODEL
    const architecture = header.metadata.get("general.architecture");
    if (typeof architecture !== "string") {
        throw new RewardModelError("ERR_CORRUPT_MODEL", `${path} has no general.architecture`);
    }
    if (!(supportedArchitectures as readonly string[]).includes(architecture)) {
        throw new RewardModelError(
            "ERR_UNSUPPORTED_ARCHITECTURE",
            `${path} is a "${architecture}" model; llama-reward runs ${supportedArchitectures.join(", ")} reward models`,
        );
    }
    const embeddingSize = numberOf(header, `${architecture}.embedding_length`);
    if (embeddingSize === undefined) {
        throw new RewardModelError("ERR_CORRUPT_MODEL", `${path} has no ${architecture}.embedding_length`);
    }
    const head = header.tensors.find((t) => t.name === "cls.output.weight");
    if (!head && options.requireRewardHead !== false) {
        const hasLmHead = header.tensors.some((t) => t.name === "output.weight");
        throw new RewardModelError(
            "ERR_NO_REWARD_HEAD",
            `${path} has no reward head (cls.output.weight)` +
                (hasLmHead ? "; it looks like a language model, not a reward model" : "") +
                ". Convert a sequence-classification checkpoint with `llama-reward convert`.",
        );
    }
    const labelCount = head ? checkHead(path, header, architecture, embeddingSize, head) : 0;
    // what llama.cpp would assert on (abort) or crash over in a kernel: see model-file-limits.ts,
    // tokenizer-checks.ts and docs/model-validation.md
    checkHyperparameters(path, header, architecture);
    checkTensorTypes(path, header);
    checkTokenizer(path, header);
    return {
        header,
        architecture,
        trainContextLength: numberOf(header, `${architecture}.context_length`) ?? 0,
        embeddingSize,
        labelCount,
        hasRewardHead: head !== undefined,
    };
}

/** Checks the head's shape and its bias against the labels; returns the label count. */
function checkHead(path: string, header: GgufHeader, architecture: string, embeddingSize: number, head: GgufTensorInfo): number {
    const labels = header.metadata.get(`${architecture}.classifier.output_labels`);
    const labelCount = Array.isArray(labels) && labels.length > 0 ? labels.length : 1;
    if (head.shape.length < 1 || head.shape[0] !== embeddingSize || (head.shape[1] ?? 1) !== labelCount) {
        throw new RewardModelError(
            "ERR_CORRUPT_MODEL",
            `${path}: cls.output.weight has shape [${head.shape.join(", ")}], expected [${embeddingSize}, ${labelCount}]`,
        );
    }
    const bias = header.tensors.find((t) => t.name === "cls.output.bias");
    if (bias && bias.shape[0] !== labelCount) {
        throw new RewardModelError(
            "ERR_CORRUPT_MODEL",
            `${path}: cls.output.bias has shape [${bias.shape.join(", ")}], expected [${labelCount}]`,
        );
    }
    return labelCount;
}

/**
 * The alignment in bytes (a power of two, at most MODEL_FILE_ALIGNMENT: a cache line) that every weight matrix of the file
 * (2-D tensors) has in the file: with mmap, their alignment in memory too, since llama.cpp maps the file from
 * offset 0. Less than 64 means weight rows start inside cache lines (docs/performance.md, "Weights on
 * cache-line boundaries"); MODEL_FILE_ALIGNMENT for a file without weight matrices.
 */
export function weightAlignmentOf(header: GgufHeader): number {
    let alignment = MODEL_FILE_ALIGNMENT;
    for (const t of header.tensors) {
        if (t.shape.length < 2) continue;
        const at = header.dataOffset + t.offset;
        while (alignment > 1 && at % alignment !== 0) alignment /= 2;
    }
    return alignment;
}
