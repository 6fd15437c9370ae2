/**
 * `llama-reward train-head`: fits a reward head on a frozen GGUF model from
 * preference pairs and writes a reward-model GGUF and report.json
 * (src/train/train-head.ts). Progress and the summary go to stderr.
 */
import { parseArgs } from "node:util";
import { invalidArgument } from "../errors.js";
import { checkFormat } from "../eval/formats.js";
import { trainHead, type TrainHeadProgress } from "../train/train-head.js";
import { numberFlag } from "./flag-values.js";
import { loadFlags, loadOptionsFrom } from "./load-flags.js";
import { ProgressBar } from "./progress-bar.js";

export const trainHeadUsage = `train-head options (a reward head on a frozen model; docs/training-heads.md):
  -m, --model PATH          the base GGUF: a llama chat model or a reward model (required)
  -d, --data PATH           preference pairs, .jsonl or .jsonl.gz, in a format eval reads (required)
  -o, --out PATH            the reward-model GGUF to write (required)
      --format F            rewardbench | messages | hh-rlhf (default: detected from the first row)
      --validation X        share of pairs held out, seeded (default: 0.1; 0 for none)
      --seed N              seed of the split (default: 1)
      --l2 X                L2 regularization (default: 1e-3)
      --init zero|base|PATH starting head: zeros, the base's own head, or another reward model's (default: zero)
      --bias                also write cls.output.bias, centring the training rewards on 0
      --label NAME          the head's label (default: LABEL_0)
      --max-iterations N    most L-BFGS iterations over the cached features (default: 1000)
      --patience N          stop after N iterations without a lower validation loss (default: 20)
      --report PATH         where report.json goes (default: OUT without .gguf + .report.json)
      --no-report           write no report
      --force               replace an existing --out
  and the load options (--bos ... --template-var, listed under "load options")
`;

function log(line: string): void {
    process.stderr.write(`llama-reward train-head: ${line}\n`);
}

function percent(x: number): string {
    return `${(x * 100).toFixed(1)}%`;
}

function progressReporter(): { onProgress: (p: TrainHeadProgress) => void; finish: () => void } {
    let bar: ProgressBar | undefined;
    return {
        onProgress: (p) => {
            if (p.phase === "features") {
                if (bar === undefined) {
                    log(`computing the hidden states of ${p.total} distinct conversations`);
                    bar = new ProgressBar("features", p.total);
                }
                bar.update(p.completed);
            } else if (p.phase === "fit") {
                bar?.finish();
                bar = undefined;
                if (p.iteration % 10 === 0) {
                    const v = p.validation
                        ? `, validation loss ${p.validation.loss.toFixed(4)} accuracy ${percent(p.validation.accuracy)}`
                        : "";
                    log(`iteration ${p.iteration}: train loss ${p.train.loss.toFixed(4)} accuracy ${percent(p.train.accuracy)}${v}`);
                }
            } else {
                log(`writing ${p.path}`);
            }
        },
        finish: () => bar?.finish(),
    };
}

export async function commandTrainHead(argv: string[]): Promise<number> {
    const { values } = parseArgs({
        args: argv,
        options: {
            model: { type: "string", short: "m" },
            data: { type: "string", short: "d" },
            out: { type: "string", short: "o" },
            format: { type: "string" },
            validation: { type: "string" },
            seed: { type: "string" },
            l2: { type: "string" },
            init: { type: "string" },
            bias: { type: "boolean" },
            label: { type: "string" },
            "max-iterations": { type: "string" },
            patience: { type: "string" },
            report: { type: "string" },
            "no-report": { type: "boolean" },
            force: { type: "boolean" },
            ...loadFlags,
        },
        strict: true,
        allowPositionals: false,
    });
    if (!values.model) throw invalidArgument("train-head needs --model BASE.gguf");
    if (!values.data) throw invalidArgument("train-head needs --data PAIRS.jsonl");
    if (!values.out) throw invalidArgument("train-head needs --out OUT.gguf");
    if (values.report !== undefined && values["no-report"]) throw invalidArgument("--report and --no-report exclude each other");
    const load = loadOptionsFrom(values);
    const progress = progressReporter();
    try {
        const { report, reportPath } = await trainHead({
            model: values.model,
            data: values.data,
            out: values.out,
            force: values.force === true,
            format: values.format === undefined ? undefined : checkFormat(values.format),
            validation: numberFlag(values.validation, "validation"),
            seed: numberFlag(values.seed, "seed"),
            l2: numberFlag(values.l2, "l2"),
            init: values.init,
            bias: values.bias === true,
            label: values.label,
            maxIterations: numberFlag(values["max-iterations"], "max-iterations"),
            patience: numberFlag(values.patience, "patience"),
            report: values["no-report"] ? false : values.report,
            load,
            onProgress: progress.onProgress,
        });
        progress.finish();
        const v = report.validation
            ? `validation accuracy ${percent(report.validation.accuracy)} (loss ${report.validation.loss.toFixed(4)}) on ${report.pairs.validation} pairs, `
            : "";
        log(
            `wrote ${report.out}: ${v}train accuracy ${percent(report.train.accuracy)} on ${report.pairs.train} pairs; ` +
                `${report.iterations} iterations (${report.stopReason}, head of iteration ${report.bestIteration}); ` +
                `features ${report.seconds.features.toFixed(1)} s for ${report.conversations} conversations, ` +
                `fit ${report.seconds.fit.toFixed(2)} s, write ${report.seconds.write.toFixed(1)} s` +
                (reportPath ? `; report ${reportPath}` : ""),
        );
    } catch (error) {
        progress.finish();
        throw error;
    }
    return 0;
}
