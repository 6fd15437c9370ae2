/**
 * Installs the dist-pack tarballs into a fresh project outside the
 * repository, as a user would, and checks the result scores the tiny model
 * like the float64 reference (exact settings, ≤ 1e-4). It also quantizes the
 * tiny model to Q8_0 with the installed package and scores that: on a CPU
 * with AMX int8 the ggml CPU backend must have ggml's AMX int8 kernel
 * (AMX_INT8), which GCC 12 once compiled into a crash (see
 * native/cmake/ggml-amx-tile-config.cmake), and the rewards must stay within
 * the Q8_0 activation rounding of the float64 reference on the dequantized
 * weights (≤ 0.05; 0.02 measured). The CPU compute buffer must be 64-byte
 * aligned (addonInfo().computeAlignment; native/src/cpu_compute_buffer.cpp).
 *
 *   node dist/tools/pack/install-check.js            # prebuilt: the main and this platform's tarball, --ignore-scripts,
 *                                                    # PATH = node and npm only (no compiler, cmake, git, python)
 *   node dist/tools/pack/install-check.js --source   # the main tarball alone, install script on: builds from source
 *
 * Prints the install time, the installed size and the parity; exits 1 on
 * any failure. Run `npm run pack` first.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { platformTag } from "../../src/addon/prebuilt.js";
import { packageRoot } from "../../src/package-root.js";
import { loadReferenceModel, referenceRewards } from "../../test/reference/llama-reference.js";

const root = packageRoot();
const packDir = path.join(root, "dist-pack");
const tinyModel = path.join(root, "models", "tiny-reward-f32.gguf");
const tolerance = 1e-4;

function log(message: string): void {
    process.stderr.write(`install-check: ${message}\n`);
}

function dirSize(dir: string): number {
    let total = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
        if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
    }
    return total;
}

/** A folder whose only programs are node, npm and npx: a machine without any build tool. */
function nodeOnlyBin(tmp: string): string {
    const bin = path.join(tmp, "bin");
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, "node"));
    const npmCli = path.join(path.dirname(process.execPath), "..", "lib", "node_modules", "npm", "bin");
    for (const tool of ["npm", "npx"]) {
        const cli = path.join(npmCli, `${tool}-cli.js`);
        if (!fs.existsSync(cli)) throw new Error(`cannot find ${cli}`);
        fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`, { mode: 0o755 });
    }
    return bin;
}

// Runs in the fresh project: imports the installed package, scores the tiny model, then its Q8_0 quantization.
const consumerScript = `
import { RewardModel, addonInfo, cpuInfo, quantize } from "llama-reward";
const conversations = [
    [{ role: "user", content: "What is the capital of France?" }, { role: "assistant", content: "Paris." }],
    [{ role: "user", content: "Write a haiku about rain." }, { role: "assistant", content: "Soft rain on the roof, a quiet drum for the night, the garden drinks deep." }],
    [{ role: "system", content: "You are terse." }, { role: "user", content: "2+2?" }, { role: "assistant", content: "5" }],
];
const options = { flashAttention: false, kvCacheType: "f32", gpu: false };
const model = await RewardModel.load(process.argv[2], options);
const rewards = await model.scoreBatch(conversations);
const tokens = conversations.map((c) => model.tokenizeConversation(c));
await model.dispose();
await quantize(process.argv[2], process.argv[3], "Q8_0");
const q8 = await RewardModel.load(process.argv[3], options);
const q8Rewards = await q8.scoreBatch(conversations);
await q8.dispose();
const { cpu, build } = cpuInfo();
console.log(JSON.stringify({ addon: addonInfo(), rewards, tokens, q8Rewards, cpuAmxInt8: cpu.amxInt8, ggmlCpu: build }));
`;

interface ConsumerResult {
    addon: { source: string; path: string; dynamicBackends: boolean; registries: string[]; computeAlignment: number };
    rewards: number[];
    tokens: number[][];
    q8Rewards: number[];
    cpuAmxInt8: boolean | null;
    /** The features the loaded ggml CPU backend was built for. */
    ggmlCpu: string[];
}

/** Q8_0 against the float64 reference on its dequantized weights: ggml also rounds the activations to 8 bits. */
const q8Tolerance = 0.05;

function main(): number {
    const source = process.argv.includes("--source");
    const tarballs = fs.existsSync(packDir)
        ? fs
              .readdirSync(packDir)
              .filter((f) => f.endsWith(".tgz"))
              .map((f) => path.join(packDir, f))
        : [];
    const main = tarballs.find((t) => /\/llama-reward-\d/.test(t));
    if (main === undefined) {
        log("dist-pack/llama-reward-<version>.tgz is missing: run `npm run pack` first");
        return 1;
    }
    if (!fs.existsSync(tinyModel)) {
        log(`${tinyModel} is missing: run \`npm run build:models\``);
        return 1;
    }
    // the host's platform package only: npm refuses to install another platform's package by name
    const hostPlatform = tarballs.find((t) => path.basename(t).startsWith(`llama-reward-${platformTag()}-`));
    const installing = source || hostPlatform === undefined ? [main] : [main, hostPlatform];
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-install-"));
    const project = path.join(tmp, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(
        path.join(project, "package.json"),
        JSON.stringify({ name: "install-check", version: "1.0.0", private: true, type: "module" }),
    );
    fs.writeFileSync(path.join(project, "check.mjs"), consumerScript);

    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) {
        if (key.startsWith("LLAMA_REWARD_") || key.startsWith("npm_")) delete env[key];
    }
    if (!source) {
        env.PATH = nodeOnlyBin(tmp);
        const probe = spawnSync("/bin/sh", ["-c", "command -v cc gcc g++ c++ clang cmake make ninja git python3 python"], {
            env,
            encoding: "utf8",
        });
        if (probe.stdout.trim() !== "") {
            log(`build tools still on PATH: ${probe.stdout.trim()}`);
            return 1;
        }
        log(`PATH=${env.PATH} (node, npm, npx only: no compiler, cmake, make, ninja, git or python)`);
    }
    const args = [
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        ...(source ? ["--foreground-scripts"] : ["--ignore-scripts"]),
        ...installing,
    ];
    log(`${source ? "source build" : "prebuilt"}: npm ${args.join(" ")}`);
    const started = Date.now();
    const install = spawnSync("npm", args, { cwd: project, env, stdio: "inherit" });
    const seconds = (Date.now() - started) / 1000;
    if (install.status !== 0) {
        log(`npm install failed (${install.status ?? install.error?.message})`);
        return 1;
    }
    const installedMiB = dirSize(path.join(project, "node_modules")) / 2 ** 20;
    log(`installed in ${seconds.toFixed(1)} s; node_modules: ${installedMiB.toFixed(1)} MiB`);

    const q8Model = path.join(tmp, "tiny-reward-q8_0.gguf");
    const run = spawnSync(process.execPath, ["check.mjs", tinyModel, q8Model], { cwd: project, env, encoding: "utf8" });
    if (run.status !== 0) {
        log(`scoring in the fresh project failed (${run.signal ?? `exit ${run.status}`}):\n${run.stdout}${run.stderr}`);
        return 1;
    }
    const lastLine = run.stdout.trim().split("\n").at(-1) ?? "";
    const result = JSON.parse(lastLine) as ConsumerResult;
    const reference = loadReferenceModel(tinyModel);
    const expected = result.tokens.map((t) => referenceRewards(reference, t)[0]!);
    const error = Math.max(...result.rewards.map((r, i) => Math.abs(r - expected[i]!)));
    const q8Reference = loadReferenceModel(q8Model);
    const q8Error = Math.max(...result.q8Rewards.map((r, i) => Math.abs(r - referenceRewards(q8Reference, result.tokens[i]!)[0]!)));
    const amxInt8 = result.ggmlCpu.includes("AMX_INT8");
    const expectedSource = source ? "local" : "prebuilt";
    log(`addon: ${result.addon.source} ${path.relative(project, result.addon.path)} (backends: ${result.addon.registries.join(", ")})`);
    log(
        `parity against the float64 reference: max |Δ| = ${error.toExponential(3)} over ${expected.length} conversations (limit ${tolerance})`,
    );
    log(
        `Q8_0 (ggml CPU backend ${amxInt8 ? "with" : "without"} AMX_INT8, CPU AMX int8: ${result.cpuAmxInt8}): ` +
            `max |Δ| = ${q8Error.toExponential(3)} from the reference on the dequantized weights (limit ${q8Tolerance})`,
    );
    const amxOk = result.cpuAmxInt8 !== true || amxInt8;
    if (!amxOk) log("this CPU has AMX int8 but the ggml CPU backend was built without ggml's AMX int8 kernel");
    // the 64-byte CPU compute buffer (native/src/cpu_compute_buffer.cpp), which the Q8_0 speed on AMX depends on
    const alignedOk = result.addon.computeAlignment === 64;
    log(`CPU compute buffer alignment: ${result.addon.computeAlignment} bytes${alignedOk ? "" : " (expected 64)"}`);
    const ok = error <= tolerance && q8Error <= q8Tolerance && amxOk && alignedOk && result.addon.source === expectedSource;
    if (result.addon.source !== expectedSource) log(`expected the ${expectedSource} addon, got ${result.addon.source}`);
    console.log(
        JSON.stringify({
            mode: source ? "source" : "prebuilt",
            ok,
            installSeconds: seconds,
            installedMiB,
            maxAbsError: error,
            q8MaxAbsError: q8Error,
            ggmlAmxInt8: amxInt8,
            computeAlignment: result.addon.computeAlignment,
            addon: result.addon.source,
        }),
    );
    fs.rmSync(tmp, { recursive: true, force: true });
    return ok ? 0 : 1;
}

process.exitCode = main();
