/**
 * `llama-reward eval` (accuracy of one or more models on preference data,
 * optionally after quantizing the reference to several types, with
 * report.json, report.md and SVG plots) and `llama-reward compare` (two
 * conversations, their rewards and the preference probability). Progress
 * and a summary go to stderr; stdout carries only the requested JSON.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { RewardModelError, invalidArgument } from "../errors.js";
import { evaluate, type EvalProgress } from "../eval/evaluate.js";
import { checkFormat, readPairs } from "../eval/formats.js";
import type { EvalReport } from "../eval/report.js";
import { quantizationSweep, sweepTypes } from "../eval/sweep.js";
import { reportJson, writeReportDir, writeReportJson } from "../eval/write-report.js";
import type { ChatMessage } from "../model/chat-template.js";
import { RewardModel } from "../model/reward-model.js";
import { integerFlag } from "./flag-values.js";
import { loadFlags, loadOptionsFrom } from "./load-flags.js";
import { ProgressBar } from "./progress-bar.js";

export const evalUsage = `eval options:
  -m, --model PATH          a GGUF reward model; repeat to compare several (the first is the reference)
  -d, --data PATH           preference pairs, .jsonl or .jsonl.gz (required)
      --format F            rewardbench | messages | hh-rlhf (default: detected from the first row)
      --limit N             evaluate the first N pairs only
  -o, --output PATH|-       write report.json there (default: stdout, unless --out is given)
      --out DIR             write report.json, report.md and SVG plots into DIR
      --quantize T1,T2,...  also quantize the (single) model to these types in a temporary folder and compare
  and the load options (--bos ... --no-mmap, listed under "load options")
`;

export const compareUsage = `compare options:
  -m, --model PATH          the GGUF reward model (required)
      --a PATH, --b PATH    JSON files, each a conversation: [messages] or {"messages": [...]}
  and the load options (--bos ... --no-mmap, listed under "load options")
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

export async function commandEval(argv: string[]): Promise<number> {
    const { values } = parseArgs({
        args: argv,
        options: {
            model: { type: "string", short: "m", multiple: true },
            data: { type: "string", short: "d" },
            format: { type: "string" },
            limit: { type: "string" },
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
    const format = values.format === undefined ? undefined : checkFormat(values.format);
    const limit = integerFlag(values.limit, "limit", 1);
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

    const file = await readPairs(data, { format, limit });
    log(`${file.pairs.length} pairs from ${data} (${file.format})`);
    const progress = progressReporter();
    const options = { load, onProgress: progress.onProgress, data: { source: data, format: file.format } };
    let report: EvalReport;
    try {
        if (types) {
            let current = "";
            const bar = new ProgressBar("quantizing", 0);
            report = await quantizationSweep(models[0]!, types, file.pairs, {
                ...options,
                quantizeThreads: load.threads,
                onQuantize: (type, p) => {
                    if (type !== current) {
                        current = type;
                        log(`quantizing ${models[0]} to ${type}`);
                    }
                    bar.setTotal(p.total);
                    bar.update(p.done, `${type} ${p.tensor}`);
                    if (p.done === p.total) bar.finish();
                },
            });
        } else {
            report = await evaluate(models, file.pairs, options);
        }
    } finally {
        progress.finish();
    }
    summarize(report);
    const { output, out } = values;
    if (out !== undefined) {
        const written = await writeReportDir(report, out, file.pairs);
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
