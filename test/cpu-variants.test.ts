/**
 * The ggml CPU variants beside the addon of an x86-64 Linux prebuilt-ggml
 * build (tools/build/cpu-variants.ts): compiled by our build, not copied
 * from node-llama-cpp, whose GCC 11.4 build keeps tinyBLAS's accumulators on
 * the stack. Checked three ways: the metadata file and each file's SHA-256,
 * the compiler each library's ELF `.comment` names, and the machine code of
 * the F32/F16/BF16 tinyBLAS inner loops (no vector register stored to the
 * stack; the same check finds the stores in node-llama-cpp's libraries).
 * Also: addonInfo() names the variant ggml loaded and who built it, the
 * variants need only symbols node-llama-cpp's libggml-base.so exports, ggml's
 * AMX int8 kernel in our sapphirerapids variant runs (GCC 12 once compiled
 * its tile configuration away: SIGILL) and scores Q8_0 as node-llama-cpp's
 * does, no variant calls __tls_get_addr (they are compiled with TLS
 * descriptors), and
 * every shipped library stays within the glibc / libstdc++ floor of
 * docs/installing.md. Skipped off x86-64 Linux or in a build without prebuilt
 * ggml; LLAMA_REWARD_CPU_VARIANTS=prebuilt skips the "our build" checks.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readCpuVariantsMetadata } from "../src/addon/cpu-backend.js";
import { addonInfo, cpuInfo, quantize } from "../src/index.js";
import { compilerOf, elfComments } from "../tools/build/elf-comment.js";
import { cpuVariantNames, foreignGgmlNeeds, missingBaseSymbols, neededLibraries } from "../tools/build/cpu-variants.js";
import { findPrebuiltGgml, ggmlRuntimeFiles } from "../tools/build/prebuilt-ggml.js";
import { conversations, requireFile, root, tinyF32 } from "./support/fixtures.js";
import { tinyBlasLoops } from "./support/tinyblas-disassembly.js";

const release = path.join(root, "build", "Release");
const x86Linux = process.platform === "linux" && process.arch === "x64";
const dynamic = x86Linux && fs.readdirSync(release).some((f) => f.startsWith("libggml-cpu-"));
const ours = dynamic && process.env.LLAMA_REWARD_CPU_VARIANTS !== "prebuilt";
const nlc = findPrebuiltGgml();
const variantFiles = dynamic ? fs.readdirSync(release).filter((f) => /^libggml-cpu-.*\.so$/.test(f)) : [];

/** Calls to __tls_get_addr in `file`'s machine code: each is a thread-local access of the default TLS dialect. */
function tlsGetAddrCalls(file: string): number {
    const code = execFileSync("objdump", ["-d", "--no-show-raw-insn", file], { encoding: "utf8", maxBuffer: 1 << 30 });
    return code.split("\n").filter((l) => /\bcall\b.*<__tls_get_addr/.test(l)).length;
}

/** The highest version of `prefix` (GLIBC_, GLIBCXX_) among the dynamic symbols `file` needs. */
function highestVersion(file: string, prefix: string): number[] {
    const table = execFileSync("objdump", ["-T", file], { encoding: "utf8", maxBuffer: 64 << 20 });
    const versions = [...table.matchAll(new RegExp(`\\b${prefix}([0-9.]+)\\b`, "g"))].map((m) => m[1]!.split(".").map(Number));
    const cmp = (a: number[], b: number[]) => {
        for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
        return 0;
    };
    return versions.sort(cmp).at(-1) ?? [];
}

function atMost(version: number[], limit: number[]): boolean {
    for (let i = 0; i < Math.max(version.length, limit.length); i++) {
        if ((version[i] ?? 0) !== (limit[i] ?? 0)) return (version[i] ?? 0) < (limit[i] ?? 0);
    }
    return true;
}

describe.skipIf(!ours)("ggml CPU variants compiled by our build", () => {
    it("are the files the metadata describes, the same set as node-llama-cpp's, built by this machine's compiler", () => {
        const metadata = readCpuVariantsMetadata(release);
        expect(metadata?.builtBy).toBe("llama-reward");
        expect(Object.keys(metadata!.files).sort()).toEqual([...variantFiles].sort());
        if (nlc !== undefined) expect(cpuVariantNames(variantFiles)).toEqual(cpuVariantNames(ggmlRuntimeFiles(nlc.dir)));
        const version = execFileSync(process.env.CXX ?? "c++", ["-dumpfullversion"], { encoding: "utf8" }).trim();
        expect(metadata!.compiler).toContain(version);
        for (const f of variantFiles) {
            const file = path.join(release, f);
            expect(createHash("sha256").update(fs.readFileSync(file)).digest("hex"), f).toBe(metadata!.files[f]);
            expect(compilerOf(elfComments(file)), f).toBe(metadata!.compiler);
        }
    });

    it("addonInfo() names the variant ggml loaded for this CPU and our build as its builder", () => {
        const { cpuBackend } = addonInfo();
        expect(cpuBackend).not.toBeNull();
        expect(variantFiles).toContain(cpuBackend!.library);
        expect(cpuBackend!.builtBy).toBe("llama-reward");
        expect(cpuBackend!.compiler).toBe(readCpuVariantsMetadata(release)!.compiler);
    });

    it("ask for node-llama-cpp's libggml-base.so by its name and need only symbols it exports", () => {
        if (nlc === undefined) return expect.fail("the prebuilt-ggml build needs node-llama-cpp's ggml package installed");
        const base = path.join(nlc.dir, "libggml-base.so");
        for (const f of variantFiles) expect(neededLibraries(path.join(release, f)), f).toContain("libggml-base.so");
        expect(
            foreignGgmlNeeds(
                variantFiles.map((f) => path.join(release, f)),
                base,
            ),
        ).toEqual([]);
        expect(
            missingBaseSymbols(
                variantFiles.map((f) => path.join(release, f)),
                base,
            ),
        ).toEqual([]);
        // the check itself sees missing symbols: a variant defines none of the ggml_* functions it needs
        const variant = path.join(release, "libggml-cpu-x64.so");
        expect(missingBaseSymbols([variant], variant)).toContain("ggml_abort");
    });

    it("keep the tinyBLAS F32, F16 and BF16 accumulators in registers (no vector stores to the stack in the inner loop)", () => {
        let checked = 0;
        for (const f of variantFiles) {
            for (const loop of tinyBlasLoops(path.join(release, f))) {
                expect(loop.multiplies, `${f} ${loop.type}`).toBeGreaterThanOrEqual(loop.accumulators);
                // without FMA (sandybridge, ivybridge) the 12 accumulators, 3 + 1 operands and a product need 17 of
                // the 16 registers: one spill is the register file's, not the compiler's
                expect(loop.stackStores, `${f} ${loop.type}: ${loop.kernel}`).toBeLessThanOrEqual(loop.fused ? 0 : 1);
                checked++;
            }
        }
        // F32 from sandybridge up, F16 from ivybridge up, BF16 from haswell up (x64 and sse42 have no tinyBLAS)
        expect(checked).toBe(32);
    });

    it("reach thread-local variables through TLS descriptors (no __tls_get_addr call; AMX int8 reads its tiles so)", () => {
        for (const f of variantFiles) expect(tlsGetAddrCalls(path.join(release, f)), f).toBe(0);
        // the check finds the calls where the default dialect compiled them: node-llama-cpp's AMX variant
        if (nlc !== undefined) expect(tlsGetAddrCalls(path.join(nlc.dir, "libggml-cpu-sapphirerapids.so"))).toBeGreaterThan(0);
    });

    it.skipIf(nlc === undefined || cpuInfo().cpu.amxInt8 !== true)(
        "run ggml's AMX int8 kernel (Q8_0) without dying, with the rewards of node-llama-cpp's variants",
        async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-amx-int8-"));
            try {
                const q8 = path.join(dir, "tiny-q8_0.gguf");
                await quantize(requireFile(tinyF32), q8, "Q8_0");
                // node-llama-cpp's variants beside a copy of the same addon
                const theirs = path.join(dir, "theirs");
                fs.mkdirSync(theirs);
                for (const f of fs.readdirSync(release)) {
                    if (f.endsWith(".node") || f === "libggml-base.so" || /^libggml\.[a-z0-9.]*so$/.test(f)) {
                        fs.copyFileSync(path.join(release, f), path.join(theirs, f));
                    }
                }
                for (const f of ggmlRuntimeFiles(nlc!.dir).filter((f) => f.startsWith("libggml-cpu-"))) {
                    fs.copyFileSync(path.join(nlc!.dir, f), path.join(theirs, f));
                }
                const score = (addonDir: string) => {
                    const script = `
                        import { RewardModel, addonInfo } from ${JSON.stringify(path.join(root, "dist", "src", "index.js"))};
                        const model = await RewardModel.load(${JSON.stringify(q8)}, { gpu: false });
                        const rewards = await model.scoreBatch(JSON.parse(process.argv[1]));
                        await model.dispose();
                        process.stdout.write(JSON.stringify({ rewards, backend: addonInfo().cpuBackend }));
                    `;
                    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(conversations)], {
                        encoding: "utf8",
                        env: { ...process.env, LLAMA_REWARD_ADDON_PATH: path.join(addonDir, "llama_reward.node") },
                    });
                    expect(child.signal, child.stderr).toBeNull();
                    expect(child.status, child.stderr).toBe(0);
                    return JSON.parse(child.stdout) as { rewards: number[]; backend: { library: string } };
                };
                const ours = score(release);
                const reference = score(theirs);
                expect(ours.backend.library).toBe("libggml-cpu-sapphirerapids.so");
                for (const [i, r] of ours.rewards.entries()) expect(Math.abs(r - reference.rewards[i]!)).toBeLessThanOrEqual(1e-4);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
        120_000,
    );

    it.skipIf(nlc === undefined)("the same disassembly check finds the accumulator stores in node-llama-cpp's GCC 11.4 libraries", () => {
        const loops = tinyBlasLoops(path.join(nlc!.dir, "libggml-cpu-zen4.so"));
        expect(loops.map((l) => l.type)).toEqual(["BF16", "F16", "F32"]);
        for (const loop of loops) expect(loop.stackStores, loop.type).toBe(loop.accumulators);
    });
});

describe.skipIf(!dynamic)("the libraries beside the addon", () => {
    it("need at most glibc 2.34 and the libstdc++ of GCC 12 (GLIBCXX_3.4.30), as docs/installing.md promises", () => {
        const files = fs.readdirSync(release).filter((f) => f.endsWith(".so") || f.endsWith(".node"));
        expect(files.length).toBeGreaterThan(10);
        for (const f of files) {
            const file = path.join(release, f);
            expect(atMost(highestVersion(file, "GLIBC_"), [2, 34]), `${f} GLIBC_${highestVersion(file, "GLIBC_").join(".")}`).toBe(true);
            expect(atMost(highestVersion(file, "GLIBCXX_"), [3, 4, 30]), `${f} GLIBCXX_${highestVersion(file, "GLIBCXX_").join(".")}`).toBe(
                true,
            );
        }
    });
});
