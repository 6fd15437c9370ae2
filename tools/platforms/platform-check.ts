/**
 * `npm run test:platforms [-- --arm64] [-- --win]`: for each cross-built
 * platform (both when neither flag is given), cross-builds the addon, packs
 * the tarballs (`npm run pack -- --cross <those platforms>`), installs the
 * main tarball into a fresh project with --ignore-scripts and the target's
 * `--os`/`--cpu`, npm choosing the platform package among its optional
 * dependencies (taken from dist-pack), and runs that platform's Node.js there
 * under emulation
 * (qemu-aarch64 or wine): the tiny models (F32, F16, and a BF16 copy written
 * here) and the F16 one with a 4096-wide feed-forward block scored against
 * the float64 reference (exact settings; ≤ 1e-4 where llama-reward's kernels
 * multiply, which widen weights exactly and keep activations in F32; F16
 * ≤ 5e-3 and BF16 ≤ 5e-2 on kernels that round activations to the weights'
 * type), score() against scoreBatch(), the error
 * codes of bad input, and that addonInfo().cpuBackend names the CPU variant
 * library ggml's log says it loaded, built by node-llama-cpp, and that the CPU compute buffer is 64-byte
 * aligned (addonInfo().computeAlignment), and that llama-reward's kernels multiply the F32, F16 and BF16 weights:
 * on x64 its AVX-512 or AVX2 ones (a second Windows run with LLAMA_REWARD_AVX2=1 scores through the AVX2 kernel),
 * on arm64 its NEON one (a second run with LLAMA_REWARD_NEON=0 scores on ggml's kernels, whose parity is
 * printed beside it). Prints one summary line per platform and exits 1 when any check failed.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CpuBackendInfo } from "../../src/addon/cpu-backend.js";
import { platformPackageName } from "../../src/addon/prebuilt.js";
import { cpuInfo } from "../../src/model/system.js";
import { quantize } from "../../src/convert/quantize.js";
import { packageRoot } from "../../src/package-root.js";
import { loadReferenceModel, type ReferenceModel, referenceRewards } from "../../test/reference/llama-reference.js";
import { writeWideTinyF16 } from "../../test/support/wide-tiny-model.js";
import { cpuBackendProblem, loadedCpuVariant } from "./cpu-backend-check.js";
import { hasProgram } from "./cross-build.js";
import { runEmulatedNode } from "./emulator.js";
import { cachedNpmPackage } from "./npm-package-cache.js";
import { type CrossTarget, crossTarget, crossTargets } from "./targets.js";

const root = packageRoot();
const packDir = path.join(root, "dist-pack");
type WeightType = "F32" | "F16" | "BF16";
interface ScoredModel {
    label: string;
    type: WeightType;
    file: string;
}
const tinyF32 = path.join(root, "models", "tiny-reward-f32.gguf");
/** The tiny models; the BF16 copy and the wide F16 model are written into a scratch folder by main(). */
const models: ScoredModel[] = [
    { label: "F32", type: "F32", file: tinyF32 },
    { label: "F16", type: "F16", file: path.join(root, "models", "tiny-reward-f16.gguf") },
];

/** llama-reward's kernels that widen the weights to F32 exactly and keep the activations in F32. */
const EXACT_KERNELS = new Set([
    ...["avx512-f32", "avx2-f32", "neon-f32"],
    ...["avx512-f16", "avx2-f16", "neon-f16"],
    ...["avx512-fma", "avx2-fma", "neon-fma"],
]);

/** The largest |Δ| from the float64 reference allowed for a weight type multiplied by `kernel`. */
function tolerance(type: WeightType, kernel: string): number {
    if (type === "F32" || EXACT_KERNELS.has(kernel)) return 1e-4;
    // ggml's F16 and BF16 kernels, and llama-reward's AMX and vdpbf16ps ones, round the activations to the weights' type
    return type === "F16" ? 5e-3 : 5e-2;
}

function log(message: string): void {
    process.stderr.write(`platform-check: ${message}\n`);
}

// Runs in the fresh project under emulation. Output goes to a file (wine).
const consumerScript = `
import fs from "node:fs";
import { RewardModel, addonInfo, cpuInfo, isRewardModelError } from "llama-reward";
// the addon's product counters of llama-reward's kernels (not exported by the package's entry point)
const { loadAddon } = await import(new URL("./node_modules/llama-reward/dist/src/addon/load-addon.js", import.meta.url).href);
const native = loadAddon();
const COUNTERS = ["neonProducts", "avx2Products", "avx512F32Products", "avx512F16Products", "avx512Bf16FmaProducts", "avx512Bf16Products"];
const ourProducts = () => COUNTERS.reduce((sum, c) => sum + (typeof native[c] === "function" ? native[c]() : 0), 0);
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
    const before = ourProducts();
    const model = await RewardModel.load(file, exact);
    const rewards = await model.scoreBatch(conversations);
    const single = await model.score(conversations[0]);
    const tokens = conversations.map((c) => Array.from(model.tokenizeConversation(c)));
    result.models.push({ file, rewards, single, tokens, ourProducts: ourProducts() - before });
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
        bf16Kernel: string;
    };
    cpu: { arch: string; model: string; cpu: Record<string, boolean | null>; build: string[] };
    /** ourProducts: weight products llama-reward's kernels computed while the model was scored. */
    models: { file: string; rewards: number[]; single: number; tokens: number[][]; ourProducts: number }[];
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

function checkPlatform(target: CrossTarget, scored: ScoredModel[], references: Map<string, ReferenceModel>): Summary {
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
                ? { label: target.emulator, node, env: {}, allModels: false }
                : { label: `${target.emulator} -cpu ${cpu}`, node, env: { QEMU_CPU: cpu }, allModels: false },
    );
    runs[0]!.allModels = true;
    if (target.arch === "arm64") {
        // ggml's own kernels on the first CPU: their F16 and BF16 parity is printed beside the NEON kernel's, not
        // held to a limit (ggml sums F16 in half precision on cores with FP16 arithmetic)
        const first = runs[0]!;
        runs.push({
            ...first,
            label: `${first.label}, LLAMA_REWARD_NEON=0`,
            env: { ...first.env, LLAMA_REWARD_NEON: "0" },
            reportOnly: true,
        });
    }
    if (target.platform === "win32") {
        const renamed = path.join(work, "electron.exe");
        fs.copyFileSync(node, renamed);
        runs.push({ label: `${target.emulator}, node.exe renamed electron.exe`, node: renamed, env: {}, allModels: false });
        // the AVX2 kernel, which an AVX-512 host would otherwise not run
        if (hostCpu.avx2 === true)
            runs.push({ label: `${target.emulator}, LLAMA_REWARD_AVX2=1`, node, env: { LLAMA_REWARD_AVX2: "1" }, allModels: false });
    }
    let ok = true;
    for (const variant of runs) {
        const runOk = checkRun(target, variant, project, work, variant.allModels ? scored : scored.slice(0, 1), references, lines);
        ok &&= runOk;
    }
    if (ok) fs.rmSync(work, { recursive: true, force: true });
    else log(`${target.tag}: the project and the emulated run's output stay in ${work}`);
    log(`${target.tag}: ${ok ? "PASS" : "FAIL"}`);
    return { tag: target.tag, ok, lines };
}

const hostCpu = cpuInfo().cpu;

/** The kernels the package may use for each weight type on this host's CPU under `variant` (undefined: not checked). */
function expectedKernels(target: CrossTarget, variant: EmulatedVariant): Record<WeightType, string[]> | undefined {
    if (target.arch === "arm64") {
        const ggml = variant.env.LLAMA_REWARD_NEON === "0";
        return ggml ? { F32: ["ggml"], F16: ["ggml"], BF16: ["ggml"] } : { F32: ["neon-f32"], F16: ["neon-f16"], BF16: ["neon-fma"] };
    }
    if (target.arch !== "x64") return undefined;
    // BF16 on AVX-512: the FMA kernel on Intel CPUs and those without AVX-512 BF16, the vdpbf16ps one on AMD's
    if (hostCpu.avx512 === true && variant.env.LLAMA_REWARD_AVX2 !== "1") {
        return { F32: ["avx512-f32"], F16: ["avx512-f16"], BF16: ["avx512-fma", "avx512-bf16"] };
    }
    return hostCpu.avx2 === true
        ? { F32: ["avx2-f32"], F16: ["avx2-f16"], BF16: ["avx2-fma"] }
        : { F32: ["ggml"], F16: ["ggml"], BF16: ["ggml"] };
}

interface EmulatedVariant {
    label: string;
    /** The Node.js executable to run. */
    node: string;
    env: Record<string, string>;
    /** Score every model (otherwise the F32 one only). */
    allModels: boolean;
    /** Print the F16 and BF16 models' parity without a limit (ggml's kernels, for comparison). */
    reportOnly?: boolean;
}

/** One emulated run of the consumer script; appends its lines. */
function checkRun(
    target: CrossTarget,
    variant: EmulatedVariant,
    project: string,
    work: string,
    scored: ScoredModel[],
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
    // llama-reward's AVX-512 and AVX2 kernels are in the x86-64 packages, its NEON kernel in the arm64 one: on this
    // host's CPU (or the emulated one) they must run
    const expected = expectedKernels(target, variant);
    const { f32Kernel, f16Kernel, bf16Kernel } = result.addon;
    const kernelOf: Record<WeightType, string> = { F32: f32Kernel, F16: f16Kernel, BF16: bf16Kernel };
    say(`addonInfo().f32Kernel: ${f32Kernel}, f16Kernel: ${f16Kernel}, bf16Kernel: ${bf16Kernel}`);
    for (const type of ["F32", "F16", "BF16"] as const) {
        const allowed = expected?.[type];
        if (allowed !== undefined && !allowed.includes(kernelOf[type]))
            problem(`the ${type} kernel is ${kernelOf[type]}, not ${allowed.join(" or ")}`);
    }
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
        const kernel = kernelOf[spec.type];
        const limit = variant.reportOnly && spec.type !== "F32" ? undefined : tolerance(spec.type, kernel);
        say(
            `${spec.label} parity (${kernel}): max |Δ| = ${error.toExponential(2)} over ${expected.length} conversations + score() ` +
                `(${limit === undefined ? "reported, no limit" : `limit ${limit}`}); llama-reward's kernels ran ${scoredModel.ourProducts} products`,
        );
        if (limit !== undefined && !(error <= limit)) problem(`${spec.label} parity ${error} > ${limit}`);
        // a kernel of llama-reward's named for the type must have multiplied the model's weights, and none other
        const ours = kernel !== "ggml";
        if (ours !== scoredModel.ourProducts > 0)
            problem(`${spec.label}: ${scoredModel.ourProducts} products on llama-reward's kernels, with the ${spec.type} kernel ${kernel}`);
    }
    const failedCases = result.cases.filter((c) => !c.ok);
    say(`API cases: ${result.cases.length - failedCases.length}/${result.cases.length} passed (error codes, usable after errors)`);
    for (const c of failedCases) problem(`${c.name}: ${c.detail}`);
    if (result.cases.length !== 8) problem(`expected 8 cases, got ${result.cases.length}`);
    return ok;
}

async function main(): Promise<number> {
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
    // a BF16 copy of the tiny model, and the tiny F16 model with a 4096-wide feed-forward block: its rows are longer
    // than one K chunk of the kernels, and a sum in half precision would drift further over them
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-platform-models-"));
    const scratchDirs = [scratch];
    let summaries: Summary[] = [];
    try {
        const bf16 = path.join(scratch, "tiny-reward-bf16.gguf");
        await quantize(tinyF32, bf16, "BF16");
        const wide = writeWideTinyF16();
        scratchDirs.push(wide.dir);
        const scored: ScoredModel[] = [
            ...models,
            { label: "BF16", type: "BF16", file: bf16 },
            { label: "F16, 4096-wide feed-forward", type: "F16", file: wide.file },
        ];
        const references = new Map(scored.map((m) => [m.file, loadReferenceModel(m.file)]));
        summaries = targets.map((t) => checkPlatform(t, scored, references));
    } finally {
        // kept with a failed platform's project, whose check.mjs names them
        if (summaries.length > 0 && summaries.every((s) => s.ok)) {
            for (const dir of scratchDirs) fs.rmSync(dir, { recursive: true, force: true });
        } else {
            log(`the BF16 and wide models stay in ${scratchDirs.join(" and ")}`);
        }
    }
    process.stdout.write(`\nplatform checks (${((Date.now() - started) / 1000).toFixed(0)} s in all, build and pack included):\n`);
    for (const s of summaries) {
        process.stdout.write(`${s.ok ? "PASS" : "FAIL"} ${s.tag}\n${s.lines.map((l) => `    ${l}`).join("\n")}\n`);
    }
    return summaries.every((s) => s.ok) ? 0 : 1;
}

main().then(
    (code) => {
        process.exitCode = code;
    },
    (error: unknown) => {
        log(error instanceof Error ? (error.stack ?? error.message) : String(error));
        process.exitCode = 1;
    },
);
