/**
 * IsolatedRewardModel: a reward model that loads and scores in an engine
 * process of its own (RewardModel.load(path, { isolate: true })), for model
 * files you do not trust. It has RewardModel's API and typed results; errors
 * keep their codes across the process boundary, and AbortSignal, onProgress
 * and dispose() work across it. If the engine dies (a llama.cpp abort, a
 * segfault, a kill), every call in flight and every later call rejects with
 * ERR_ENGINE_CRASHED, whose message ends with the engine's last output, and
 * `usable` turns false; this process is unharmed and restarts nothing.
 *
 * Differences from RewardModel: tokenize(), tokenizeConversation() and
 * tokenText() return promises (the tokenizer lives in the engine); `stats`
 * is the engine's snapshot as of the last reply; render() runs here.
 */
import { RewardModelError, abortedError, invalidArgument, withCallerStack } from "../../errors.js";
import { ChatTemplate, validateMessages, type ChatMessage } from "../chat-template.js";
import type { IsolatedLoadOptions, ResolvedLoadOptions } from "../load-options.js";
import type {
    BatchOptions,
    CallOptions,
    CompareResult,
    ObjectiveScores,
    RankedResponse,
    RewardModelInfo,
    StepOptions,
    StepScores,
    TokenizeConversationOptions,
    TokenizeOptions,
} from "../reward-model.js";
import type { StepInput } from "../step-scores.js";
import type { SchedulerStats } from "../../scoring/scheduler.js";
import { ENGINE_METHODS, deserializeError, type EngineMessage, type EngineMethod, type EngineLoadOptions } from "./engine-protocol.js";
import { startEngine, type EngineExit, type EngineProcess } from "./engine-process.js";

/** How long dispose() waits for the engine to exit by itself before killing it. */
const DISPOSE_GRACE_MS = 10_000;
/** Message id of the load, for aborts; calls count from 1. */
const LOAD_ID = 0;

interface PendingCall {
    resolve(value: unknown): void;
    reject(error: RewardModelError): void;
    onProgress: ((p: { completed: number; total: number }) => void) | undefined;
    signal: AbortSignal | undefined;
}

function crashError(engine: EngineProcess, exit: EngineExit, during: string): RewardModelError {
    const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${String(exit.code)}`;
    const tail = engine.outputTail();
    return new RewardModelError(
        "ERR_ENGINE_CRASHED",
        `the isolated engine process (pid ${String(engine.pid)}) ${how} during ${during}` +
            (tail === "" ? "; it wrote nothing" : `; its last output:\n${tail}`),
    );
}

export class IsolatedRewardModel implements AsyncDisposable {
    readonly info: RewardModelInfo;
    readonly options: ResolvedLoadOptions;
    private readonly engine: EngineProcess;
    private readonly template: ChatTemplate;
    private readonly pending = new Map<number, PendingCall>();
    private nextId = LOAD_ID + 1;
    private latestStats: SchedulerStats;
    private crashed: RewardModelError | undefined;
    private disposing: Promise<void> | undefined;
    private exited = false;
    private readonly exitWaiters: (() => void)[] = [];

    private constructor(engine: EngineProcess, loaded: Extract<EngineMessage, { type: "loaded" }>) {
        this.engine = engine;
        this.info = loaded.info;
        this.options = loaded.options;
        this.latestStats = loaded.stats;
        this.template = new ChatTemplate(loaded.info.chatTemplate, loaded.bosText, loaded.eosText, loaded.options.templateVariables);
        engine.onMessage((m) => this.receive(m));
        engine.onExit((exit) => this.engineExited(exit));
        engine.keepAlive(false);
    }

    /** Starts an engine process and loads the model there; RewardModel.load(path, { isolate: true }) calls this. */
    static load(path: string, options: Omit<IsolatedLoadOptions, "isolate"> & { isolate?: true } = {}): Promise<IsolatedRewardModel> {
        return withCallerStack(() => IsolatedRewardModel.loadImpl(path, options));
    }

    private static async loadImpl(
        path: string,
        options: Omit<IsolatedLoadOptions, "isolate"> & { isolate?: true },
    ): Promise<IsolatedRewardModel> {
        if (typeof options !== "object" || options === null) {
            throw invalidArgument("options must be an object");
        }
        const { signal, onProgress, isolate: _isolate, ...rest } = options;
        if (signal !== undefined && !(signal instanceof AbortSignal)) {
            throw invalidArgument("signal must be an AbortSignal");
        }
        if (onProgress !== undefined && typeof onProgress !== "function") {
            throw invalidArgument("onProgress must be a function");
        }
        if (signal?.aborted) throw abortedError(signal, "loading");
        const engine = await startEngine();
        engine.keepAlive(true);
        const loaded = await new Promise<Extract<EngineMessage, { type: "loaded" }>>((resolve, reject) => {
            let settled = false;
            const finish = (fn: () => void) => {
                if (settled) return;
                settled = true;
                signal?.removeEventListener("abort", onAbort);
                fn();
            };
            const onAbort = () => engine.send({ type: "abort", id: LOAD_ID });
            engine.onMessage((m) => {
                if (m.type === "load-progress") onProgress?.({ progress: m.progress });
                else if (m.type === "loaded") {
                    // an abort that reached the engine after its load finished still wins, as in-process
                    if (signal?.aborted) {
                        finish(() => reject(abortedError(signal, "loading")));
                        engine.kill();
                    } else finish(() => resolve(m));
                } else if (m.type === "load-failed") {
                    finish(() => reject(deserializeError(m.error, m.error.code === "ERR_ABORTED" ? signal?.reason : undefined)));
                    engine.kill();
                }
            });
            engine.onExit((exit) => finish(() => reject(crashError(engine, exit, "loading"))));
            signal?.addEventListener("abort", onAbort, { once: true });
            try {
                engine.send({ type: "load", path, options: rest as EngineLoadOptions, progress: onProgress !== undefined });
            } catch (error) {
                finish(() => reject(error));
                engine.kill();
            }
        });
        return new IsolatedRewardModel(engine, loaded);
    }

    /** The engine's process id (while it runs). */
    get enginePid(): number | undefined {
        return this.engine.pid;
    }

    /** False once the engine has died or the model is disposed: every call then rejects. */
    get usable(): boolean {
        return this.crashed === undefined && this.disposing === undefined;
    }

    /** The ERR_ENGINE_CRASHED error, with the engine's last output, once the engine has died. */
    get crash(): RewardModelError | undefined {
        return this.crashed;
    }

    /** True once dispose() has been called. */
    get disposed(): boolean {
        return this.disposing !== undefined;
    }

    /** The engine scheduler's counters as of its last reply. */
    get stats(): SchedulerStats {
        return this.latestStats;
    }

    /** Renders a conversation with the model's chat template (here, without the engine). */
    render(messages: ChatMessage[]): string {
        this.checkUsable();
        validateMessages(messages);
        return this.template.render(messages);
    }

    tokenize(text: string, options: TokenizeOptions = {}): Promise<number[]> {
        return this.call("tokenize", [text], options);
    }

    tokenizeConversation(messages: ChatMessage[], options: TokenizeConversationOptions = {}): Promise<number[]> {
        return this.call("tokenizeConversation", [messages], options);
    }

    /** RewardModel.hiddenStates, run in the engine; the vectors cross the boundary as Float32Arrays. */
    hiddenStates(conversations: ChatMessage[][], options: BatchOptions = {}): Promise<Float32Array[]> {
        return this.call("hiddenStates", [conversations], options);
    }

    hiddenStatesOfTokens(lists: ArrayLike<number>[], options: BatchOptions = {}): Promise<Float32Array[]> {
        return this.call("hiddenStatesOfTokens", [lists], options);
    }

    tokenText(token: number): Promise<string> {
        return this.call("tokenText", [token]);
    }

    score(messages: ChatMessage[], options: CallOptions = {}): Promise<number> {
        return this.call("score", [messages], options);
    }

    scoreVector(messages: ChatMessage[], options: CallOptions = {}): Promise<number[]> {
        return this.call("scoreVector", [messages], options);
    }

    scoreBatch(conversations: ChatMessage[][], options: BatchOptions = {}): Promise<number[]> {
        return this.call("scoreBatch", [conversations], options);
    }

    scoreResponses(prompt: ChatMessage[], responses: string[], options: BatchOptions = {}): Promise<number[]> {
        return this.call("scoreResponses", [prompt, responses], options);
    }

    compare(a: ChatMessage[], b: ChatMessage[], options: CallOptions = {}): Promise<CompareResult> {
        return this.call("compare", [a, b], options);
    }

    rank(prompt: ChatMessage[], responses: string[], options: BatchOptions = {}): Promise<RankedResponse[]> {
        return this.call("rank", [prompt, responses], options);
    }

    scoreText(text: string, options: CallOptions = {}): Promise<number> {
        return this.call("scoreText", [text], options);
    }

    scoreTokens(tokens: ArrayLike<number>, options: CallOptions = {}): Promise<number> {
        return this.call("scoreTokens", [tokens], options);
    }

    scoreTokenBatch(lists: ArrayLike<number>[], options: BatchOptions = {}): Promise<number[][]> {
        return this.call("scoreTokenBatch", [lists], options);
    }

    scoreTokensAt(tokens: ArrayLike<number>, positions: readonly number[], options: CallOptions = {}): Promise<number[][]> {
        return this.call("scoreTokensAt", [tokens, positions], options);
    }

    scoreSteps(input: StepInput, options: StepOptions = {}): Promise<StepScores> {
        return this.call("scoreSteps", [input], options);
    }

    scoreObjectives(messages: ChatMessage[], options: CallOptions = {}): Promise<ObjectiveScores> {
        return this.call("scoreObjectives", [messages], options);
    }

    scoreObjectivesOfTokens(lists: ArrayLike<number>[], options: BatchOptions = {}): Promise<ObjectiveScores[]> {
        return this.call("scoreObjectivesOfTokens", [lists], options);
    }

    /**
     * Frees the model and ends the engine process. Calls still queued reject
     * with ERR_DISPOSED, as with RewardModel. Idempotent; after a crash it
     * only releases what is left here.
     */
    dispose(): Promise<void> {
        this.disposing ??= (async () => {
            if (this.exited) return;
            this.engine.keepAlive(true);
            this.engine.send({ type: "dispose" });
            const timer = setTimeout(() => this.engine.kill(), DISPOSE_GRACE_MS);
            await new Promise<void>((resolve) => this.exitWaiters.push(resolve));
            clearTimeout(timer);
        })();
        return this.disposing;
    }

    [Symbol.asyncDispose](): Promise<void> {
        return this.dispose();
    }

    private checkUsable(): void {
        if (this.crashed) throw new RewardModelError("ERR_ENGINE_CRASHED", this.crashed.message, { cause: this.crashed });
        if (this.disposing) throw new RewardModelError("ERR_DISPOSED", "the model is disposed");
    }

    /** Runs `method` in the engine; `options` (when the method takes some) carries the signal and onProgress, kept here. */
    private call<T>(method: EngineMethod, args: unknown[], options?: object): Promise<T> {
        return withCallerStack(
            () =>
                new Promise<T>((resolve, reject) => {
                    this.checkUsable();
                    const takesOptions = ENGINE_METHODS[method] >= 0;
                    let sent: Record<string, unknown> | undefined;
                    let signal: AbortSignal | undefined;
                    let onProgress: PendingCall["onProgress"];
                    if (takesOptions) {
                        const o = (typeof options === "object" && options !== null ? options : {}) as Record<string, unknown>;
                        const { signal: s, onProgress: p, ...rest } = o;
                        if (s !== undefined && !(s instanceof AbortSignal)) {
                            throw invalidArgument("signal must be an AbortSignal");
                        }
                        if (p !== undefined && typeof p !== "function") {
                            throw invalidArgument("onProgress must be a function");
                        }
                        signal = s;
                        onProgress = p as PendingCall["onProgress"];
                        sent = rest;
                    }
                    const id = this.nextId++;
                    this.engine.send({
                        type: "call",
                        id,
                        method,
                        args,
                        ...(sent === undefined ? {} : { options: sent }),
                        progress: onProgress !== undefined,
                    });
                    if (this.pending.size === 0) this.engine.keepAlive(true);
                    const onAbort = () => this.engine.send({ type: "abort", id });
                    const done = () => {
                        this.pending.delete(id);
                        if (this.pending.size === 0) this.engine.keepAlive(false);
                        signal?.removeEventListener("abort", onAbort);
                    };
                    this.pending.set(id, {
                        resolve: (value) => {
                            done();
                            resolve(value as T);
                        },
                        reject: (error) => {
                            done();
                            reject(error);
                        },
                        onProgress,
                        signal,
                    });
                    if (signal?.aborted) onAbort();
                    else signal?.addEventListener("abort", onAbort, { once: true });
                }),
        );
    }

    private receive(m: EngineMessage): void {
        if (m.type === "progress") {
            this.pending.get(m.id)?.onProgress?.({ completed: m.completed, total: m.total });
        } else if (m.type === "result") {
            this.latestStats = m.stats;
            this.pending.get(m.id)?.resolve(m.value);
        } else if (m.type === "error") {
            this.latestStats = m.stats;
            const call = this.pending.get(m.id);
            call?.reject(deserializeError(m.error, m.error.code === "ERR_ABORTED" ? call.signal?.reason : undefined));
        }
    }

    private engineExited(exit: EngineExit): void {
        this.exited = true;
        // an exit asked for by dispose() is not a crash: whatever is left was disposed
        const error =
            this.disposing !== undefined && exit.code === 0
                ? new RewardModelError("ERR_DISPOSED", "the model is disposed")
                : crashError(this.engine, exit, this.pending.size > 0 ? `${this.pending.size} call(s)` : "no call");
        if (error.code === "ERR_ENGINE_CRASHED") this.crashed = error;
        for (const call of [...this.pending.values()]) call.reject(error);
        for (const wake of this.exitWaiters.splice(0)) wake();
    }
}
