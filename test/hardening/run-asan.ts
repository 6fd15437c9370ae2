/**
 * `npm run test:asan`: runs the core native tests against an addon built
 * with AddressSanitizer, with the sanitizer runtime preloaded and
 * LLAMA_REWARD_ADDON_PATH pointing at it. Any sanitizer report fails the run.
 *
 * The addon's own sources (native/src) are compiled instrumented with the
 * flags of the regular build (read from build/cmake/build.ninja) and linked
 * against that build's libllama and ggml, which are not instrumented: heap
 * errors of our code, and allocator misuse (double free, use of freed
 * blocks through libc) anywhere, are caught; out-of-bounds reads inside
 * llama.cpp's own kernels are not. The result goes to build/asan/Release
 * (build/Release is never touched). Not in CI: it needs `npm run build:native`
 * first and takes minutes. Extra arguments replace the default test list.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

import { packageRoot } from "../../src/package-root.js";

const root = packageRoot();
const cmakeDir = path.join(root, "build", "cmake");
const out = path.join(root, "build", "asan");
const release = path.join(out, "Release");

const defaultTests = [
    "test/errors.test.ts",
    "test/scoring-batch.test.ts",
    "test/tokenizer-template.test.ts",
    "test/fuzz/gguf-regressions.test.ts",
    "test/fuzz/text-fuzz.test.ts",
    "test/fuzz/gguf-fuzz.test.ts",
    "test/hardening/storms.test.ts",
    "test/hardening/concurrency.test.ts",
    "test/hardening/workers.test.ts",
];

/** The variables of the ninja build statement whose first line matches `header`. */
function ninjaBlock(ninja: string, header: RegExp): Map<string, string> {
    const lines = ninja.split("\n");
    const at = lines.findIndex((l) => header.test(l));
    if (at < 0) throw new Error(`build/cmake/build.ninja has no ${header}; run \`npm run build:native\` first`);
    const vars = new Map<string, string>();
    for (let i = at + 1; i < lines.length && lines[i]!.startsWith("  "); i++) {
        const m = /^\s+(\w+) = (.*)$/.exec(lines[i]!);
        if (m) vars.set(m[1]!, m[2]!);
    }
    return vars;
}

function words(s: string | undefined): string[] {
    return (s ?? "")
        .split(/\s+/)
        .filter((w) => w !== "")
        .map((w) => w.replaceAll('"\\$$ORIGIN"', "$ORIGIN"));
}

async function parallel(commands: string[][], jobs: number): Promise<void> {
    const queue = [...commands];
    const worker = async (): Promise<void> => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
            const [cmd, ...args] = c;
            const code = await new Promise<number>((resolve) => {
                spawn(cmd!, args, { stdio: "inherit", cwd: cmakeDir }).on("exit", (status) => resolve(status ?? 1));
            });
            if (code !== 0) throw new Error(`failed: ${c.join(" ")}`);
        }
    };
    await Promise.all(Array.from({ length: jobs }, worker));
}

const ninja = fs.readFileSync(path.join(cmakeDir, "build.ninja"), "utf8");
const compile = ninjaBlock(ninja, /^build CMakeFiles\/llama_reward\.dir\/native\/src\/addon\.cpp\.o:/);
const link = ninjaBlock(ninja, /^build \S*llama_reward\.node:/);
const cxx = /CMAKE_CXX_COMPILER:\w+=(.*)/.exec(fs.readFileSync(path.join(cmakeDir, "CMakeCache.txt"), "utf8"))?.[1] ?? "c++";
const asan = ["-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O1"];
const flags = words(compile.get("FLAGS")).filter((f) => !/^-O\d$/.test(f));
fs.mkdirSync(path.join(out, "obj"), { recursive: true });
fs.mkdirSync(release, { recursive: true });
const sources = fs.readdirSync(path.join(root, "native", "src")).filter((f) => f.endsWith(".cpp"));
const objects = sources.map((f) => path.join(out, "obj", `${f}.o`));
console.log(`test:asan: compiling ${sources.length} addon sources with ${asan.join(" ")}`);
await parallel(
    sources.map((f, i) => [
        cxx,
        ...words(compile.get("DEFINES")),
        ...words(compile.get("INCLUDES")),
        ...flags,
        ...asan,
        "-c",
        path.join(root, "native", "src", f),
        "-o",
        objects[i]!,
    ]),
    Number(process.env.LLAMA_REWARD_JOBS ?? 2),
);
const addon = path.join(release, "llama_reward.node");
await parallel(
    [
        [
            cxx,
            "-shared",
            "-fPIC",
            ...asan,
            "-o",
            addon,
            ...objects,
            ...words(link.get("LINK_LIBRARIES")).map((w) => (w.startsWith("-") || path.isAbsolute(w) ? w : path.join(cmakeDir, w))),
            "-fopenmp",
            "-Wl,-rpath,$ORIGIN",
        ],
    ],
    1,
);
// the prebuilt ggml libraries (and CPU backend variants) the addon loads from its own directory
for (const f of fs.readdirSync(path.join(root, "build", "Release"))) {
    if (f === "llama_reward.node") continue;
    const to = path.join(release, f);
    fs.rmSync(to, { force: true });
    fs.symlinkSync(path.join(root, "build", "Release", f), to);
}

const runtime = spawnSync(cxx, ["-print-file-name=libasan.so"], { encoding: "utf8" }).stdout.trim();
if (!runtime.startsWith("/")) throw new Error("cannot find libasan.so");
const log = path.join(out, "asan-report");
for (const f of fs.readdirSync(out)) if (f.startsWith("asan-report")) fs.rmSync(path.join(out, f));
const env = {
    ...process.env,
    LD_PRELOAD: runtime,
    LLAMA_REWARD_ADDON_PATH: addon,
    // node and V8 keep memory until exit by design: leaks are measured by leak-check.ts instead
    ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:log_path=${log}:detect_odr_violation=0:alloc_dealloc_mismatch=0`,
    FUZZ_CASES: process.env.FUZZ_CASES ?? "120",
};
const tests = process.argv.slice(2).length > 0 ? process.argv.slice(2) : defaultTests;
console.log(`test:asan: ${tests.length} test files against ${path.relative(root, addon)}`);
const status =
    spawnSync(process.execPath, [path.join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--project", "native", ...tests], {
        stdio: "inherit",
        cwd: root,
        env,
    }).status ?? 1;
const reports = fs.readdirSync(out).filter((f) => f.startsWith("asan-report"));
for (const r of reports) console.log(`\n==== ${r} ====\n${fs.readFileSync(path.join(out, r), "utf8")}`);
console.log(`test:asan: tests exited with ${status}; ${reports.length} sanitizer report(s)`);
process.exit(status === 0 && reports.length === 0 ? 0 : 1);
