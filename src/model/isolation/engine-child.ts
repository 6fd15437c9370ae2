/**
 * The entry of an isolated model's engine process (started by
 * engine-process.ts): loads one RewardModel in this process and runs the
 * host's calls on it, forwarding progress and aborts. If llama.cpp aborts
 * here, only this process dies; the host turns that into ERR_ENGINE_CRASHED.
 *
 * LLAMA_REWARD_TEST_ONLY_SKIP_FILE_CHECKS=1 (honoured here and nowhere else)
 * loads without llama-reward's file checks, so the tests can hand llama.cpp a
 * file it aborts on and watch the host survive. Never set it otherwise.
 */
import { specialTokenText } from "../chat-template.js";
import { loadRewardModelUnchecked, RewardModel } from "../reward-model.js";
import { ENGINE_METHODS, serializeError, type EngineMessage, type EngineMethod, type HostMessage } from "./engine-protocol.js";

/** The message port: Electron's parentPort in a utilityProcess, the IPC channel of fork otherwise. */
interface ParentPortLike {
    postMessage(message: unknown): void;
    on(event: "message", listener: (event: { data: unknown }) => void): void;
}

const parentPort = (process as { parentPort?: ParentPortLike }).parentPort;

function post(message: EngineMessage): void {
    if (parentPort) parentPort.postMessage(message);
    else if (process.connected) process.send?.(message);
}

function listen(handler: (message: HostMessage) => void): void {
    if (parentPort) parentPort.on("message", (event) => handler(event.data as HostMessage));
    else process.on("message", (m) => handler(m as HostMessage));
}

const skipFileChecks = process.env.LLAMA_REWARD_TEST_ONLY_SKIP_FILE_CHECKS === "1";
let model: RewardModel | undefined;
const loadAbort = new AbortController();
const calls = new Map<number, AbortController>();

async function load(message: Extract<HostMessage, { type: "load" }>): Promise<void> {
    const options = {
        ...message.options,
        signal: loadAbort.signal,
        ...(message.progress ? { onProgress: (p: { progress: number }) => post({ type: "load-progress", progress: p.progress }) } : {}),
    };
    try {
        const loaded = skipFileChecks
            ? await loadRewardModelUnchecked(message.path, options)
            : await RewardModel.load(message.path, options);
        model = loaded;
        const text = (token: number) => loaded.tokenText(token);
        const bosText = specialTokenText(loaded.info.bosToken, text);
        const eosText = specialTokenText(loaded.info.eosToken, text);
        post({ type: "loaded", info: loaded.info, options: loaded.options, bosText, eosText, stats: loaded.stats });
    } catch (error) {
        post({ type: "load-failed", error: serializeError(error) });
    }
}

async function call(message: Extract<HostMessage, { type: "call" }>): Promise<void> {
    const controller = new AbortController();
    calls.set(message.id, controller);
    try {
        if (!model) throw new Error("no model is loaded");
        const at = ENGINE_METHODS[message.method as EngineMethod];
        if (at === undefined) throw new Error(`unknown method ${String(message.method)}`);
        const args = [...message.args];
        if (at >= 0) {
            const progress = message.progress
                ? {
                      onProgress: (p: { completed: number; total: number }) =>
                          post({ type: "progress", id: message.id, completed: p.completed, total: p.total }),
                  }
                : {};
            args[at] =
                message.options === undefined
                    ? { signal: controller.signal }
                    : { ...message.options, signal: controller.signal, ...progress };
        }
        const method = model[message.method] as (...a: unknown[]) => unknown;
        const value = await method.apply(model, args);
        post({ type: "result", id: message.id, value, stats: model.stats });
    } catch (error) {
        post({ type: "error", id: message.id, error: serializeError(error), stats: model?.stats ?? emptyStats });
    } finally {
        calls.delete(message.id);
    }
}

const emptyStats = { steps: 0, tokens: 0, queued: 0, active: 0, freeSlots: 0, reservedCells: 0 };

async function dispose(): Promise<void> {
    await model?.dispose();
    post({ type: "disposed" });
    process.exit(0);
}

listen((message) => {
    switch (message.type) {
        case "load":
            void load(message);
            return;
        case "call":
            void call(message);
            return;
        case "abort":
            if (message.id === 0) loadAbort.abort();
            else calls.get(message.id)?.abort();
            return;
        case "dispose":
            void dispose();
            return;
    }
});

// the host is gone (it exited or was killed): nothing is left to serve
process.on("disconnect", () => process.exit(0));
post({ type: "ready" });
