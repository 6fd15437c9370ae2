/**
 * `npm run test:platforms [-- --arm64] [-- --win]`: for each cross-built
 * platform (both when neither flag is given), cross-builds the addon, packs
 * the tarballs (`npm run pack -- --cross <those platforms>`), installs the
 * main tarball into a fresh project with --ignore-scripts and the target's
 * `--os`/`--cpu`, npm choosing the platform package among its optional
 * dependencies (taken from dist-pack), and runs that platform's Node.js there
 * under emulation
 * (qemu-aarch64 or wine): the tiny models scored against the float64
 * reference (exact settings; F32 ≤ 1e-4, F16 ≤ 5e-3 as in
 * test/scoring-parity.test.ts), score() against scoreBatch(), the error
 * codes of bad input, and that addonInfo().cpuBackend names the CPU variant
 * library ggml's log says it loaded, built by node-llama-cpp, and that the CPU compute buffer is 64-byte
 * aligned (addonInfo().computeAlignment), and on x64 that llama-reward's AVX-512 or AVX2 kernel multiplies
 * the F32 weights (a second Windows run with LLAMA_REWARD_AVX2=1 scores through the AVX2 kernel). Prints one
 * summary line per platform and exits 1 when any check failed.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CpuBackendInfo } from "../../src/addon/cpu-backend.js";
import { platformPackageName } from "../../src/addon/prebuilt.js";
import { cpuInfo } from "../../src/model/system.js";
import { packageRoot } from "../../src/package-root.js";
import { loadReferenceModel, type ReferenceModel, referenceRewards } from "../../test/reference/llama-reference.js";
import { cpuBackendProblem, loadedCpuVariant } from "./cpu-backend-check.js";
import { hasProgram } from "./cross-build.js";
import { runEmulatedNode } from "./emulator.js";
import { cachedNpmPackage } from "./npm-package-cache.js";
import { type CrossTarget, crossTarget, crossTargets } from "./targets.js";

const root = packageRoot();
const packDir = path.join(root, "dist-pack");
const models = [
    { label: "F32", file: path.join(root, "models", "tiny-reward-f32.gguf"), tolerance: 1e-4 },
    { label: "F16", file: path.join(root, "models", "tiny-reward-f16.gguf"), tolerance: 5e-3 }, // ggml rounds activations to f16
];

function log(message: string): void {
    process.stderr.write(`platform-check: ${message}\n`);
}

// Runs in the fresh project under emulation. Output goes to a file (wine).
const consumerScript = `
import fs from "node:fs";
import { RewardModel, addonInfo, cpuInfo, isRewardModelError } from "llama-reward";
const [out, ...files] = process.argv.slice(2);
const conversations = [
    [{ role: "user", content: "What is the capital of France?" }, { role: "assistant", content: "Paris." }],
    [{ role: "user", content: "Write a haiku about rain." }, { role: "assistant", content: "Soft rain on the roof, a quiet drum for the night, the garden drinks deep." }],
    [{ role: "system", content: "You are terse." }, { role: "user", content: "2+2?" }, { role: "assistant", content: "5" }],
];
const exact = { flashAttention: false, kvCacheType: "f32", gpu: false };
const result = { platform: process.platform, arch: process.arch, node: process.version, models: [], cases: [] };
async function expectCode(name, code, call) {
    try {
        await call();
        result.cases.push({ name, ok: false, detail: "resolved" });
    } catch (e) {
        result.cases.push({ name, ok: isRewardModelError(e, code), detail: String(e?.code) + ": " + String(e?.message).split("\\n")[0] });
    }
}
result.addon = addonInfo();
result.cpu = cpuInfo();
for (const file of files) {
    const model = await RewardModel.load(file, exact);
    const rewards = await model.scoreBatch(conversations);
    const single = await model.score(conversations[0]);
    const tokens = conversations.map((c) => Array.from(model.tokenizeConversation(c)));
    result.models.push({ file, rewards, single, tokens });
    await model.dispose();
}
const model = await RewardModel.load(files[0], { ...exact, contextSize: 32 });
const long = [{ role: "user", content: "rain ".repeat(600) }, { role: "assistant", content: "ok" }];
await expectCode("a conversation longer than the context", "ERR_CONTEXT_OVERFLOW", () => model.score(long));
await expectCode("an empty message list", "ERR_INVALID_MESSAGES", () => model.score([]));
await expectCode("an aborted signal", "ERR_ABORTED", () => model.score(conversations[0], { signal: AbortSignal.abort() }));
const after = await model.score(conversations[0]);
const ok = Math.abs(after - result.models[0].single) <= 1e-4;
result.cases.push({ name: "the model scores as before after those errors", ok, detail: String(after) });
await model.dispose();
await model.dispose();
await expectCode("score after dispose", "ERR_DISPOSED", () => model.score(conversations[0]));
await expectCode("a missing file", "ERR_MODEL_NOT_FOUND", () => RewardModel.load("missing.gguf"));
fs.writeFileSync("not-a-model.gguf", "this is not a GGUF file, only text that is long enough to hold a header");
await expectCode("a file that is not GGUF", "ERR_NOT_GGUF", () => RewardModel.load("not-a-model.gguf"));
await expectCode("a negative contextSize", "ERR_INVALID_OPTION", () => RewardModel.load(files[0], { contextSize: -1 }));
fs.writeFileSync(out, JSON.stringify(result));
`;

interface ConsumerResult {
    platform: string;
    arch: string;
    node: string;
    addon: {
        source: string;
        path: string;
        registries: string[];
        cpuBackend: CpuBackendInfo | null;
        computeAlignment: number;
        f32Kernel: string;
        f16Kernel: string;
    };
    cpu: { arch: string; model: string; cpu: Record<string, boolean | null>; build: string[] };
    models: { file: string; rewards: number[]; single: number; tokens: number[][] }[];
    cases: { name: string; ok: boolean; detail: string }[];
}

interface Summary {
    tag: string;
    ok: boolean;
    lines: string[];
}

function tarballFor(prefix: string): string | undefined {
    const found = fs.readdirSync(packDir).find((f) => f.startsWith(prefix) && f.endsWith(".tgz") && /^\d/.test(f.slice(prefix.length)));
    return found === undefined ? undefined : path.join(packDir, found);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function checkPlatform(target: CrossTarget, references: Map<string, ReferenceModel>): Summary {
    const lines: string[] = [];
    const fail = (why: string): Summary => {
        log(`${target.tag}: FAIL: ${why}`);
        return { tag: target.tag, ok: false, lines: [...lines, `FAIL: ${why}`] };
    };
    const missing = [target.compiler, target.emulator].filter((p) => !hasProgram(p));
    if (missing.length > 0) {
        return fail(`${missing.join(", ")} not installed (Debian: ${[...target.buildPackages, ...target.runPackages].join(" ")})`);
    }
    const main = tarballFor("llama-reward-");
    const platform = tarballFor(`llama-reward-${target.tag}-`);
    if (main === undefined || platform === undefined) return fail(`dist-pack lacks the main or the ${target.tag} tarball`);
    lines.push(`tarball ${path.basename(platform)}: ${mib(fs.statSync(platform).size)}`);

    const work = fs.mkdtempSync(path.join(os.tmpdir(), `llama-reward-${target.tag}-`));
    const project = path.join(work, "project");
    fs.mkdirSync(project);
    // as a user's project: llama-reward as a dependency, its optional platform package chosen by npm for the
    // target's os/cpu, and taken from dist-pack (overrides) instead of the registry
    const consumer = {
        name: "platform-check",
        version: "1.0.0",
        private: true,
        type: "module",
        dependencies: { "llama-reward": `file:${main}` },
        overrides: { [platformPackageName(target.platform, target.arch)]: `file:${platform}` },
    };
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify(consumer, null, 2));
    fs.writeFileSync(path.join(project, "check.mjs"), consumerScript);
    const args = [
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--ignore-scripts",
        `--os=${target.platform}`,
        `--cpu=${target.arch}`,
    ];
    if (target.libc !== undefined) args.push(`--libc=${target.libc}`);
    log(`${target.tag}: npm ${args.join(" ")} (llama-reward and ${path.basename(platform)} from dist-pack)`);
    const installStarted = Date.now();
    const install = spawnSync("npm", args, { cwd: project, stdio: ["ignore", "inherit", "inherit"] });
    if (install.status !== 0) return fail(`npm install failed (${install.status})`);
    lines.push(`installed in ${((Date.now() - installStarted) / 1000).toFixed(1)} s`);

    const node = path.join(cachedNpmPackage(target.node.pkg, target.node.version, log), target.node.file);
    // the first run checks everything; the others the F32 model and the API cases: older arm64 cores
    // (QEMU_CPU), and on Windows node.exe renamed, as Electron's host is (the addon imports N-API from the host)
    const runs = (target.emulatedCpus ?? [undefined]).map(
        (cpu): EmulatedVariant =>
            cpu === undefined
                ? { label: target.emulator, node, env: {} }
                : { label: `${target.emulator} -cpu ${cpu}`, node, env: { QEMU_CPU: cpu } },
    );
    if (target.platform === "win32") {
        const renamed = path.join(work, "electron.exe");
        fs.copyFileSync(node, renamed);
        runs.push({ label: `${target.emulator}, node.exe renamed electron.exe`, node: renamed, env: {} });
        // the AVX2 kernel, which an AVX-512 host would otherwise not run
        if (hostCpu.avx2 === true) runs.push({ label: `${target.emulator}, LLAMA_REWARD_AVX2=1`, node, env: { LLAMA_REWARD_AVX2: "1" } });
    }
    let ok = true;
    for (const [i, variant] of runs.entries()) {
        const runOk = checkRun(target, variant, project, work, i === 0 ? models : models.slice(0, 1), references, lines);
        ok &&= runOk;
    }
    if (ok) fs.rmSync(work, { recursive: true, force: true });
    else log(`${target.tag}: the project and the emulated run's output stay in ${work}`);
    log(`${target.tag}: ${ok ? "PASS" : "FAIL"}`);
    return { tag: target.tag, ok, lines };
}

const hostCpu = cpuInfo().cpu;

/** The F32 kernel the package must use on this host's CPU under `variant` (undefined: no kernel of llama-reward's). */
function expectedF32Kernel(target: CrossTarget, variant: EmulatedVariant): string | undefined {
    if (target.arch !== "x64") return undefined;
    if (hostCpu.avx512 === true && variant.env.LLAMA_REWARD_AVX2 !== "1") return "avx512-f32";
    return hostCpu.avx2 === true ? "avx2-f32" : "ggml";
}

interface EmulatedVariant {
    label: string;
    /** The Node.js executable to run. */
    node: string;
    env: Record<string, string>;
}

/** One emulated run of the consumer script; appends its lines. */
function checkRun(
    target: CrossTarget,
    variant: EmulatedVariant,
    project: string,
    work: string,
    scored: typeof models,
    references: Map<string, ReferenceModel>,
    lines: string[],
): boolean {
    const resultFile = path.join(project, "result.json");
    fs.rmSync(resultFile, { force: true });
    log(`${target.tag}: running ${target.node.pkg}@${target.node.version} under ${variant.label}`);
    const env = { LLAMA_REWARD_DEBUG: "1", ...variant.env };
    const run = runEmulatedNode(target, variant.node, ["check.mjs", "result.json", ...scored.map((m) => m.file)], project, work, env, 900);
    lines.push(`${variant.label}: ${run.seconds.toFixed(1)} s`);
    if (run.status !== 0 || !fs.existsSync(resultFile)) {
        const tail = run.stderr
            .split("\n")
            .filter((l) => !/^ggml_backend_load_best|^load_tensors|^print_info|^\s*$/.test(l))
            .slice(-20)
            .join("\n");
        lines.push(`    FAIL: node exited with ${run.status}:\n${tail}`);
        return false;
    }
    const result = JSON.parse(fs.readFileSync(resultFile, "utf8")) as ConsumerResult;
    let ok = true;
    const say = (line: string) => lines.push(`    ${line}`);
    const problem = (why: string) => {
        ok = false;
        say(`FAIL: ${why}`);
    };
    if (result.platform !== target.platform || result.arch !== target.arch) problem(`node reported ${result.platform}-${result.arch}`);
    if (result.addon.source !== "prebuilt") problem(`the addon came from ${result.addon.source}, not the platform package`);
    say(
        `node ${result.node} ${result.platform}-${result.arch}; addon ${result.addon.source}; backends ${result.addon.registries.join(", ")}`,
    );
    const loadedVariant = loadedCpuVariant(run.stderr);
    say(`ggml CPU variant: ${loadedVariant ?? "(not in the log)"}`);
    const backend = result.addon.cpuBackend;
    say(
        `addonInfo().cpuBackend: ${backend === null ? "null" : `${backend.library}, built by ${backend.builtBy}, compiler ${backend.compiler ?? "null"}`}`,
    );
    const backendProblem = cpuBackendProblem(backend, target.cpuVariantFile, loadedVariant);
    if (backendProblem !== undefined) problem(backendProblem);
    // llama-reward's 64-byte CPU compute buffer (native/src/cpu_compute_buffer.cpp) against this platform's ggml-base
    say(`addonInfo().computeAlignment: ${result.addon.computeAlignment}`);
    // llama-reward's AVX-512 and AVX2 kernels are in the x86-64 packages: on this host's CPU they must run
    const kernel = expectedF32Kernel(target, variant);
    say(`addonInfo().f32Kernel: ${result.addon.f32Kernel}, f16Kernel: ${result.addon.f16Kernel}`);
    if (kernel !== undefined && result.addon.f32Kernel !== kernel) problem(`the F32 kernel is ${result.addon.f32Kernel}, not ${kernel}`);
    if (result.addon.computeAlignment !== 64)
        problem(`the CPU compute buffer is aligned to ${result.addon.computeAlignment} bytes, not 64`);
    const flags = Object.entries(result.cpu.cpu)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => `${k}=${v}`);
    say(
        `cpuInfo(): model "${result.cpu.model}", cpu ${flags.length > 0 ? flags.join(" ") : "(no flags known)"}, build [${result.cpu.build.join(", ")}]`,
    );
    for (const [i, spec] of scored.entries()) {
        const scoredModel = result.models[i];
        if (scoredModel === undefined) {
            problem(`no result for ${spec.label}`);
            continue;
        }
        const reference = references.get(spec.file)!;
        const expected = scoredModel.tokens.map((t) => referenceRewards(reference, t)[0]!);
        const error = Math.max(
            ...scoredModel.rewards.map((r, j) => Math.abs(r - expected[j]!)),
            Math.abs(scoredModel.single - expected[0]!),
        );
        say(
            `${spec.label} parity: max |Δ| = ${error.toExponential(2)} over ${expected.length} conversations + score() (limit ${spec.tolerance})`,
        );
        if (!(error <= spec.tolerance)) problem(`${spec.label} parity ${error} > ${spec.tolerance}`);
    }
    const failedCases = result.cases.filter((c) => !c.ok);
    say(`API cases: ${result.cases.length - failedCases.length}/${result.cases.length} passed (error codes, usable after errors)`);
    for (const c of failedCases) problem(`${c.name}: ${c.detail}`);
    if (result.cases.length !== 8) problem(`expected 8 cases, got ${result.cases.length}`);
    return ok;
}

function main(): number {
    const picked = [process.argv.includes("--arm64") ? "linux-arm64" : "", process.argv.includes("--win") ? "win32-x64" : ""].filter(
        Boolean,
    );
    const targets = picked.length > 0 ? picked.map(crossTarget) : [...crossTargets];
    for (const m of models) {
        if (!fs.existsSync(m.file)) {
            log(`${m.file} is missing: run \`npm run build:models\``);
            return 1;
        }
    }
    const started = Date.now();
    // npm run pack cross-builds every target whose compiler is installed, then packs
    const pack = spawnSync(
        process.execPath,
        [path.join(root, "dist", "tools", "pack", "pack.js"), "--cross", targets.map((t) => t.tag).join(",")],
        {
            cwd: root,
            stdio: ["ignore", "ignore", "inherit"],
        },
    );
    if (pack.status !== 0) {
        log("npm run pack failed");
        return 1;
    }
    const references = new Map(models.map((m) => [m.file, loadReferenceModel(m.file)]));
    const summaries = targets.map((t) => checkPlatform(t, references));
    process.stdout.write(`\nplatform checks (${((Date.now() - started) / 1000).toFixed(0)} s in all, build and pack included):\n`);
    for (const s of summaries) {
        process.stdout.write(`${s.ok ? "PASS" : "FAIL"} ${s.tag}\n${s.lines.map((l) => `    ${l}`).join("\n")}\n`);
    }
    return summaries.every((s) => s.ok) ? 0 : 1;
}

process.exitCode = main();
