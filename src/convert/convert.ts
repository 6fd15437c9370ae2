/**
 * `convert()`: a Hugging Face LlamaForSequenceClassification checkpoint
 * (config.json, tokenizer files, safetensors) → a GGUF reward model as
 * docs/format.md §2 specifies, mapped as its §4 says; or a LlamaForCausalLM
 * whose head is made of chosen LM-head rows (`headFromLmHead`), with the
 * process-reward settings (`steps`) kept as metadata. Tensors stream
 * through in row chunks of a few MiB, so memory stays flat whatever the
 * model size; the output is written to `<out>.tmp` and renamed only when
 * complete.
 */

import * as fs from "node:fs";
import * as path from "node:path";

import { RewardModelError, abortedError, invalidArgument, withCallerStack } from "../errors.js";
import { MODEL_FILE_ALIGNMENT } from "../gguf/gguf-types.js";
import { GgufWriter } from "../gguf/gguf-writer.js";
import { writeLlamaRewardMetadata } from "../gguf/llama-metadata.js";
import {
    stepActivations,
    stepAggregates,
    stepFormats,
    writeStepMetadata,
    type StepActivation,
    type StepAggregate,
    type StepFormat,
    type StepMetadata,
} from "../gguf/step-metadata.js";
import { lmHeadRowsTensor, resolveTokens, type TokenRef } from "./lm-head-rows.js";
import { readHfConfig, type HfLlamaConfig } from "./hf-config.js";
import { addTokenizerMetadata, readHfTokenizer } from "./hf-tokenizer.js";
import { addGatingMetadata, addNormalizationMetadata } from "./reward-extensions.js";
import { SafetensorsCheckpoint } from "./safetensors.js";
import { convertChunk } from "./tensor-codec.js";
import {
    CONVERT_OUT_TYPES,
    OUT_TYPE_FILE_TYPE,
    planTensors,
    sourceRowBytes,
    type ConvertOutType,
    type PlannedTensor,
} from "./tensor-plan.js";

export type { ConvertOutType } from "./tensor-plan.js";

/** Source bytes read per step; bounds the converter's working memory (a few times this). */
const CHUNK_BYTES = 16 << 20;
/** ggml's quantization version, written by llama.cpp's converter into every file. */
const GGML_QUANT_VERSION = 2;

export interface ConvertProgress {
    /** GGUF name of the tensor being written. */
    tensor: string;
    /** Tensors completed so far, and in all. */
    tensorsDone: number;
    tensorCount: number;
    /** Checkpoint bytes processed so far, and in all. */
    bytesDone: number;
    bytesTotal: number;
}

export interface ConvertOptions {
    /**
     * Storage type of the weight matrices. Default: the checkpoint's own type when its matrices are BF16 or
     * F16 (a lossless copy; BF16 is also the fastest type to score on CPUs with AVX-512 BF16), F16 for an F32
     * checkpoint. Norms and the reward head always stay F32.
     */
    outType?: ConvertOutType;
    /** general.name; default: config.json's _name_or_path, else the directory name. */
    name?: string;
    /** Called after every chunk written. */
    onProgress?: (progress: ConvertProgress) => void;
    /** Aborts the conversion (nothing is left at the output path). */
    signal?: AbortSignal;
    /**
     * Convert a LlamaForCausalLM checkpoint into a reward model whose head is these rows of its LM head
     * (token texts, each one vocabulary entry, or token ids); the labels are the tokens. The LM head is not written.
     */
    headFromLmHead?: readonly TokenRef[];
    /** Process-reward settings kept in the file, the defaults of scoreSteps() (docs/format.md). */
    steps?: ConvertStepOptions;
}

/** What `convert` keeps about a process reward model's steps. */
export interface ConvertStepOptions {
    format?: StepFormat;
    /** The step tag (format "step-tag"): its text, one vocabulary entry, or its id. */
    tag?: TokenRef;
    activation?: StepActivation;
    /** The label whose value is a step's score. */
    scoreLabel?: number;
    aggregate?: StepAggregate;
}

export interface ConvertResult {
    /** The written GGUF file. */
    path: string;
    outType: ConvertOutType;
    sizeBytes: number;
    tensorCount: number;
    vocabSize: number;
    labels: string[];
    /** Checkpoint tensors not written: an LM head or cached rotary inv_freq. */
    skipped: string[];
}

function checkOptions(hfDir: unknown, outPath: unknown, options: ConvertOptions): ConvertOutType | undefined {
    if (typeof hfDir !== "string" || hfDir === "") throw invalidArgument("convert: the checkpoint directory must be a non-empty string");
    if (typeof outPath !== "string" || outPath === "") throw invalidArgument("convert: the output path must be a non-empty string");
    const outType = options.outType;
    if (outType !== undefined && !(CONVERT_OUT_TYPES as readonly string[]).includes(outType)) {
        throw invalidArgument(`convert: outType ${JSON.stringify(outType)} is not one of ${CONVERT_OUT_TYPES.join(", ")}`);
    }
    if (options.onProgress !== undefined && typeof options.onProgress !== "function")
        throw invalidArgument("convert: onProgress must be a function");
    const { headFromLmHead, steps } = options;
    if (headFromLmHead !== undefined && (!Array.isArray(headFromLmHead) || headFromLmHead.length === 0)) {
        throw invalidArgument("convert: headFromLmHead must be a non-empty array of token texts or ids");
    }
    if (steps !== undefined) {
        if (steps === null || typeof steps !== "object") throw invalidArgument("convert: steps must be an object");
        const oneOf = (key: string, value: unknown, allowed: readonly string[]) => {
            if (value !== undefined && !allowed.includes(value as string)) {
                throw invalidArgument(`convert: steps.${key} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
            }
        };
        oneOf("format", steps.format, stepFormats);
        oneOf("activation", steps.activation, stepActivations);
        oneOf("aggregate", steps.aggregate, stepAggregates);
        if (steps.scoreLabel !== undefined && (!Number.isInteger(steps.scoreLabel) || steps.scoreLabel < 0)) {
            throw invalidArgument("convert: steps.scoreLabel must be a label index");
        }
        if (steps.tag !== undefined && (steps.format ?? "step-tag") !== "step-tag") {
            throw invalidArgument('convert: steps.tag is for format "step-tag"');
        }
    }
    return outType;
}

/** The step metadata to write, with the step tag resolved in the vocabulary. */
function stepMetadata(options: ConvertOptions, vocabulary: readonly string[], labels: string[], lmHeadTokens?: number[]): StepMetadata {
    const meta: StepMetadata = lmHeadTokens !== undefined ? { lmHeadTokens } : {};
    const steps = options.steps;
    if (steps === undefined) return meta;
    if (steps.scoreLabel !== undefined && steps.scoreLabel >= labels.length) {
        throw invalidArgument(`convert: steps.scoreLabel ${steps.scoreLabel} is not one of the ${labels.length} labels`);
    }
    const format = steps.format ?? (steps.tag !== undefined ? "step-tag" : undefined);
    if (format === "step-tag" && steps.tag === undefined) throw invalidArgument('convert: steps format "step-tag" needs a tag');
    return {
        ...meta,
        ...(format !== undefined ? { format } : {}),
        ...(steps.tag !== undefined ? { tagId: resolveTokens([steps.tag], vocabulary).ids[0] as number } : {}),
        ...(steps.activation !== undefined ? { activation: steps.activation } : {}),
        ...(steps.scoreLabel !== undefined ? { scoreLabel: steps.scoreLabel } : {}),
        ...(steps.aggregate !== undefined ? { aggregate: steps.aggregate } : {}),
    };
}

function checkDirectory(dir: string): void {
    let stat: fs.Stats;
    try {
        stat = fs.statSync(dir);
    } catch (cause) {
        throw new RewardModelError("ERR_MODEL_NOT_FOUND", `Checkpoint directory not found: ${dir}`, { cause });
    }
    if (!stat.isDirectory()) {
        throw new RewardModelError("ERR_MODEL_NOT_FOUND", `${dir} is not a directory; pass the Hugging Face checkpoint directory`);
    }
}

/** Converts the checkpoint in `hfDir` to a GGUF reward model at `outPath`. */
export function convert(hfDir: string, outPath: string, options: ConvertOptions = {}): Promise<ConvertResult> {
    return withCallerStack(() => convertImpl(hfDir, outPath, options));
}

async function convertImpl(hfDir: string, outPath: string, options: ConvertOptions): Promise<ConvertResult> {
    const requested = checkOptions(hfDir, outPath, options);
    checkDirectory(hfDir);
    if (options.signal?.aborted) throw abortedError(options.signal, "convert");

    const fromLmHead = options.headFromLmHead !== undefined;
    const config = readHfConfig(hfDir, { causalLm: fromLmHead });
    const checkpoint = SafetensorsCheckpoint.open(hfDir);
    let writer: GgufWriter | undefined;
    try {
        const outType = requested ?? defaultOutType(checkpoint);
        // tensors first: their shapes (bounded by the file size) vouch for vocab_size before the tokenizer allocates by it
        let plan = planTensors(config, checkpoint, outType, fromLmHead ? { labels: [] } : undefined);
        const tokenizer = readHfTokenizer(hfDir, config.vocabSize, config.tokenIds);
        let lmHeadTokens: number[] | undefined;
        if (options.headFromLmHead !== undefined) {
            const { ids, labels } = resolveTokens(options.headFromLmHead, tokenizer.tokens);
            lmHeadTokens = ids;
            plan = { ...plan, tensors: [...plan.tensors, lmHeadRowsTensor(config, checkpoint, ids)], labels };
        }
        const steps = stepMetadata(options, tokenizer.tokens, plan.labels, lmHeadTokens);

        writer = new GgufWriter(outPath, { alignment: MODEL_FILE_ALIGNMENT });
        addModelMetadata(writer, config, outType, plan.labels, options.name ?? defaultName(hfDir, config));
        writeStepMetadata(writer, steps);
        addTokenizerMetadata(writer, tokenizer);
        addNormalizationMetadata(writer, config);
        addGatingMetadata(writer, config, plan.auxiliary, checkpoint);
        for (const t of plan.tensors) writer.addTensorInfo(t.ggufName, t.shape, t.type);
        writer.writeHeader();

        const bytesTotal = plan.tensors.reduce((sum, t) => sum + (t.source?.byteLength ?? 0), 0);
        let bytesDone = 0;
        let tensorsDone = 0;
        for (const t of plan.tensors) {
            for (const { bytes, sourceBytes } of tensorChunks(checkpoint, t)) {
                writer.writeTensorData(t.ggufName, bytes);
                bytesDone += sourceBytes;
                options.onProgress?.({ tensor: t.ggufName, tensorsDone, tensorCount: plan.tensors.length, bytesDone, bytesTotal });
                await new Promise<void>((resolve) => setImmediate(resolve)); // keep the event loop (and signals) alive
                if (options.signal?.aborted) throw abortedError(options.signal, "convert");
            }
            tensorsDone++;
        }
        options.onProgress?.({ tensor: "", tensorsDone, tensorCount: plan.tensors.length, bytesDone, bytesTotal });
        writer.finish();
        return {
            path: outPath,
            outType,
            sizeBytes: fs.statSync(outPath).size,
            tensorCount: plan.tensors.length,
            vocabSize: config.vocabSize,
            labels: plan.labels,
            skipped: plan.skipped,
        };
    } catch (error) {
        writer?.abort();
        throw error;
    } finally {
        checkpoint.close();
    }
}

/** The checkpoint's own type when its weight matrices are BF16 or F16 (copied exactly), else F16. */
export function defaultOutType(checkpoint: SafetensorsCheckpoint): ConvertOutType {
    const matrices = [...checkpoint.tensors.values()].filter((t) => t.shape.length === 2);
    const bf16 = matrices.filter((t) => t.dtype === "BF16").length;
    return bf16 > 0 && bf16 >= matrices.length / 2 ? "bf16" : "f16";
}

function defaultName(dir: string, config: HfLlamaConfig): string {
    return path.basename(config.nameOrPath ?? path.resolve(dir));
}

function addModelMetadata(w: GgufWriter, c: HfLlamaConfig, outType: ConvertOutType, labels: string[], name: string): void {
    writeLlamaRewardMetadata(
        w,
        {
            name,
            type: "model",
            fileType: OUT_TYPE_FILE_TYPE[outType],
            quantizationVersion: GGML_QUANT_VERSION,
        },
        {
            contextLength: c.maxPositionEmbeddings,
            embeddingLength: c.hiddenSize,
            blockCount: c.layerCount,
            feedForwardLength: c.intermediateSize,
            headCount: c.headCount,
            headCountKv: c.kvHeadCount,
            ropeFreqBase: c.ropeTheta,
            rmsEpsilon: c.rmsNormEps,
            ropeDimensionCount: c.headDim,
            vocabSize: c.vocabSize,
            ...(c.explicitHeadDim ? { explicitHeadDim: c.headDim } : {}),
        },
        labels,
    );
}

/**
 * The converted bytes of tensor `t`, a chunk of whole rows at a time. For
 * Q/K the chunks hold whole heads, whose rows are reordered from HF's
 * rotate_half layout [first halves; second halves] to llama.cpp's pairs
 * (row 2j+k of a head takes HF row k·(head_dim/2)+j), as llama.cpp's
 * converter permutes them.
 */
function* tensorChunks(checkpoint: SafetensorsCheckpoint, t: PlannedTensor): Generator<{ bytes: Uint8Array; sourceBytes: number }> {
    if (t.data !== undefined) {
        yield { bytes: convertChunk(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), "F32", t.type), sourceBytes: 0 };
        return;
    }
    const src = t.source!;
    const rowBytes = t.shape.length === 1 ? src.byteLength : sourceRowBytes(t);
    const rows = src.byteLength / rowBytes;
    const unit = t.permuteHeads !== undefined ? rows / t.permuteHeads : 1; // rows per head
    const rowsPerChunk = Math.max(unit, Math.floor(CHUNK_BYTES / rowBytes / unit) * unit);
    const buffer = new Uint8Array(Math.min(rows, rowsPerChunk) * rowBytes);
    const permuted = t.permuteHeads !== undefined ? new Uint8Array(buffer.length) : undefined;

    for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
        const n = Math.min(rowsPerChunk, rows - r0);
        let chunk = checkpoint.readRows(src, rowBytes, r0, n, buffer);
        if (permuted !== undefined) {
            const half = unit / 2;
            for (let h = 0; h < n / unit; h++) {
                for (let j = 0; j < half; j++) {
                    for (let k = 0; k < 2; k++) {
                        const from = (h * unit + k * half + j) * rowBytes;
                        permuted.set(chunk.subarray(from, from + rowBytes), (h * unit + 2 * j + k) * rowBytes);
                    }
                }
            }
            chunk = permuted.subarray(0, chunk.length);
        }
        yield { bytes: convertChunk(chunk, src.dtype, t.type), sourceBytes: chunk.length };
    }
}
