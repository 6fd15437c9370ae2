#!/usr/bin/env node
/**
 * The `llama-reward` command line: score JSONL conversations, show model
 * info, convert Hugging Face checkpoints, quantize GGUF files, measure
 * file types on this CPU, list the devices and build the addon from source. Each command parses its own
 * flags (the model-loading ones come from load-flags.ts); an error prints one
 * line with its code and exits 2 when the command line was wrong
 * (ERR_INVALID_OPTION, an unknown or malformed flag), else 1.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { convert, type ConvertOutType } from "../convert/convert.js";
import { parseTokenList } from "../convert/lm-head-rows.js";
import type { StepActivation, StepAggregate, StepFormat } from "../gguf/step-metadata.js";
import { quantize, quantizeTypeNames } from "../convert/quantize.js";
import { RewardModel } from "../model/reward-model.js";
import { cpuInfo, addonInfo, backendDevices } from "../model/system.js";
import { RewardModelError, fromNativeError, isRewardModelError, invalidArgument } from "../errors.js";
import { integerFlag } from "./flag-values.js";
import { loadFlags, loadFlagsUsage, loadOptionsFrom } from "./load-flags.js";
import { ProgressBar } from "./progress-bar.js";
import { conversationIoFlags, parseConversationLine } from "./conversation-lines.js";
import { commandServe, serveUsage } from "./serve.js";
import { commandCompare, commandEval, compareUsage, evalUsage } from "./eval.js";
import { commandEmbed, embedUsage } from "./embed.js";
import { commandTrainHead, trainHeadUsage } from "./train-head.js";
import { commandRpcServer, rpcServerUsage } from "./rpc-server.js";
import { benchUsage, commandBench } from "./bench.js";

const commandList = `usage: llama-reward <command> [options]   (llama-reward <command> --help: that command's options)

commands:
  score --model M [--input F.jsonl|-] [--output F|-]   score conversations, one JSON line each
  info [M]                                            the CPU's features, the file type to use and the ggml CPU variant loaded; with M, the model's metadata too (JSON)
  convert HF_DIR -o OUT.gguf [--outtype T]            convert a Hugging Face reward checkpoint to GGUF
  quantize IN.gguf OUT.gguf TYPE [--threads N]        quantize a GGUF reward model (the head stays F32)
  serve --model M [--port N] [--api-key KEY]          HTTP reward server (/v1/score, /get_reward, /classify)
  eval --model M [--model M2 ...] --data F.jsonl [--out DIR]  accuracy on preference pairs, models compared, plots
  compare --model M --a A.json --b B.json            rewards of two conversations and P(a preferred)
  embed --model M [--input F.jsonl] [--format jsonl|npy]  hidden states (the head's input) of conversations
  train-head --model BASE --data F.jsonl --out OUT.gguf  train a reward head on a frozen model
  rpc-server [--host 127.0.0.1] [--port N]            serve this CPU to models loaded elsewhere with --rpc (loopback only by default)
  bench --quick MODEL...                              tokens/s of each GGUF file on this CPU (about a minute), the fastest type
  devices                                             the native addon in use and the devices it can run on, as JSON
  build                                               build the native addon from source (git, CMake >= 3.19, a C++17 compiler)
`;

const scoreUsage = `score options:
  -m, --model PATH          the GGUF reward model (required)
  -i, --input PATH|-        JSONL input, one {"messages": [...]} or bare [...] per line (default: -, stdin)
  -o, --output PATH|-       JSONL output, one {"reward": x} per line in input order (default: -, stdout)
      --chunk N             lines scored per batch (default: 256)
  and the load options (--bos ... --template-var, listed under "load options")
`;

const loadUsage = `load options (score, serve, eval, compare, embed, train-head):
${loadFlagsUsage}
`;

const infoUsage = `info options:
  [-m, --model] PATH        also load the model and print its metadata
`;

const convertUsage = `convert options (HF_DIR holds config.json, tokenizer.json, tokenizer_config.json, *.safetensors):
  -o, --output PATH         the GGUF file to write (required)
      --outtype f32|f16|bf16|q8_0  storage type of the weight matrices (default: the checkpoint's bf16/f16, f16 for f32)
      --head-from-lm-head TOKENS   a LlamaForCausalLM checkpoint: the head is these LM-head rows, comma-separated
                            token texts or ids (e.g. "+,-" or 10,12); the labels are the tokens
      --step-format step-tag|assistant-turns  where scoreSteps reads a step (kept in the file)
      --step-tag TOKEN      the step tag (text of one token, or its id) for --step-format step-tag
      --step-activation softmax|sigmoid|none  how a step's head values become label values
      --step-score-label N  the label whose value is a step's score (default 0)
      --step-aggregate mean|min|last  which aggregate is a solution's score
`;

const quantizeUsage = `quantize options:
      --threads N           CPU threads (default: all)
  types: ${quantizeTypeNames().join(", ")}
`;

const exitStatusUsage = `exit status: 0 done; 1 a failure (the message names its code); 2 a wrong command line
(ERR_INVALID_OPTION: a bad flag value, an unknown flag) or, for score, lines that could not be scored
`;

/** Each command's own usage text: every flag it accepts. */
const commandUsage: Record<string, string> = {
    score: `${scoreUsage}\n${loadUsage}`,
    info: infoUsage,
    convert: convertUsage,
    quantize: quantizeUsage,
    serve: `${serveUsage}\n${loadUsage}`,
    eval: `${evalUsage}\n${loadUsage}`,
    compare: `${compareUsage}\n${loadUsage}`,
    embed: `${embedUsage}\n${loadUsage}`,
    "train-head": `${trainHeadUsage}\n${loadUsage}`,
    "rpc-server": rpcServerUsage,
    bench: benchUsage,
    devices: "devices takes no options\n",
    build: "build takes no options\n",
};

const usage = [
    commandList,
    scoreUsage,
    infoUsage,
    convertUsage,
    quantizeUsage,
    serveUsage,
    evalUsage,
    compareUsage,
    embedUsage,
    trainHeadUsage,
    rpcServerUsage,
    benchUsage,
    loadUsage,
    exitStatusUsage,
].join("\n");

async function commandScore(argv: string[]): Promise<number> {
    const { values } = parseArgs({
        args: argv,
        options: { ...conversationIoFlags, ...loadFlags },
        strict: true,
        allowPositionals: false,
    });
    if (!values.model) throw invalidArgument("score needs --model PATH");
    const chunkSize = integerFlag(values.chunk, "chunk", 1)!;
    const loadOptions = loadOptionsFrom(values);

    const input = values.input === "-" ? process.stdin : fs.createReadStream(values.input!);
    const output: NodeJS.WritableStream = values.output === "-" ? process.stdout : fs.createWriteStream(values.output!);
    const model = await RewardModel.load(values.model, loadOptions);
    let failures = 0;
    let done = 0;
    const bar = new ProgressBar("scoring", 0);
    try {
        const lines = readline.createInterface({ input, crlfDelay: Infinity });
        let pending: { lineNumber: number; text: string }[] = [];
        let lineNumber = 0;
        const flush = async () => {
            const results: string[] = new Array(pending.length);
            const valid: { index: number; tokens: number[] }[] = [];
            pending.forEach(({ lineNumber: n, text }, index) => {
                try {
                    // Rendered, tokenized and fitted to the context once, here, so a bad line fails
                    // alone; the batch below scores exactly these tokens.
                    valid.push({ index, tokens: model.tokenizeConversation(parseConversationLine(text)) });
                } catch (error) {
                    failures++;
                    const e = error as RewardModelError;
                    results[index] = JSON.stringify({ error: `line ${n}: ${e.message}`, code: e.code ?? "ERR_INVALID_MESSAGES" });
                }
            });
            bar.setTotal(done + pending.length);
            const base = done;
            try {
                const rewards = await model.scoreTokenBatch(
                    valid.map((v) => v.tokens),
                    {
                        onProgress: ({ completed }) => bar.update(base + completed),
                    },
                );
                valid.forEach((v, k) => {
                    results[v.index] = JSON.stringify({ reward: rewards[k]![0] });
                });
            } catch (error) {
                // Every line still gets an answer, and the exit status says the run did not fully succeed.
                const e = fromNativeError(error, "ERR_DECODE_FAILED");
                failures += valid.length;
                for (const v of valid) {
                    results[v.index] = JSON.stringify({ error: `line ${pending[v.index]?.lineNumber}: ${e.message}`, code: e.code });
                }
            }
            done += pending.length;
            bar.update(done);
            for (const line of results) {
                if (!output.write(`${line}\n`)) await new Promise<void>((r) => output.once("drain", () => r()));
            }
            pending = [];
        };
        for await (const text of lines) {
            lineNumber++;
            if (text.trim() === "") continue;
            pending.push({ lineNumber, text });
            if (pending.length >= chunkSize) await flush();
        }
        if (pending.length > 0) await flush();
    } finally {
        bar.finish();
        await model.dispose();
        if (output !== process.stdout) await new Promise((r) => (output as fs.WriteStream).end(r));
    }
    if (failures > 0) process.stderr.write(`llama-reward: ${failures} line(s) could not be scored (see "error" lines)\n`);
    return failures > 0 ? 2 : 0;
}

async function commandInfo(argv: string[]): Promise<number> {
    const { positionals, values } = parseArgs({ args: argv, options: { model: { type: "string", short: "m" } }, allowPositionals: true });
    const path = values.model ?? positionals[0];
    if (!path) {
        process.stdout.write(`${JSON.stringify({ cpu: cpuInfo(), cpuBackend: addonInfo().cpuBackend }, null, 2)}\n`);
        return 0;
    }
    // The smallest context loads fastest; it is this process's choice, not the model's, so
    // contextSize is left out (trainContextLength is the model's).
    const model = await RewardModel.load(path, { contextSize: 256, parallel: 1 });
    try {
        const { chatTemplate, contextSize: _ownContext, ...rest } = model.info;
        const report = { ...rest, chatTemplateLength: chatTemplate.length, cpu: cpuInfo(), cpuBackend: addonInfo().cpuBackend };
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } finally {
        await model.dispose();
    }
    return 0;
}

async function commandConvert(argv: string[]): Promise<number> {
    const { positionals, values } = parseArgs({
        args: argv,
        options: {
            output: { type: "string", short: "o" },
            outtype: { type: "string" },
            "head-from-lm-head": { type: "string" },
            "step-format": { type: "string" },
            "step-tag": { type: "string" },
            "step-activation": { type: "string" },
            "step-score-label": { type: "string" },
            "step-aggregate": { type: "string" },
        },
        strict: true,
        allowPositionals: true,
    });
    if (positionals.length !== 1) throw invalidArgument("convert needs exactly one checkpoint directory");
    if (!values.output) throw invalidArgument("convert needs -o OUT.gguf");
    const headTokens = values["head-from-lm-head"];
    const stepTag = values["step-tag"];
    const stepFlags = ["step-format", "step-tag", "step-activation", "step-score-label", "step-aggregate"] as const;
    const steps = stepFlags.some((f) => values[f] !== undefined)
        ? {
              format: values["step-format"] as StepFormat | undefined,
              tag: stepTag === undefined ? undefined : /^\d+$/.test(stepTag) ? Number(stepTag) : stepTag,
              activation: values["step-activation"] as StepActivation | undefined,
              scoreLabel: integerFlag(values["step-score-label"], "step-score-label", 0),
              aggregate: values["step-aggregate"] as StepAggregate | undefined,
          }
        : undefined;
    const bar = new ProgressBar("converting (MiB)", 0);
    try {
        const result = await convert(positionals[0]!, values.output, {
            outType: values.outtype?.toLowerCase() as ConvertOutType | undefined,
            ...(headTokens !== undefined ? { headFromLmHead: parseTokenList(headTokens) } : {}),
            ...(steps !== undefined ? { steps } : {}),
            onProgress: (p) => {
                bar.setTotal(Math.round(p.bytesTotal / 2 ** 20));
                bar.update(Math.round(p.bytesDone / 2 ** 20), p.tensor);
            },
        });
        bar.finish();
        process.stderr.write(
            `llama-reward: wrote ${result.path} (${result.outType}, ${(result.sizeBytes / 2 ** 30).toFixed(2)} GiB, ` +
                `${result.tensorCount} tensors, labels ${JSON.stringify(result.labels)})\n`,
        );
    } catch (error) {
        bar.finish();
        throw error;
    }
    return 0;
}

async function commandQuantize(argv: string[]): Promise<number> {
    const { positionals, values } = parseArgs({
        args: argv,
        options: { threads: { type: "string" } },
        strict: true,
        allowPositionals: true,
    });
    if (positionals.length !== 3) throw invalidArgument("quantize needs IN.gguf OUT.gguf TYPE");
    const [input, output, type] = positionals as [string, string, string];
    const bar = new ProgressBar(`quantizing to ${type.toUpperCase()}`, 0);
    try {
        const result = await quantize(input, output, type, {
            threads: integerFlag(values.threads, "threads", 1),
            onProgress: ({ done, total, tensor }) => {
                bar.setTotal(total);
                bar.update(done, tensor);
            },
        });
        bar.finish();
        process.stderr.write(`llama-reward: wrote ${result.path} (${result.type}, ${(result.sizeBytes / 2 ** 30).toFixed(2)} GiB)\n`);
    } catch (error) {
        bar.finish();
        throw error;
    }
    return 0;
}

async function commandDevices(argv: string[]): Promise<number> {
    parseArgs({ args: argv, options: {}, strict: true, allowPositionals: false });
    process.stdout.write(`${JSON.stringify({ addon: addonInfo(), devices: backendDevices() }, null, 2)}\n`);
    return 0;
}

/** Runs the source build of the installed package (tools/build/build-native.ts); the loader then prefers it. */
async function commandBuild(argv: string[]): Promise<number> {
    parseArgs({ args: argv, options: {}, strict: true, allowPositionals: false });
    const script = fileURLToPath(new URL("../../tools/build/build-native.js", import.meta.url));
    if (!fs.existsSync(script)) throw new RewardModelError("ERR_NATIVE_NOT_BUILT", `${script} is missing from this installation`);
    const result = spawnSync(process.execPath, [script], { stdio: "inherit" });
    return result.status ?? 1;
}

const commands: Record<string, (argv: string[]) => Promise<number>> = {
    devices: commandDevices,
    build: commandBuild,
    score: commandScore,
    info: commandInfo,
    convert: commandConvert,
    quantize: commandQuantize,
    serve: commandServe,
    eval: commandEval,
    compare: commandCompare,
    embed: commandEmbed,
    "train-head": commandTrainHead,
    "rpc-server": commandRpcServer,
    bench: commandBench,
};

export async function main(argv: string[]): Promise<number> {
    const [command, ...rest] = argv;
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
        process.stdout.write(usage);
        return command === undefined ? 1 : 0;
    }
    const run = commands[command];
    if (!run) {
        process.stderr.write(`llama-reward: unknown command "${command}"\n\n${usage}`);
        return 1;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
        process.stdout.write(`usage: llama-reward ${command} [options]\n\n${commandUsage[command]}\n${exitStatusUsage}`);
        return 0;
    }
    try {
        return await run(rest);
    } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const usageError = isRewardModelError(error, "ERR_INVALID_OPTION") || isParseArgsError(error);
        const code = isRewardModelError(error) ? error.code : usageError ? "ERR_INVALID_OPTION" : undefined;
        process.stderr.write(`llama-reward ${command}: ${message}${code === undefined ? "" : ` [${code}]`}\n`);
        return usageError ? 2 : 1;
    }
}

/** True for what node:util parseArgs throws on an unknown flag, a missing value or a stray positional. */
function isParseArgsError(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return error instanceof TypeError && typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}

/** True when this module is the program (`node main.js`, or npm's bin link to it), not an import. */
function isEntryPoint(): boolean {
    const script = process.argv[1];
    if (script === undefined) return false;
    try {
        return fs.realpathSync(script) === fs.realpathSync(fileURLToPath(import.meta.url));
    } catch {
        return false;
    }
}

if (isEntryPoint()) {
    // Until main settles the exit status says "unfinished", so a run whose work
    // never settled can never pass for a success.
    process.exitCode = 70;
    process.once("exit", (code) => {
        if (code === 70) process.stderr.write("llama-reward: exited before the work finished (internal error; please report it)\n");
    });
    main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    });
}
