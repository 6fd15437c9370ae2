/**
 * `llama-reward serve`: loads a model and runs the reward server on it.
 * Prints `listening on http://HOST:PORT` to stdout as soon as the port is
 * bound (/health answers 503 until the model is loaded), then
 * `ready on http://HOST:PORT` once the model is loaded and requests are
 * scored; SIGTERM or SIGINT drain the requests in flight (/health 503
 * "draining"), free the model and exit 0.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { invalidArgument } from "../errors.js";
import { RewardModel } from "../model/reward-model.js";
import { createServer, type ListenAddress, type RewardServer, type ServerOptions } from "../server/server.js";
import { integerFlag } from "./flag-values.js";
import { loadFlags, loadOptionsFrom } from "./load-flags.js";
import type { ServedModel } from "../server/served-model.js";

export const serveUsage = `serve prints two lines on stdout: "listening on http://HOST:PORT" once the port is bound
(the model is still loading: /health and scoring answer 503), then "ready on http://HOST:PORT" once the
model is loaded and requests are scored. Wait for the "ready on" line. SIGTERM or SIGINT stop accepting
connections, answer the requests in flight (/health 503 "draining"), then exit 0.

serve options:
  -m, --model PATH          the GGUF reward model (required)
      --host HOST           address to bind (default: 127.0.0.1)
      --port N              port (default: 8080; 0 picks a free one)
      --api-key KEY         require Authorization: Bearer KEY or X-Api-Key: KEY except on /health (default: $LLAMA_REWARD_API_KEY)
      --max-body BYTES      largest request body (default: 16777216)
      --max-queue N         most sequences queued or decoding; past it requests get 429 (default: 1024)
      --name NAME           model id in replies (default: the file name without .gguf)
      --log                 one line per request on stderr
      --isolate             load and score in an engine process of its own; if it dies, /health says 503 and why
  and the load options (--bos ... --template-var, listed under "load options")
`;

/** Runs the server until SIGTERM/SIGINT; resolves with the exit code. */
export async function commandServe(argv: string[]): Promise<number> {
    const { values } = parseArgs({
        args: argv,
        options: {
            model: { type: "string", short: "m" },
            host: { type: "string", default: "127.0.0.1" },
            port: { type: "string", default: "8080" },
            "api-key": { type: "string" },
            "max-body": { type: "string" },
            "max-queue": { type: "string" },
            name: { type: "string" },
            log: { type: "boolean", default: false },
            isolate: { type: "boolean", default: false }, // run the model in an engine process (docs/model-validation.md)
            ...loadFlags,
        },
        strict: true,
        allowPositionals: false,
    });
    const modelPath = values.model;
    if (!modelPath) throw invalidArgument("serve needs --model PATH");
    const port = integerFlag(values.port, "port", 0, 65535)!;
    const apiKey = values["api-key"] ?? (process.env.LLAMA_REWARD_API_KEY || undefined);
    const loadOptions = loadOptionsFrom(values);

    const serverOptions: ServerOptions = {
        apiKey,
        maxBody: integerFlag(values["max-body"], "max-body", 1),
        maxQueue: integerFlag(values["max-queue"], "max-queue", 1),
        modelName: values.name ?? path.basename(modelPath).replace(/\.gguf$/i, ""),
        log: values.log ? (line) => process.stderr.write(`${line}\n`) : undefined,
    };
    for (const key of Object.keys(serverOptions) as (keyof ServerOptions)[])
        if (serverOptions[key] === undefined) delete serverOptions[key];

    const loading: Promise<ServedModel> = values.isolate
        ? RewardModel.load(modelPath, { ...loadOptions, isolate: true })
        : RewardModel.load(modelPath, loadOptions);
    let server: RewardServer<ServedModel>;
    try {
        server = createServer(loading, serverOptions);
    } catch (error) {
        await loading.then(
            (m) => m.dispose(),
            () => undefined,
        );
        throw error;
    }
    const disposeModel = () =>
        loading.then(
            (m) => m.dispose(),
            () => undefined,
        );
    let address: ListenAddress;
    try {
        address = await server.listen(port, values.host);
    } catch (error) {
        await disposeModel();
        throw error;
    }
    process.stdout.write(`listening on ${address.url}\n`);

    let signalled = false;
    const stopped = new Promise<number>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
            if (signalled) {
                process.stderr.write(`llama-reward serve: ${signal} again, exiting without draining\n`);
                process.exit(1);
            }
            signalled = true;
            process.stderr.write(`llama-reward serve: ${signal}, finishing ${server.http.listening ? "requests in flight" : "up"}\n`);
            void server
                .close()
                .then(disposeModel)
                .then(() => resolve(0));
        };
        process.on("SIGTERM", stop);
        process.on("SIGINT", stop);
    });
    try {
        const model = await server.ready;
        if (!signalled) {
            process.stderr.write(
                `llama-reward serve: ${model.info.description}, context ${model.info.contextSize}, parallel ${model.options.parallel}\n`,
            );
            process.stdout.write(`ready on ${address.url}\n`);
        }
    } catch (error) {
        await server.close();
        throw error;
    }
    return stopped;
}
