/**
 * RewardModel: the public API. Loads a GGUF reward model (validated first),
 * turns conversations into tokens exactly as transformers does (chat
 * template, tokenizer special tokens, BOS policy), and scores them through
 * one continuous-batching scheduler shared by every caller.
 */
import { applyBosPolicy, leadingBosCount, type BosPolicy } from "./bos-policy.js";
import { ChatTemplate, validateMessages, type ChatMessage } from "./chat-template.js";
import { RewardModelError, abortedError, fromNativeError, withCallerStack } from "../errors.js";
import { preferenceProbability } from "./preference.js";
import { fileTypeName } from "./file-types.js";
import {
    flashAttentionMode,
    resolveLoadOptions,
    type IsolatedLoadOptions,
    type LoadOptions,
    type ResolvedLoadOptions,
} from "./load-options.js";
import { inspectRewardModelFile } from "./model-file.js";
import { offloadedLayerCount, selectGpu, type GpuBackend } from "./gpu.js";
import { loadedAddon } from "../addon/load-addon.js";
import type { NativeContext, NativeModel } from "../addon/native-types.js";
import { Scheduler, type SchedulerStats } from "../scoring/scheduler.js";
import { IsolatedRewardModel } from "./isolation/isolated-reward-model.js";

export interface RewardModelInfo {
    /** general.architecture, e.g. "llama". */
    architecture: string;
    /** general.name from the file ("" when absent). */
    name: string;
    /** llama.cpp's one-line description, e.g. "llama 8B Q4_K - Medium". */
    description: string;
    parameterCount: number;
    /** Bytes of weights. */
    sizeBytes: number;
    layerCount: number;
    embeddingSize: number;
    headCount: number;
    kvHeadCount: number;
    /** The context length the model was trained with. */
    trainContextLength: number;
    /** The context this instance runs with (KV cells shared by all sequences in flight). */
    contextSize: number;
    vocabSize: number;
    /** Reward head labels; score() returns the first. */
    labels: string[];
    /** Weight type, e.g. "F16", "Q8_0", "Q4_K_M". */
    fileType: string;
    chatTemplate: string;
    bosToken: number;
    eosToken: number;
    /** The GPU backend holding the offloaded layers ("cuda", "vulkan", "metal"), or null when all run on the CPU. */
    gpu: GpuBackend | null;
    /** Layers on the GPU, counting the output layer as llama.cpp does (layerCount + 1 is all of them). */
    offloadedLayers: number;
}

export interface CallOptions {
    signal?: AbortSignal;
}

export interface BatchProgress {
    completed: number;
    total: number;
}

export interface BatchOptions extends CallOptions {
    /** Called each time a conversation is scored. */
    onProgress?: (progress: BatchProgress) => void;
}

export interface TokenizeOptions {
    /** Add the model's BOS/EOS and parse special-token text such as <|eot_id|>. Default: true. */
    special?: boolean;
    /** Add BOS/EOS as the tokenizer does (transformers' add_special_tokens), separately from parsing. Default: `special`. */
    addSpecial?: boolean;
    /** Apply the model's `truncation` option: ERR_CONTEXT_OVERFLOW past the context, or keep leading BOS and the end. Default: false. */
    fitContext?: boolean;
}

/** What compare() returns. */
export interface CompareResult {
    rewardA: number;
    rewardB: number;
    /** Bradley-Terry probability that `a` is preferred to `b`: sigmoid(rewardA - rewardB). */
    probability: number;
}

/** A response of rank(), with its reward and its index in the input. */
export interface RankedResponse {
    response: string;
    reward: number;
    index: number;
}

export class RewardModel implements AsyncDisposable {
    readonly info: RewardModelInfo;
    readonly options: ResolvedLoadOptions;
    private readonly native: NativeModel;
    private readonly scheduler: Scheduler;
    private readonly template: ChatTemplate;
    private disposing: Promise<void> | undefined;

    private constructor(native: NativeModel, context: NativeContext, info: RewardModelInfo, options: ResolvedLoadOptions) {
        this.native = native;
        this.info = info;
        this.options = options;
        const c = context.info();
        this.scheduler = new Scheduler(context, {
            contextSize: c.contextSize,
            batchSize: c.batchSize,
            parallel: c.parallel,
            labelCount: c.labelCount,
            reproducible: options.reproducible,
        });
        // a vocabulary without BOS or EOS (id -1) renders them as ""
        const text = (token: number) => (token >= 0 ? native.tokenText(token) : "");
        this.template = new ChatTemplate(info.chatTemplate, text(info.bosToken), text(info.eosToken));
    }

    /**
     * Loads a GGUF reward model. Validates the file before llama.cpp reads it.
     * With `isolate: true` the model loads and scores in an engine process of
     * its own and this resolves to an IsolatedRewardModel (see its header).
     */
    static load(path: string, options: IsolatedLoadOptions): Promise<IsolatedRewardModel>;
    static load(path: string, options?: LoadOptions): Promise<RewardModel>;
    static load(path: string, options: LoadOptions | IsolatedLoadOptions = {}): Promise<RewardModel | IsolatedRewardModel> {
        if ((options as IsolatedLoadOptions | null)?.isolate === true)
            return IsolatedRewardModel.load(path, options as IsolatedLoadOptions);
        return withCallerStack(() => RewardModel.loadImpl(path, options as LoadOptions, true));
    }

    private static async loadImpl(path: string, options: LoadOptions, checkFile: boolean): Promise<RewardModel> {
        if (typeof path !== "string" || path.length === 0) {
            throw new RewardModelError("ERR_INVALID_OPTION", "RewardModel.load needs the path of a .gguf file");
        }
        const trainContextLength = checkFile ? inspectRewardModelFile(path).trainContextLength : 0;
        const resolved = resolveLoadOptions(options, trainContextLength);
        const { signal, onProgress } = options;
        if (signal?.aborted) throw abortedError(signal, "loading");
        const { addon, backends } = loadedAddon();
        const gpu = selectGpu(resolved.gpu, {
            devices: addon.backendDevices(),
            status: backends,
            platform: process.platform,
            arch: process.arch,
        });
        const abortFlag = new Int32Array(1);
        const onAbort = () => {
            abortFlag[0] = 1;
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        let native: NativeModel;
        try {
            native = await addon.loadModel(
                path,
                {
                    gpuLayers: resolved.gpuLayers === "max" ? -1 : resolved.gpuLayers,
                    useMmap: resolved.useMmap,
                    devices: gpu.devices,
                },
                abortFlag,
                onProgress ? (progress) => onProgress({ progress }) : undefined,
            );
        } catch (error) {
            throw fromNativeError(error, "ERR_LOAD_FAILED");
        } finally {
            signal?.removeEventListener("abort", onAbort);
        }
        let context: NativeContext | undefined;
        try {
            if (signal?.aborted) throw abortedError(signal, "loading");
            const n = native.info();
            // Where the layers run decides what flashAttention "auto" means (see flashAttentionMode).
            const offloadedLayers = offloadedLayerCount(gpu, resolved.gpuLayers, n.layerCount);
            const layersOnGpu = offloadedLayers > 0;
            if (n.chatTemplate === null) {
                throw new RewardModelError("ERR_TEMPLATE", `${path} has no tokenizer.chat_template; conversations cannot be rendered`);
            }
            context = await native
                .createContext({
                    contextSize: resolved.contextSize,
                    batchSize: resolved.batchSize,
                    parallel: resolved.parallel,
                    threads: resolved.threads,
                    flashAttention: flashAttentionMode(
                        resolved.flashAttention,
                        layersOnGpu,
                        resolved.kvCacheType,
                        n.embeddingSize / n.headCount,
                    ),
                    kvCacheType: resolved.kvCacheType,
                })
                .catch((error: unknown) => {
                    throw fromNativeError(error, "ERR_LOAD_FAILED");
                });
            const info: RewardModelInfo = {
                architecture: n.architecture,
                name: n.name,
                description: n.description,
                parameterCount: n.parameterCount,
                sizeBytes: n.sizeBytes,
                layerCount: n.layerCount,
                embeddingSize: n.embeddingSize,
                headCount: n.headCount,
                kvHeadCount: n.kvHeadCount,
                trainContextLength: n.trainContextLength,
                contextSize: context.info().contextSize,
                vocabSize: n.vocabSize,
                labels: n.labels,
                fileType: n.fileType === "" ? "unknown" : fileTypeName(Number(n.fileType)),
                chatTemplate: n.chatTemplate,
                bosToken: n.bosToken,
                eosToken: n.eosToken,
                gpu: offloadedLayers > 0 ? gpu.backend : null,
                offloadedLayers,
            };
            return new RewardModel(native, context, info, resolved);
        } catch (error) {
            context?.dispose();
            native.dispose();
            throw error;
        }
    }

    /** The scheduler's counters: decode steps and tokens so far, and the work, slots and KV cells in use now. */
    get stats(): SchedulerStats {
        return this.scheduler.stats;
    }

    /** True once dispose() has been called. */
    get disposed(): boolean {
        return this.disposing !== undefined;
    }

    /** Renders a conversation with the model's chat template (no generation prompt). */
    render(messages: ChatMessage[]): string {
        this.checkAlive();
        validateMessages(messages);
        return this.template.render(messages);
    }

    /** The text of a token id (ERR_INVALID_TOKENS outside the vocabulary). */
    tokenText(token: number): string {
        this.checkAlive();
        try {
            return this.native.tokenText(token);
        } catch (error) {
            throw fromNativeError(error, "ERR_INVALID_TOKENS");
        }
    }

    /** Tokenizes text. With special (default) this adds BOS as the tokenizer does and parses special tokens. */
    tokenize(text: string, options: TokenizeOptions = {}): number[] {
        this.checkAlive();
        if (typeof text !== "string") throw new RewardModelError("ERR_INVALID_MESSAGES", "tokenize needs a string");
        const special = options.special ?? true;
        const tokens = this.tokenizeRaw(text, options.addSpecial ?? special, special);
        return Array.from(options.fitContext ? this.fitContext(tokens) : tokens);
    }

    /** The exact tokens score() evaluates for a conversation (after the BOS policy and truncation). */
    tokenizeConversation(messages: ChatMessage[]): number[] {
        return Array.from(this.conversationTokens(messages));
    }

    /** The reward of a conversation (the first label). */
    async score(messages: ChatMessage[], options: CallOptions = {}): Promise<number> {
        return (await this.scoreVector(messages, options))[0]!;
    }

    /** Every label's value for a conversation (multi-label heads). */
    scoreVector(messages: ChatMessage[], options: CallOptions = {}): Promise<number[]> {
        return withCallerStack(async () => {
            const tokens = this.conversationTokens(messages);
            return Array.from(await this.scheduler.score(tokens, options.signal));
        });
    }

    /** Rewards of many conversations, in input order. Conversations sharing a prompt decode it once. */
    scoreBatch(conversations: ChatMessage[][], options: BatchOptions = {}): Promise<number[]> {
        return withCallerStack(async () => {
            if (!Array.isArray(conversations)) {
                throw new RewardModelError("ERR_INVALID_MESSAGES", "scoreBatch needs an array of conversations");
            }
            const tokens = conversations.map((messages, i) => this.conversationTokens(messages, `conversations[${i}]`));
            return (await this.scoreTokenLists(tokens, options)).map((v) => v[0]!);
        });
    }

    /**
     * Best-of-N: rewards of each response as the assistant turn after `prompt`.
     * The prompt is decoded once and its KV shared by every response.
     */
    scoreResponses(prompt: ChatMessage[], responses: string[], options: BatchOptions = {}): Promise<number[]> {
        return withCallerStack(async () => {
            validateMessages(prompt, "prompt");
            if (!Array.isArray(responses) || responses.some((r) => typeof r !== "string")) {
                throw new RewardModelError("ERR_INVALID_MESSAGES", "responses must be an array of strings");
            }
            const tokens = responses.map((content, i) =>
                this.conversationTokens([...prompt, { role: "assistant", content }], `responses[${i}]`),
            );
            return (await this.scoreTokenLists(tokens, options)).map((v) => v[0]!);
        });
    }

    /**
     * Compares two conversations: both rewards, scored together (a shared
     * prompt is decoded once), and the Bradley-Terry probability
     * sigmoid(rewardA - rewardB) that `a` is preferred.
     */
    async compare(a: ChatMessage[], b: ChatMessage[], options: CallOptions = {}): Promise<CompareResult> {
        validateMessages(a, "a");
        validateMessages(b, "b");
        const [rewardA, rewardB] = (await this.scoreBatch([a, b], { signal: options.signal })) as [number, number];
        return { rewardA, rewardB, probability: preferenceProbability(rewardA, rewardB) };
    }

    /** The responses to `prompt` with their rewards, best first (ties keep input order); the prompt is decoded once. */
    async rank(prompt: ChatMessage[], responses: string[], options: BatchOptions = {}): Promise<RankedResponse[]> {
        const rewards = await this.scoreResponses(prompt, responses, options);
        return rewards
            .map((reward, index) => ({ response: responses[index]!, reward, index }))
            .sort((x, y) => y.reward - x.reward || x.index - y.index);
    }

    /** The reward of raw text, tokenized with special tokens and the BOS policy. */
    scoreText(text: string, options: CallOptions = {}): Promise<number> {
        return withCallerStack(async () => {
            if (typeof text !== "string" || text.length === 0) {
                throw new RewardModelError("ERR_INVALID_MESSAGES", "scoreText needs a non-empty string");
            }
            const tokens = this.fitContext(applyBosPolicy(this.tokenizeRaw(text, true), this.info.bosToken, this.options.bos));
            return (await this.scheduler.score(tokens, options.signal))[0]!;
        });
    }

    /** The reward of exact token ids (no BOS policy, no truncation). */
    scoreTokens(tokens: ArrayLike<number>, options: CallOptions = {}): Promise<number> {
        return withCallerStack(async () => {
            this.checkAlive();
            const ids = this.validateTokens(tokens);
            return (await this.scheduler.score(ids, options.signal))[0]!;
        });
    }

    /**
     * Every label's value for each list of exact token ids (no BOS policy, no truncation), in input order.
     * Lists sharing a prefix decode it once, as in scoreBatch.
     */
    scoreTokenBatch(lists: ArrayLike<number>[], options: BatchOptions = {}): Promise<number[][]> {
        return withCallerStack(async () => {
            this.checkAlive();
            if (!Array.isArray(lists)) throw new RewardModelError("ERR_INVALID_TOKENS", "scoreTokenBatch needs an array of token lists");
            const ids = lists.map((tokens) => this.validateTokens(tokens));
            return (await this.scoreTokenLists(ids, options)).map((v) => Array.from(v));
        });
    }

    /** Frees the model. Queued calls reject with ERR_DISPOSED; the running step finishes first. Idempotent. */
    dispose(): Promise<void> {
        this.disposing ??= (async () => {
            await this.scheduler.dispose();
            this.native.dispose();
        })();
        return this.disposing;
    }

    [Symbol.asyncDispose](): Promise<void> {
        return this.dispose();
    }

    private async scoreTokenLists(lists: Int32Array[], options: BatchOptions): Promise<Float32Array[]> {
        const { signal, onProgress } = options;
        if (onProgress !== undefined && typeof onProgress !== "function") {
            throw new RewardModelError("ERR_INVALID_OPTION", "onProgress must be a function");
        }
        const total = lists.length;
        let completed = 0;
        const report = (value: Float32Array): Float32Array => {
            completed++;
            onProgress?.({ completed, total });
            return value;
        };
        const pending = this.scheduler.scoreMany(lists, signal).map((p) => p.then(report));
        // Settle everything before reporting, so no rejection goes unhandled.
        const settled = await Promise.allSettled(pending);
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
        return settled.map((r) => (r as PromiseFulfilledResult<Float32Array>).value);
    }

    private checkAlive(): void {
        if (this.disposed) throw new RewardModelError("ERR_DISPOSED", "the model is disposed");
    }

    private tokenizeRaw(text: string, addSpecial: boolean, parseSpecial = addSpecial): Int32Array {
        try {
            return this.native.tokenize(text, addSpecial, parseSpecial);
        } catch (error) {
            throw fromNativeError(error, "ERR_INVALID_MESSAGES");
        }
    }

    private conversationTokens(messages: ChatMessage[], where = "messages"): Int32Array {
        this.checkAlive();
        validateMessages(messages, where);
        const text = this.template.render(messages);
        const tokens = applyBosPolicy(this.tokenizeRaw(text, true), this.info.bosToken, this.options.bos);
        if (tokens.length === 0) throw new RewardModelError("ERR_INVALID_MESSAGES", `${where} renders to no tokens`);
        return this.fitContext(tokens);
    }

    /** Applies the truncation policy to a sequence longer than the context. */
    private fitContext(tokens: Int32Array): Int32Array {
        const limit = this.info.contextSize;
        if (tokens.length <= limit) return tokens;
        if (this.options.truncation === "error") {
            throw new RewardModelError(
                "ERR_CONTEXT_OVERFLOW",
                `the conversation has ${tokens.length} tokens but the context holds ${limit}; ` +
                    'load with a larger contextSize or truncation: "left"',
            );
        }
        // Keep the leading BOS tokens and the end of the conversation.
        const lead = Math.min(leadingBosCount(tokens, this.info.bosToken), limit - 1);
        const out = new Int32Array(limit);
        out.set(tokens.subarray(0, lead), 0);
        out.set(tokens.subarray(tokens.length - (limit - lead)), lead);
        return out;
    }

    private validateTokens(tokens: ArrayLike<number>): Int32Array {
        if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
            throw new RewardModelError("ERR_INVALID_TOKENS", "tokens must be an array of token ids");
        }
        if (tokens.length === 0) throw new RewardModelError("ERR_INVALID_TOKENS", "tokens is empty");
        const out = new Int32Array(tokens.length);
        for (let i = 0; i < tokens.length; i++) {
            const t = tokens[i];
            if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t >= this.info.vocabSize) {
                throw new RewardModelError(
                    "ERR_INVALID_TOKENS",
                    `tokens[${i}] = ${String(t)} is not a token id (0..${this.info.vocabSize - 1})`,
                );
            }
            out[i] = t;
        }
        if (out.length > this.info.contextSize) {
            throw new RewardModelError(
                "ERR_CONTEXT_OVERFLOW",
                `the sequence has ${out.length} tokens but the context holds ${this.info.contextSize}`,
            );
        }
        return out;
    }
}

/**
 * Loads without llama-reward's file checks (inspectRewardModelFile): only for
 * the test-only mode of the isolated engine (isolation/engine-child.ts), which
 * hands llama.cpp files it aborts on. Not exported from the package.
 */
export function loadRewardModelUnchecked(path: string, options: LoadOptions): Promise<RewardModel> {
    // biome-ignore lint/complexity/useLiteralKeys: loadImpl is private to RewardModel; this function is its one outside caller
    return RewardModel["loadImpl"](path, options, false);
}

export type { BosPolicy, ChatMessage, LoadOptions };
