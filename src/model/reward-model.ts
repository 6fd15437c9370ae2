/**
 * RewardModel: the public API. Loads a GGUF reward model (validated first),
 * turns conversations into tokens exactly as transformers does (chat
 * template, tokenizer special tokens, BOS policy), and scores them through
 * one continuous-batching scheduler shared by every caller. hiddenStates()
 * reads the head's input (the final-norm hidden state of the last token)
 * through a second, LAST-pooled context with its own scheduler. Loading
 * creates the context the caller asked for (rewards by default, hidden states
 * with `requireRewardHead: false`) and the other one on its first use; a file
 * without a head never gets a rewards context. scoreTokensAt() and
 * scoreSteps() read the head at several tokens of one sequence in one pass:
 * the rewards context returns those tokens' hidden states and the head is
 * applied here (reward-head.ts); step-scores.ts holds the step rules.
 */
import { applyBosPolicy, leadingBosCount, type BosPolicy } from "./bos-policy.js";
import { ChatTemplate, specialTokenText, validateMessages, withResponse, type ChatMessage } from "./chat-template.js";
import { RewardModelError, abortedError, fromNativeError, withCallerStack, invalidArgument } from "../errors.js";
import { preferenceProbability } from "./preference.js";
import { fileTypeName } from "./file-types.js";
import {
    flashAttentionMode,
    resolveLoadOptions,
    type IsolatedLoadOptions,
    type LoadOptions,
    type ResolvedLoadOptions,
} from "./load-options.js";
import { inspectRewardModelFile, weightAlignmentOf } from "./model-file.js";
import { offloadedLayerCount, selectGpu, type GpuBackend } from "./gpu.js";
import { connectRpcServers } from "./rpc-servers.js";
import { loadedAddon } from "../addon/load-addon.js";
import type { NativeContext, NativeContextOptions, NativeModel } from "../addon/native-types.js";
import { Scheduler, type SchedulerStats } from "../scoring/scheduler.js";
import { IsolatedRewardModel } from "./isolation/isolated-reward-model.js";
import { readGgufHeader } from "../gguf/gguf-reader.js";
import { MODEL_FILE_ALIGNMENT } from "../gguf/gguf-types.js";
import { readStepMetadata, type StepMetadata } from "../gguf/step-metadata.js";
import { applyHead, readRewardHead, type RewardHead } from "./reward-head.js";
import {
    activate,
    aggregateSteps,
    resolveStepSettings,
    stepConversation,
    stepTagPositions,
    type StepAggregate,
    type StepAggregates,
    type StepFormat,
    type StepInput,
    type StepSettingsOptions,
    type StepSolution,
} from "./step-scores.js";
import { normalizeReward, readRewardNormalization, type RewardNormalization } from "./reward-normalization.js";
import { gatedScores, gatingPosition, readGatedHead, type GatedHead, type GatedScores } from "./gated-head.js";

/** How a context pools each sequence: "rank" applies the reward head, "last" gives the hidden state it multiplies. */
type Pooling = "rank" | "last";

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
    /**
     * Reward head labels; score() returns the first. Empty for a file without a head. A multi-objective head
     * with gating (ArmoRM) has the one label "score" (the gated reward); its objectives are in `objectives`.
     */
    labels: string[];
    /** The objectives of a multi-objective head with gating (scoreObjectives()); empty for any other head. */
    objectives: string[];
    /**
     * The reward normalization the file carries (OpenRLHF's mean, std and normalize_reward, kept by convert),
     * with `applied`: whether this instance returns (r - mean) / std (the `normalize` option); null without one.
     */
    normalization: (RewardNormalization & { applied: boolean }) | null;
    /** The file has a reward head (cls.output.weight); without one, only hiddenStates() works. */
    hasRewardHead: boolean;
    /** Weight type, e.g. "F16", "Q8_0", "Q4_K_M". */
    fileType: string;
    /**
     * The alignment in bytes, at most 64, of every weight matrix in the file, and so in memory with mmap (the
     * default). 64: each starts on a cache line, as `convert` writes them. 32 or less: BF16 weights score 5-12%
     * slower on llama-reward's AMX kernel, which reads them in place (the AVX-512 kernels stage such rows onto cache
     * lines); convert again, or load with `useMmap: false`.
     */
    weightAlignment: number;
    chatTemplate: string;
    bosToken: number;
    eosToken: number;
    /** The GPU backend holding the offloaded layers ("cuda", "vulkan", "metal"), or null when all run on the CPU. */
    gpu: GpuBackend | null;
    /**
     * Layers off the CPU of this process (on the GPU or the RPC servers), counting the output layer as llama.cpp
     * does (layerCount + 1 is all of them).
     */
    offloadedLayers: number;
    /**
     * The RPC servers (`rpc` option) holding the offloaded layers, split in proportion to their free memory (after
     * the local GPU's share, if any); empty when none.
     */
    rpc: string[];
    /** What the file says about process rewards and LM-head rows (llama_reward.* keys); empty when nothing. */
    steps: StepMetadata;
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

/** Options of tokenizeConversation(). */
export interface TokenizeConversationOptions {
    /** Keep at most this many tokens, from the start (the end is cut). Default: no limit. */
    maxTokens?: number;
}

/** What compare() returns. */
export interface CompareResult {
    rewardA: number;
    rewardB: number;
    /** Bradley-Terry probability that `a` is preferred to `b`: sigmoid(rewardA - rewardB). */
    probability: number;
}

/** Options of scoreSteps(): the step settings (each defaults to the file's) and a signal. */
export interface StepOptions extends StepSettingsOptions, CallOptions {}

/** One step of scoreSteps(). */
export interface StepScore {
    /** The token index the step was read at. */
    position: number;
    /** Every label's value after the activation. */
    values: number[];
    /** values[scoreLabel]. */
    score: number;
}

/** What scoreSteps() returns. */
export interface StepScores {
    format: StepFormat;
    /** The head's labels, in the order of each step's values. */
    labels: string[];
    steps: StepScore[];
    /** Mean, minimum and last of the step scores. */
    aggregates: StepAggregates;
    /** Which aggregate `score` is. */
    aggregate: StepAggregate;
    score: number;
}

/** What scoreObjectives() returns for a conversation: the gated reward and its parts, by objective name. */
export interface ObjectiveScores {
    /** The reward score() returns: Σ gating · (objectives · transform matrix), normalized when `normalize` is on. */
    score: number;
    /** The regression layer's output per objective, at the last token. */
    objectives: Record<string, number>;
    /** The gating network's weight per objective, read at the gating position. */
    gating: Record<string, number>;
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
    /** One scheduler per pooling: "rank" gives rewards, "last" hidden states; each created once, on demand. */
    private readonly schedulers: Partial<Record<Pooling, Promise<Scheduler>>> = {};
    /** The schedulers whose context exists (for stats). */
    private readonly readySchedulers: Partial<Record<Pooling, Scheduler>> = {};
    private readonly contextOptions: NativeContextOptions;
    /** The pooling of the context loading created. */
    private readonly loadedPooling: Pooling;
    private readonly template: ChatTemplate;
    /** The gating network and regression layer of a multi-objective head (ArmoRM), or null. */
    private readonly gatedHead: GatedHead | null;
    private disposing: Promise<void> | undefined;
    private readonly path: string;
    /** The head as float64, read from the file on the first call that reads it at marked tokens. */
    private head: RewardHead | undefined;

    private constructor(
        path: string,
        native: NativeModel,
        first: { pooling: Pooling; context: NativeContext; options: NativeContextOptions },
        info: RewardModelInfo,
        options: ResolvedLoadOptions,
        gatedHead: GatedHead | null,
    ) {
        this.path = path;
        this.native = native;
        this.gatedHead = gatedHead;
        this.info = info;
        this.options = options;
        this.contextOptions = first.options;
        this.loadedPooling = first.pooling;
        const scheduler = this.schedulerFor(first.context);
        this.readySchedulers[first.pooling] = scheduler;
        this.schedulers[first.pooling] = Promise.resolve(scheduler);
        const text = (token: number) => native.tokenText(token);
        this.template = new ChatTemplate(
            info.chatTemplate,
            specialTokenText(info.bosToken, text),
            specialTokenText(info.eosToken, text),
            options.templateVariables,
        );
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
            throw invalidArgument("RewardModel.load needs the path of a .gguf file");
        }
        const requireRewardHead = options?.requireRewardHead ?? true;
        if (typeof requireRewardHead !== "boolean") {
            throw invalidArgument("requireRewardHead must be a boolean"); // before the file decides what it needs
        }
        // checkFile is false only in the isolated engine's test-only mode (loadRewardModelUnchecked)
        const file = checkFile ? inspectRewardModelFile(path, { requireRewardHead }) : undefined;
        const normalization = file ? readRewardNormalization(path, file.header) : null;
        const resolved = resolveLoadOptions(options, file?.trainContextLength ?? 0, normalization);
        const { signal, onProgress } = options;
        if (signal?.aborted) throw abortedError(signal, "loading");
        const { addon, backends } = loadedAddon();
        const gpu = selectGpu(resolved.gpu, {
            devices: addon.backendDevices(),
            status: backends,
            platform: process.platform,
            arch: process.arch,
        });
        // remote devices after the local GPU's, as llama.cpp's --rpc appends them
        const rpcDevices = await connectRpcServers(addon, resolved.rpc);
        if (signal?.aborted) throw abortedError(signal, "loading");
        const abortFlag = new Int32Array(1);
        const onAbort = () => {
            Atomics.store(abortFlag, 0, 1);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        let native: NativeModel;
        try {
            native = await addon.loadModel(
                path,
                {
                    gpuLayers: resolved.gpuLayers === "max" ? -1 : resolved.gpuLayers,
                    useMmap: resolved.useMmap,
                    devices: [...gpu.devices, ...rpcDevices],
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
            // RPC servers serve CPU devices: flash attention "auto" follows the CPU rule unless a local GPU holds layers
            const layersOnGpu = offloadedLayerCount(gpu, resolved.gpuLayers, n.layerCount) > 0;
            const offloadedLayers = offloadedLayerCount(
                { ...gpu, devices: [...gpu.devices, ...rpcDevices] },
                resolved.gpuLayers,
                n.layerCount,
            );
            if (n.chatTemplate === null) {
                throw new RewardModelError("ERR_TEMPLATE", `${path} has no tokenizer.chat_template; conversations cannot be rendered`);
            }
            const contextOptions: NativeContextOptions = {
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
            };
            const hasRewardHead = file?.hasRewardHead ?? true;
            const gatedHead = file && hasRewardHead ? readGatedHead(path, file.header, n.embeddingSize, n.labels) : null;
            // Rewards (RANK pooling) unless the caller loads for hidden states (LAST pooling), as for a file without a
            // head; a gated head is computed here from hidden states (LAST pooling) at two positions.
            const pooling: Pooling = requireRewardHead && gatedHead === null ? "rank" : "last";
            context = await native.createContext({ ...contextOptions, pooling }).catch((error: unknown) => {
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
                labels: !hasRewardHead ? [] : gatedHead !== null ? ["score"] : n.labels,
                objectives: gatedHead !== null ? n.labels : [],
                normalization: normalization === null ? null : { ...normalization, applied: resolved.normalize },
                hasRewardHead,
                fileType: n.fileType === "" ? "unknown" : fileTypeName(Number(n.fileType)),
                // not read in the unchecked (test-only) mode, whose files our reader may refuse
                weightAlignment: file ? weightAlignmentOf(file.header) : MODEL_FILE_ALIGNMENT,
                chatTemplate: n.chatTemplate,
                bosToken: n.bosToken,
                eosToken: n.eosToken,
                gpu: layersOnGpu ? gpu.backend : null,
                offloadedLayers,
                rpc: resolved.rpc,
                // the unchecked (test-only) mode hands llama.cpp files our reader may refuse: no step settings there
                steps: file ? readStepMetadata(path, file.header) : {},
            };
            return new RewardModel(path, native, { pooling, context, options: contextOptions }, info, resolved, gatedHead);
        } catch (error) {
            context?.dispose();
            native.dispose();
            throw error;
        }
    }

    /**
     * The counters of the context loading created (rewards, or hidden states with `requireRewardHead: false`):
     * decode steps and tokens so far, and the work, slots and KV cells in use now.
     */
    get stats(): SchedulerStats {
        return this.readySchedulers[this.loadedPooling]!.stats;
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

    /**
     * The exact tokens score() evaluates for a conversation (after the BOS policy and truncation).
     * With `maxTokens`, a longer conversation keeps its first `maxTokens` tokens (the end is cut, as
     * transformers' pipelines do with `truncation=True` and the RewardBench scripts do with `max_length`),
     * before the model's own `truncation` policy applies; score the result with scoreTokenBatch.
     */
    tokenizeConversation(messages: ChatMessage[], options: TokenizeConversationOptions = {}): number[] {
        const { maxTokens } = options;
        if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1)) {
            throw invalidArgument(`maxTokens must be a positive integer, got ${String(maxTokens)}`);
        }
        return Array.from(this.conversationTokens(messages, "messages", maxTokens));
    }

    /** The reward of a conversation (the first label). */
    async score(messages: ChatMessage[], options: CallOptions = {}): Promise<number> {
        return (await this.scoreVector(messages, options))[0]!;
    }

    /** Every label's value for a conversation (multi-label heads). */
    scoreVector(messages: ChatMessage[], options: CallOptions = {}): Promise<number[]> {
        return withCallerStack(async () => {
            const tokens = this.conversationTokens(messages);
            return (await this.rewardVectors([tokens], { signal: options.signal }, "messages"))[0]!;
        });
    }

    /**
     * A multi-objective head with gating (ArmoRM): the gated reward with every objective and gating weight,
     * by objective name. ERR_NOT_MULTI_OBJECTIVE for any other head; ERR_INVALID_MESSAGES when the
     * conversation lacks the gating token pattern (the assistant header after the prompt).
     */
    scoreObjectives(messages: ChatMessage[], options: CallOptions = {}): Promise<ObjectiveScores> {
        return withCallerStack(async () => {
            this.checkGated("scoreObjectives");
            const tokens = this.conversationTokens(messages);
            return this.namedObjectives((await this.gatedResults([tokens], { signal: options.signal }, "messages"))[0]!);
        });
    }

    /** scoreObjectives() of exact token ids (no BOS policy, no truncation), in input order. */
    scoreObjectivesOfTokens(lists: ArrayLike<number>[], options: BatchOptions = {}): Promise<ObjectiveScores[]> {
        return withCallerStack(async () => {
            this.checkAlive();
            this.checkGated("scoreObjectivesOfTokens");
            if (!Array.isArray(lists))
                throw new RewardModelError("ERR_INVALID_TOKENS", "scoreObjectivesOfTokens needs an array of token lists");
            const ids = lists.map((tokens) => this.validateTokens(tokens));
            return (await this.gatedResults(ids, options, "tokens")).map((r) => this.namedObjectives(r));
        });
    }

    /** Rewards of many conversations, in input order. Conversations sharing a prompt decode it once. */
    scoreBatch(conversations: ChatMessage[][], options: BatchOptions = {}): Promise<number[]> {
        return withCallerStack(async () => {
            if (!Array.isArray(conversations)) {
                throw new RewardModelError("ERR_INVALID_MESSAGES", "scoreBatch needs an array of conversations");
            }
            const tokens = conversations.map((messages, i) => this.conversationTokens(messages, `conversations[${i}]`));
            return (await this.rewardVectors(tokens, options, "messages")).map((v) => v[0]!);
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
            const tokens = responses.map((response, i) => this.conversationTokens(withResponse(prompt, response), `responses[${i}]`));
            return (await this.rewardVectors(tokens, options, "messages")).map((v) => v[0]!);
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
            return (await this.rewardVectors([tokens], { signal: options.signal }, "messages"))[0]![0]!;
        });
    }

    /** The reward of exact token ids (no BOS policy, no truncation). */
    scoreTokens(tokens: ArrayLike<number>, options: CallOptions = {}): Promise<number> {
        return withCallerStack(async () => {
            this.checkAlive();
            const ids = this.validateTokens(tokens);
            return (await this.rewardVectors([ids], { signal: options.signal }, "tokens"))[0]![0]!;
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
            return this.rewardVectors(ids, options, "tokens");
        });
    }

    /**
     * The final-norm hidden state of each conversation's last token (n_embd floats: the vector the reward head
     * multiplies), in input order, tokenized exactly as scoreBatch() tokenizes. Works on a file without a head.
     * Runs through its own LAST-pooled context and scheduler: created at load with `requireRewardHead: false`,
     * else by the first call (then a second KV cache of the loaded contextSize beside the rewards one).
     */
    hiddenStates(conversations: ChatMessage[][], options: BatchOptions = {}): Promise<Float32Array[]> {
        return withCallerStack(async () => {
            if (!Array.isArray(conversations)) {
                throw new RewardModelError("ERR_INVALID_MESSAGES", "hiddenStates needs an array of conversations");
            }
            const tokens = conversations.map((messages, i) => this.conversationTokens(messages, `conversations[${i}]`));
            return this.runLists(await this.poolingScheduler("last"), tokens, options);
        });
    }

    /** hiddenStates() of exact token ids (no BOS policy, no truncation), in input order. */
    hiddenStatesOfTokens(lists: ArrayLike<number>[], options: BatchOptions = {}): Promise<Float32Array[]> {
        return withCallerStack(async () => {
            this.checkAlive();
            if (!Array.isArray(lists))
                throw new RewardModelError("ERR_INVALID_TOKENS", "hiddenStatesOfTokens needs an array of token lists");
            const ids = lists.map((tokens) => this.validateTokens(tokens));
            return this.runLists(await this.poolingScheduler("last"), ids, options);
        });
    }

    /**
     * The head's values (one per label, before any activation) at each of `positions` (increasing token
     * indices) of exact token ids, from one forward pass: equal to scoring each prefix tokens[0..p] alone.
     */
    scoreTokensAt(tokens: ArrayLike<number>, positions: readonly number[], options: CallOptions = {}): Promise<number[][]> {
        return withCallerStack(async () => {
            this.checkAlive();
            return this.headAt(this.validateTokens(tokens), positions, options.signal);
        });
    }

    /**
     * Process rewards: the head read at every step of a solution, in one forward pass. Format "step-tag"
     * reads it at each step-tag token of the conversation (vLLM's STEP pooling); "assistant-turns" at the
     * token before each assistant answer (generative PRMs such as RLHFlow's, whose head is the "+" and "-"
     * rows of the LM head), given as a conversation or as `{ question, steps }`; "step-tag" also takes
     * `{ tokens }`. Each step's values are the activated head values and its score the `scoreLabel`-th;
     * the result also aggregates the scores. A conversation is tokenized as score() does, but never truncated.
     */
    scoreSteps(input: StepInput, options: StepOptions = {}): Promise<StepScores> {
        return withCallerStack(async () => {
            this.checkAlive();
            if (options === null || typeof options !== "object") throw invalidArgument("scoreSteps options must be an object");
            await this.scorer(); // a file without a head: ERR_NO_REWARD_HEAD before anything else
            const labels = this.info.labels;
            const settings = resolveStepSettings(this.info.steps, options, labels.length, this.info.vocabSize, (text) =>
                this.stepTagId(text),
            );
            const tokenInput = !Array.isArray(input) && input !== null && typeof input === "object" && "tokens" in input;
            if (tokenInput && settings.format !== "step-tag") {
                throw new RewardModelError("ERR_INVALID_MESSAGES", 'format "assistant-turns" reads a conversation, not { tokens }');
            }
            if (!Array.isArray(input) && !tokenInput && settings.format === "step-tag") {
                throw new RewardModelError(
                    "ERR_INVALID_MESSAGES",
                    'format "step-tag" scores a conversation whose text carries the step tags, or { tokens }; not { question, steps }',
                );
            }
            let tokens: Int32Array;
            let positions: number[];
            if (tokenInput) {
                tokens = this.validateTokens((input as { tokens: ArrayLike<number> }).tokens);
                positions = stepTagPositions(tokens, settings.tagId as number, this.native.tokenText(settings.tagId as number));
            } else {
                const messages = Array.isArray(input) ? input : stepConversation(input as StepSolution);
                validateMessages(messages);
                tokens = this.unTruncatedTokens(messages);
                positions =
                    settings.format === "step-tag"
                        ? stepTagPositions(tokens, settings.tagId as number, this.native.tokenText(settings.tagId as number))
                        : this.answerPositions(messages, tokens);
            }
            const values = await this.headAt(tokens, positions, options.signal);
            const steps = values.map((v, i) => {
                const activated = activate(v, settings.activation);
                return { position: positions[i] as number, values: activated, score: activated[settings.scoreLabel] as number };
            });
            const aggregates = aggregateSteps(steps.map((step) => step.score));
            return {
                format: settings.format,
                labels: [...labels],
                steps,
                aggregates,
                aggregate: settings.aggregate,
                score: aggregates[settings.aggregate],
            };
        });
    }

    /** Frees the model. Queued calls reject with ERR_DISPOSED; the running step finishes first. Idempotent. */
    dispose(): Promise<void> {
        this.disposing ??= (async () => {
            for (const pending of Object.values(this.schedulers)) {
                const scheduler = await pending.catch(() => undefined); // a failed creation left nothing to free
                await scheduler?.dispose();
            }
            this.native.dispose();
        })();
        return this.disposing;
    }

    [Symbol.asyncDispose](): Promise<void> {
        return this.dispose();
    }

    /**
     * Every reward path ends here: the label values of each token list, normalized when `normalize` is on.
     * A gated head gives one value, its gated reward. `input` says what the lists came from, for the error
     * code of a list without the gating pattern.
     */
    private async rewardVectors(lists: Int32Array[], options: BatchOptions, input: "messages" | "tokens"): Promise<number[][]> {
        if (this.gatedHead !== null) return (await this.gatedResults(lists, options, input)).map((r) => [r.score]);
        const vectors = await this.runLists(await this.scorer(), lists, options);
        const n = this.options.normalize ? this.info.normalization : null;
        return vectors.map((v) => Array.from(v, (x) => (n === null ? x : normalizeReward(x, n))));
    }

    /**
     * A gated head's results: the hidden states of each list's last token and of its gating position (the
     * last token of the prefix ending there: attention is causal), all in one call of the hidden-state
     * scheduler, which decodes the shared prefix once; then the head's float64 arithmetic (gated-head.ts).
     */
    private async gatedResults(lists: Int32Array[], options: BatchOptions, input: "messages" | "tokens"): Promise<GatedScores[]> {
        const head = this.gatedHead!;
        const { signal, onProgress } = options;
        if (onProgress !== undefined && typeof onProgress !== "function") throw invalidArgument("onProgress must be a function");
        const positions = lists.map((tokens, i) => {
            const at = gatingPosition(tokens, head.tokenPattern);
            if (at < 0) {
                throw new RewardModelError(
                    input === "messages" ? "ERR_INVALID_MESSAGES" : "ERR_INVALID_TOKENS",
                    `${lists.length > 1 ? `${input}[${i}]: ` : ""}the gating network reads the hidden state at the last occurrence of ` +
                        `the tokens [${head.tokenPattern.join(", ")}] (the end of a user turn and the assistant header after it), ` +
                        "which this conversation does not contain: it needs a user turn followed by an assistant turn",
                );
            }
            return at;
        });
        const scheduler = await this.poolingScheduler("last");
        const n = lists.length;
        const pending = scheduler.scoreMany([...lists, ...lists.map((tokens, i) => tokens.subarray(0, positions[i]! + 1))], signal);
        let completed = 0;
        const norm = this.options.normalize ? this.info.normalization : null;
        const results = lists.map((_, i) =>
            Promise.all([pending[i]!, pending[n + i]!]).then(([last, gate]) => {
                const r = gatedScores(head, last, gate);
                completed++;
                onProgress?.({ completed, total: n });
                return norm === null ? r : { ...r, score: normalizeReward(r.score, norm) };
            }),
        );
        const settled = await Promise.allSettled([...results, ...pending]);
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
        return Promise.all(results);
    }

    private checkGated(method: string): void {
        if (this.gatedHead !== null) return;
        throw new RewardModelError(
            "ERR_NOT_MULTI_OBJECTIVE",
            `${method} needs a multi-objective head with a gating network (ArmoRM); this model's head has ` +
                `${this.info.labels.length} label(s) (${this.info.labels.join(", ") || "none"}): use scoreVector for every label`,
        );
    }

    private namedObjectives(r: GatedScores): ObjectiveScores {
        const names = this.info.objectives;
        return {
            score: r.score,
            objectives: Object.fromEntries(names.map((name, i) => [name, r.objectives[i]!])),
            gating: Object.fromEntries(names.map((name, i) => [name, r.gating[i]!])),
        };
    }

    private async runLists(scheduler: Scheduler, lists: Int32Array[], options: BatchOptions): Promise<Float32Array[]> {
        const { signal, onProgress } = options;
        if (onProgress !== undefined && typeof onProgress !== "function") {
            throw invalidArgument("onProgress must be a function");
        }
        const total = lists.length;
        let completed = 0;
        const report = (value: Float32Array): Float32Array => {
            completed++;
            onProgress?.({ completed, total });
            return value;
        };
        const pending = scheduler.scoreMany(lists, signal).map((p) => p.then(report));
        // Settle everything before reporting, so no rejection goes unhandled.
        const settled = await Promise.allSettled(pending);
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
        return settled.map((r) => (r as PromiseFulfilledResult<Float32Array>).value);
    }

    /** The head at `positions` of `ids`: the hidden states of one pass through the rewards context, times the head. */
    private async headAt(ids: Int32Array, positions: readonly number[], signal?: AbortSignal): Promise<number[][]> {
        if (!Array.isArray(positions) || positions.length === 0) {
            throw invalidArgument("positions must be a non-empty array of token indices");
        }
        positions.forEach((p, i) => {
            if (!Number.isInteger(p) || p < 0 || p >= ids.length || (i > 0 && p <= (positions[i - 1] as number))) {
                throw invalidArgument(`positions[${i}] = ${String(p)}: positions must be increasing token indices below ${ids.length}`);
            }
        });
        const scheduler = await this.scorer();
        this.head ??= readRewardHead(this.path, readGgufHeader(this.path));
        const head = this.head;
        const rows = await scheduler.hiddenAt(ids, Int32Array.from(positions), signal);
        return positions.map((_, i) => applyHead(head, rows, i * head.embeddingSize));
    }

    /** The one token of a step tag given as text (ERR_INVALID_OPTION when it is several or none). */
    private stepTagId(text: string): number {
        const ids = this.tokenizeRaw(text, false, true);
        if (ids.length !== 1) {
            throw invalidArgument(
                `the step tag ${JSON.stringify(text)} is ${ids.length} tokens (${Array.from(ids).join(", ")}), not one; ` +
                    "pass the tag's token id instead",
            );
        }
        return ids[0] as number;
    }

    /** A conversation's tokens as score() makes them, refusing (never truncating) one longer than the context. */
    private unTruncatedTokens(messages: ChatMessage[], generationPrompt = false): Int32Array {
        const text = this.template.render(messages, generationPrompt);
        const tokens = applyBosPolicy(this.tokenizeRaw(text, true), this.info.bosToken, this.options.bos);
        if (tokens.length === 0) throw new RewardModelError("ERR_INVALID_MESSAGES", "messages render to no tokens");
        if (tokens.length > this.info.contextSize) {
            throw new RewardModelError(
                "ERR_CONTEXT_OVERFLOW",
                `the conversation has ${tokens.length} tokens but the context holds ${this.info.contextSize}; ` +
                    "load with a larger contextSize (steps are never truncated)",
            );
        }
        return tokens;
    }

    /**
     * For each assistant message, the index of the token that predicts its first token: the last token of
     * the conversation before it rendered with the generation prompt, which must be a prefix of `tokens`.
     */
    private answerPositions(messages: ChatMessage[], tokens: Int32Array): number[] {
        const positions: number[] = [];
        messages.forEach((message, j) => {
            if (message.role !== "assistant" || j === 0) return;
            const prefix = this.unTruncatedTokens(messages.slice(0, j), true);
            const isPrefix = prefix.length < tokens.length && prefix.every((t, i) => tokens[i] === t);
            if (!isPrefix) {
                throw new RewardModelError(
                    "ERR_TEMPLATE",
                    `the chat template's generation prompt before messages[${j}] is not how the conversation continues, ` +
                        'so its answer cannot be read in one pass (format "assistant-turns" needs a template that renders ' +
                        "each turn independently of the turns after it)",
                );
            }
            positions.push(prefix.length - 1);
        });
        if (positions.length === 0) {
            throw new RewardModelError(
                "ERR_INVALID_MESSAGES",
                "the conversation has no assistant answer after a user turn to read a step at",
            );
        }
        return positions;
    }

    private checkAlive(): void {
        if (this.disposed) throw new RewardModelError("ERR_DISPOSED", "the model is disposed");
    }

    private schedulerFor(context: NativeContext): Scheduler {
        const c = context.info();
        return new Scheduler(context, {
            contextSize: c.contextSize,
            batchSize: c.batchSize,
            parallel: c.parallel,
            labelCount: c.labelCount,
            rowSize: c.rowSize,
            reproducible: this.options.reproducible,
        });
    }

    /** The rewards scheduler; a file without a head has none. */
    private scorer(): Promise<Scheduler> {
        this.checkAlive();
        if (!this.info.hasRewardHead) {
            throw new RewardModelError(
                "ERR_NO_REWARD_HEAD",
                "this model has no reward head (cls.output.weight): it was loaded with requireRewardHead: false and " +
                    "gives hidden states only; train a head with `llama-reward train-head`",
            );
        }
        return this.poolingScheduler("rank");
    }

    /** The scheduler of a pooling, creating its context on first use. */
    private poolingScheduler(pooling: Pooling): Promise<Scheduler> {
        this.checkAlive();
        const existing = this.schedulers[pooling];
        if (existing) return existing;
        const created = this.native.createContext({ ...this.contextOptions, pooling }).then(
            (context) => {
                if (this.disposed) {
                    context.dispose();
                    throw new RewardModelError("ERR_DISPOSED", "the model was disposed while a context was created for it");
                }
                const scheduler = this.schedulerFor(context);
                this.readySchedulers[pooling] = scheduler;
                return scheduler;
            },
            (error: unknown) => {
                delete this.schedulers[pooling]; // the next call tries again
                throw fromNativeError(error, "ERR_LOAD_FAILED", `creating the ${pooling === "rank" ? "rewards" : "hidden-state"} context`);
            },
        );
        this.schedulers[pooling] = created;
        return created;
    }

    private tokenizeRaw(text: string, addSpecial: boolean, parseSpecial = addSpecial): Int32Array {
        try {
            return this.native.tokenize(text, addSpecial, parseSpecial);
        } catch (error) {
            throw fromNativeError(error, "ERR_INVALID_MESSAGES");
        }
    }

    private conversationTokens(messages: ChatMessage[], where = "messages", maxTokens?: number): Int32Array {
        this.checkAlive();
        validateMessages(messages, where);
        const text = this.template.render(messages);
        const tokens = applyBosPolicy(this.tokenizeRaw(text, true), this.info.bosToken, this.options.bos);
        if (tokens.length === 0) throw new RewardModelError("ERR_INVALID_MESSAGES", `${where} renders to no tokens`);
        return this.fitContext(maxTokens !== undefined && tokens.length > maxTokens ? tokens.subarray(0, maxTokens) : tokens);
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
