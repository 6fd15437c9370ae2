/**
 * `llama-reward eval` (accuracy of one or more models on preference pairs
 * or on best-of-N prompts such as RewardBench 2, optionally after quantizing
 * the reference to several types, with report.json, report.html, report.md
 * and SVG plots) and `llama-reward compare` (two
 * conversations, their rewards and the preference probability). Progress
 * and a summary go to stderr; stdout carries only the requested JSON.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { RewardModelError, invalidArgument } from "../errors.js";
import { type BestOfNFormat, bestOfNFormats, detectBestOfNFormat, readBestOfN } from "../eval/best-of-n-formats.js";
import type { BestOfNReport } from "../eval/best-of-n-report.js";
import { evaluate, type EvalProgress } from "../eval/evaluate.js";
import { evaluateBestOfN } from "../eval/evaluate-best-of-n.js";
import { type DataFormat, dataFormats, readPairs } from "../eval/formats.js";
import { firstJsonRow } from "../eval/jsonl.js";
import type { EvalReport } from "../eval/report.js";
import { type QuantizeStepOptions, quantizationSweep, quantizationSweepBestOfN, sweepTypes } from "../eval/sweep.js";
import { reportJson, writeBestOfNReportDir, writeReportDir, writeReportJson } from "../eval/write-report.js";
import type { ChatMessage } from "../model/chat-template.js";
import { RewardModel } from "../model/reward-model.js";
import { integerFlag } from "./flag-values.js";
import { loadFlags, loadOptionsFrom } from "./load-flags.js";
import { ProgressBar } from "./progress-bar.js";

export const evalUsage = `eval options:
  -m, --model PATH          a GGUF reward model; repeat to compare several (the first is the reference)
  -d, --data PATH           preference pairs or best-of-N prompts, .jsonl or .jsonl.gz (required)
      --format F            pairs: rewardbench | messages | hh-rlhf; best-of-N: rewardbench2 | best-of-n
                            (default: detected from the first row)
      --limit N             evaluate the first N pairs (or prompts) only
      --max-length N        best-of-N: keep the first N tokens of each conversation, as RewardBench 2's
                            max_length does (its default is 2048); the report counts the completions cut
  -o, --output PATH|-       write report.json there (default: stdout, unless --out is given)
      --out DIR             write report.json, report.html, SVG plots (and report.md for pairs) into DIR
      --quantize T1,T2,...  also quantize the (single) model to these types in a temporary folder and compare
  and the load options (--bos ... --template-var, listed under "load options")
`;

export const compareUsage = `compare options:
  -m, --model PATH          the GGUF reward model (required)
      --a PATH, --b PATH    JSON files, each a conversation: [messages] or {"messages": [...]}
  and the load options (--bos ... --template-var, listed under "load options")
  prints {"rewardA", "rewardB", "probability"}: probability = sigmoid(rewardA - rewardB) that a is preferred
`;

function log(line: string): void {
    process.stderr.write(`llama-reward eval: ${line}\n`);
}

function percent(x: number | undefined): string {
    return x === undefined ? "–" : `${(x * 100).toFixed(1)}%`;
}

/** Progress on stderr: a bar on a terminal, and one line per model either way. */
function progressReporter(): { onProgress: (p: EvalProgress) => void; finish: () => void } {
    let bar: ProgressBar | undefined;
    return {
        onProgress: (p) => {
            if (p.phase === "load") {
                bar?.finish();
                log(`${p.name}: scoring ${p.total} conversations`);
                bar = new ProgressBar(p.name, p.total);
            } else if (p.phase === "score") {
                bar?.update(p.completed);
            } else {
                bar?.update(p.total);
                bar?.finish();
                bar = undefined;
            }
        },
        finish: () => bar?.finish(),
    };
}

function summarize(report: EvalReport): void {
    for (const m of report.models) {
        const rb = m.score === undefined ? "" : `, RewardBench score ${percent(m.score)}`;
        log(
            `${m.name} (${m.fileType}): accuracy ${percent(m.accuracy)} on ${m.pairs} pairs${rb}, ` +
                `${m.ties} ties, ${m.seconds.toFixed(1)} s, ${m.tokensPerSecond.toFixed(0)} tokens/s`,
        );
    }
    for (const c of report.comparisons) {
        log(
            `${c.name} against ${report.models[0]!.name}: pair agreement ${percent(c.pairAgreement)} (${c.flips.length} flips), ` +
                `mean |Δ| ${c.meanAbsDelta?.toPrecision(3) ?? "–"}, accuracy ${c.accuracyDelta >= 0 ? "+" : ""}${(c.accuracyDelta * 100).toFixed(1)} pt`,
        );
    }
}

/** The data kind and format: forced by --format, or detected from the file's first row. */
async function dataKind(file: string, format: string | undefined): Promise<{ bestOfN: BestOfNFormat } | { pairs: DataFormat | undefined }> {
    if (format !== undefined) {
        if ((bestOfNFormats as readonly string[]).includes(format)) return { bestOfN: format as BestOfNFormat };
        if ((dataFormats as readonly string[]).includes(format)) return { pairs: format as DataFormat };
        throw invalidArgument(
            `unknown data format ${JSON.stringify(format)} (--format); use one of ${[...dataFormats, ...bestOfNFormats].join(", ")}`,
        );
    }
    const detected = detectBestOfNFormat(await firstJsonRow(file));
    return detected === undefined ? { pairs: undefined } : { bestOfN: detected };
}

/** Progress of the sweep's quantization on stderr. */
function quantizeReporter(reference: string): Pick<QuantizeStepOptions, "onQuantize"> {
    let current = "";
    const bar = new ProgressBar("quantizing", 0);
    return {
        onQuantize: (type, p) => {
            if (type !== current) {
                current = type;
                log(`quantizing ${reference} to ${type}`);
            }
            bar.setTotal(p.total);
            bar.update(p.done, `${type} ${p.tensor}`);
            if (p.done === p.total) bar.finish();
        },
    };
}

function summarizeBestOfN(report: BestOfNReport): void {
    for (const m of report.models) {
        const score = m.score === null ? "" : `, score ${percent(m.score)}`;
        const cut = m.truncated > 0 ? `, ${m.truncated} completions cut to ${report.data.maxLength} tokens` : "";
        log(
            `${m.name} (${m.fileType}): accuracy ${percent(m.accuracy)} on ${m.prompts} prompts${score}${cut}, ` +
                `${m.seconds.toFixed(1)} s, ${m.tokensPerSecond.toFixed(0)} tokens/s (${m.decodedTokens} of ${m.tokens} tokens decoded)`,
        );
    }
    for (const c of report.comparisons) {
        log(
            `${c.name}: top completion changed on ${percent(c.topChanged)} of prompts, mean Kendall's tau ${c.kendallTau?.toFixed(3) ?? "–"}`,
        );
    }
}

export async function commandEval(argv: string[]): Promise<number> {
    const { values } = parseArgs({
        args: argv,
        options: {
            model: { type: "string", short: "m", multiple: true },
            data: { type: "string", short: "d" },
            format: { type: "string" },
            limit: { type: "string" },
            "max-length": { type: "string" },
            output: { type: "string", short: "o" },
            out: { type: "string" },
            quantize: { type: "string" },
            ...loadFlags,
        },
        strict: true,
        allowPositionals: false,
    });
    const models = values.model ?? [];
    if (models.length === 0) throw invalidArgument("eval needs --model PATH (repeat it to compare models)");
    const data = values.data;
    if (!data) throw invalidArgument("eval needs --data FILE.jsonl");
    const limit = integerFlag(values.limit, "limit", 1);
    const maxLength = integerFlag(values["max-length"], "max-length", 1);
    const types =
        values.quantize === undefined
            ? undefined
            : sweepTypes(
                  values.quantize
                      .split(",")
                      .map((t) => t.trim())
                      .filter((t) => t !== ""),
              );
    if (types && models.length !== 1) throw invalidArgument("--quantize takes exactly one --model, the reference");
    const load = loadOptionsFrom(values);
    const kind = await dataKind(data, values.format);
    if ("pairs" in kind && maxLength !== undefined)
        throw invalidArgument("--max-length applies to best-of-N data (rewardbench2, best-of-n)");
    const progress = progressReporter();
    const quantizing = types ? { quantizeThreads: load.threads, ...quantizeReporter(models[0]!) } : {};
    let report: EvalReport | BestOfNReport;
    let writeDir: (dir: string) => Promise<string[]>;
    try {
        if ("bestOfN" in kind) {
            const file = await readBestOfN(data, { format: kind.bestOfN, limit });
            log(`${file.items.length} prompts from ${data} (${file.format})`);
            for (const w of file.warnings) log(`warning: ${w}`);
            const options = {
                load,
                onProgress: progress.onProgress,
                ...(maxLength === undefined ? {} : { maxLength }),
                data: { source: data, format: file.format, warnings: file.warnings },
            };
            const bon = types
                ? await quantizationSweepBestOfN(models[0]!, types, file.items, { ...options, ...quantizing })
                : await evaluateBestOfN(models, file.items, options);
            summarizeBestOfN(bon);
            report = bon;
            writeDir = (dir) => writeBestOfNReportDir(bon, dir, file.items);
        } else {
            const file = await readPairs(data, { format: kind.pairs, limit });
            log(`${file.pairs.length} pairs from ${data} (${file.format})`);
            const options = { load, onProgress: progress.onProgress, data: { source: data, format: file.format } };
            const pairs = types
                ? await quantizationSweep(models[0]!, types, file.pairs, { ...options, ...quantizing })
                : await evaluate(models, file.pairs, options);
            summarize(pairs);
            report = pairs;
            writeDir = (dir) => writeReportDir(pairs, dir, file.pairs);
        }
    } finally {
        progress.finish();
    }
    const { output, out } = values;
    if (out !== undefined) {
        const written = await writeDir(out);
        log(`wrote ${written.length} files to ${out}`);
    }
    if (output === "-" || (output === undefined && out === undefined)) {
        process.stdout.write(reportJson(report));
    } else if (output !== undefined) {
        writeReportJson(report, output);
        log(`wrote ${output}`);
    }
    return 0;
}

function readConversation(file: string, flag: string): ChatMessage[] {
    let value: unknown;
    try {
        value = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (cause) {
        throw new RewardModelError("ERR_INVALID_DATA", `--${flag} ${file}: ${(cause as Error).message}`, { cause });
    }
    const messages = Array.isArray(value) ? value : (value as { messages?: unknown } | null)?.messages;
    if (!Array.isArray(messages)) {
        throw invalidArgument(`--${flag} ${file} is neither [messages] nor {"messages": [...]}`, "ERR_INVALID_DATA");
    }
    return messages as ChatMessage[];
}

export async function commandCompare(argv: string[]): Promise<number> {
    const { values } = parseArgs({
        args: argv,
        options: { model: { type: "string", short: "m" }, a: { type: "string" }, b: { type: "string" }, ...loadFlags },
        strict: true,
        allowPositionals: false,
    });
    const modelPath = values.model;
    if (!modelPath) throw invalidArgument("compare needs --model PATH");
    if (!values.a || !values.b) throw invalidArgument("compare needs --a A.json and --b B.json");
    const loadOptions = loadOptionsFrom(values);
    const a = readConversation(values.a, "a");
    const b = readConversation(values.b, "b");
    const model = await RewardModel.load(modelPath, loadOptions);
    try {
        process.stdout.write(`${JSON.stringify(await model.compare(a, b))}\n`);
    } finally {
        await model.dispose();
    }
    return 0;
}
