/**
 * `npm run test:asan`: builds the addon and llama.cpp with AddressSanitizer
 * into build/asan/ (a CMake tree of its own: build/Release is never
 * touched), then runs the core native tests with the sanitizer runtime
 * preloaded and LLAMA_REWARD_ADDON_PATH pointing at the instrumented addon.
 * Any report makes the run fail. Slow (a full llama.cpp build): not in CI.
 * Extra arguments replace the default test list.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";

import { llamaCppDir, packageRoot } from "../../src/package-root.js";

const root = packageRoot();
const out = path.join(root, "build", "asan");
const source = path.join(out, "src");
const require = createRequire(import.meta.url);

const defaultTests = [
    "test/errors.test.ts", "test/scoring-batch.test.ts", "test/tokenizer-template.test.ts",
    "test/fuzz/gguf-regressions.test.ts", "test/fuzz/text-fuzz.test.ts", "test/fuzz/gguf-fuzz.test.ts",
    "test/hardening/storms.test.ts", "test/hardening/workers.test.ts",
];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
    console.log(`$ ${cmd} ${args.join(" ")}`);
    const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, env });
    return r.status ?? 1;
}

// A source tree whose CMakeLists.txt writes the addon under build/asan/src/build/Release.
fs.mkdirSync(source, { recursive: true });
fs.copyFileSync(path.join(root, "CMakeLists.txt"), path.join(source, "CMakeLists.txt"));
// package.json (napi_versions: cmake-js then uses node-api-headers instead of downloading node's) and node_modules
fs.copyFileSync(path.join(root, "package.json"), path.join(source, "package.json"));
for (const dir of ["native", "node_modules"]) {
    const link = path.join(source, dir);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(root, dir), link);
}

const flags = "-fsanitize=address -fno-omit-frame-pointer -g -O1";
const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
const common = ["-d", source, "--out", path.join(out, "cmake"), "--config", "Release",
    `--CDLLAMA_REWARD_LLAMA_DIR=${llamaCppDir()}`, "--CDLLAMA_REWARD_GGML_DIR=", "--CDGGML_NATIVE=ON",
    `--CDCMAKE_C_FLAGS=${flags}`, `--CDCMAKE_CXX_FLAGS=${flags}`, "--CDCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address"];
const jobs = process.env.LLAMA_REWARD_JOBS ?? "2";
if (run(process.execPath, [cmakeJs, "configure", ...common]) !== 0) process.exit(1);
if (run(process.execPath, [cmakeJs, "build", ...common, "--parallel", jobs, "--target", "llama_reward"]) !== 0) process.exit(1);
const addon = path.join(source, "build", "Release", "llama_reward.node");
if (!fs.existsSync(addon)) throw new Error(`${addon} was not built`);

const runtime = spawnSync("gcc", ["-print-file-name=libasan.so"], { encoding: "utf8" }).stdout.trim();
if (!runtime.startsWith("/")) throw new Error("cannot find libasan.so (gcc -print-file-name=libasan.so)");
const log = path.join(out, "asan-report");
for (const f of fs.readdirSync(out)) if (f.startsWith("asan-report")) fs.rmSync(path.join(out, f));
const env = {
    ...process.env,
    LD_PRELOAD: runtime,
    LLAMA_REWARD_ADDON_PATH: addon,
    // node and V8 keep memory until exit by design: leaks are measured by leak-check.ts instead
    ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=${log}:detect_odr_violation=0`,
    FUZZ_CASES: process.env.FUZZ_CASES ?? "120",
};
const tests = process.argv.slice(2).length > 0 ? process.argv.slice(2) : defaultTests;
const status = run(process.execPath, [path.join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--project", "native", ...tests], env);
const reports = fs.readdirSync(out).filter((f) => f.startsWith("asan-report"));
for (const r of reports) console.log(`\n==== ${r} ====\n${fs.readFileSync(path.join(out, r), "utf8")}`);
console.log(`test:asan: tests exited with ${status}; ${reports.length} sanitizer report(s)`);
process.exit(status === 0 && reports.length === 0 ? 0 : 1);
