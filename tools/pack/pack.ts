/**
 * `npm run pack`: writes into dist-pack/ every tarball a user installs, from
 * clean staging folders (no stale build output, no tests):
 * - llama-reward-<version>.tgz: compiled JavaScript, the native sources and
 *   build files for the source-build fallback; the platform package below as
 *   an optionalDependency.
 * - llama-reward-linux-x64-<version>.tgz (@llama-reward/linux-x64): the
 *   addon built on prebuilt ggml (build/Release, see tools/build) and the
 *   ggml libraries beside it, with the CPU variants the build compiled and
 *   ggml-cpu-variants.json saying so (checked against the files). Just
 *   files: no install script.
 * - llama-reward-linux-arm64-<version>.tgz, llama-reward-win32-x64-<version>.tgz:
 *   the same, cross-built on linux-x64 (tools/platforms/cross-build.ts, run
 *   again here, incrementally), each only where its cross compiler is installed.
 * Prints each tarball with its packed and unpacked size. `--addon-dir DIR`
 * takes the addon and its libraries from DIR instead of build/Release;
 * `--cross linux-arm64,win32-x64` limits the cross-built packages to those.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { packageRoot } from "../../src/package-root.js";
import { addonFileName, platformPackageName, platformTag, prebuiltAddonDir, prebuiltPlatforms } from "../../src/addon/prebuilt.js";
import { createHash } from "node:crypto";
import { type CpuVariantsMetadata, cpuVariantsMetadataFile, readCpuVariantsMetadata } from "../../src/addon/cpu-backend.js";
import { cpuVariantFiles } from "../build/cpu-variants.js";
import { builtBackendLibraries, findPrebuiltGgml, ggmlRuntimeFiles } from "../build/prebuilt-ggml.js";
import { crossBuild, hasProgram } from "../platforms/cross-build.js";
import { type CrossTarget, crossTargets } from "../platforms/targets.js";

const root = packageRoot();
const outDir = path.join(root, "dist-pack");
const stageDir = path.join(outDir, ".stage");

interface Manifest {
    name: string;
    version: string;
    description: string;
    license: string;
    scripts: Record<string, string>;
    devDependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    [key: string]: unknown;
}

function log(message: string): void {
    process.stderr.write(`llama-reward pack: ${message}\n`);
}

function run(command: string, args: string[], cwd: string): string {
    const result = spawnSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status ?? result.error?.message})`);
    return result.stdout;
}

function copy(from: string, to: string): void {
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.cpSync(from, to, { recursive: true });
}

function dirSize(dir: string): number {
    let total = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
        if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
    }
    return total;
}

function npmPack(dir: string): string {
    // --ignore-scripts: the stage holds built output already; lifecycle scripts would rebuild the repository
    const out = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", outDir], dir);
    const [info] = JSON.parse(out) as { filename: string; size: number; unpackedSize: number }[];
    if (info === undefined) throw new Error(`npm pack in ${dir} reported nothing`);
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    log(`${path.join("dist-pack", info.filename)}: ${mib(info.size)} packed, ${mib(info.unpackedSize)} unpacked`);
    return path.join(outDir, info.filename);
}

/** The main package: package.json without dev-only parts, compiled JS, native sources and build files. */
function stageMain(manifest: Manifest): string {
    const dir = path.join(stageDir, "llama-reward");
    log("compiling the TypeScript shipped in the package (tsconfig.pack.json)");
    run(
        process.execPath,
        [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.pack.json", "--outDir", path.join(dir, "dist")],
        root,
    );
    const { devDependencies: _dev, ...rest } = manifest;
    const published: Manifest = {
        ...rest,
        // only the install hook ships; the rest of the scripts build the repository
        scripts: { install: manifest.scripts.install ?? "node tools/install.mjs" },
    };
    fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify(published, null, 2)}\n`);
    for (const f of ["README.md", "LICENSE", "CMakeLists.txt", "binding.gyp", "tools/install.mjs", "native"]) {
        if (fs.existsSync(path.join(root, f))) copy(path.join(root, f), path.join(dir, f));
    }
    return dir;
}

/** The prebuilt platform package: the addon built on prebuilt ggml and the ggml libraries it loads. */
function stagePlatform(manifest: Manifest, built: string): string {
    const addon = path.join(built, addonFileName);
    const ggml = findPrebuiltGgml();
    if (!fs.existsSync(addon) || ggml === undefined) {
        throw new Error(`${addon} or the prebuilt ggml package is missing: run \`npm run build:native\` (prebuilt ggml) first`);
    }
    const libraries = [...ggmlRuntimeFiles(ggml.dir), ...builtBackendLibraries];
    const missing = libraries.filter((f) => !fs.existsSync(path.join(built, f)));
    if (missing.length > 0) {
        throw new Error(`build/Release is a source build (no ${missing[0]}); rebuild with LLAMA_REWARD_GGML=prebuilt npm run build:native`);
    }
    const cpuVariants = checkedCpuVariants(built, libraries, "npm run build:native");
    log(
        `CPU variants: ${cpuVariants.builtBy === "llama-reward" ? "compiled by our build" : `${ggml.pkg}'s`}, ` +
            `${Object.keys(cpuVariants.files).length} files, ${cpuVariants.compiler ?? "compiler not recorded"}`,
    );
    return writePlatformStage(manifest, {
        platform: process.platform,
        arch: process.arch,
        libc: process.platform === "linux" ? "glibc" : undefined,
        built,
        libraries: [...libraries, cpuVariantsMetadataFile],
        ggml,
        cpuVariants,
        backends: "CPU variants chosen at run time, Vulkan, RPC",
    });
}

/** The metadata of the CPU variants in `built`, checked file by file against what the build recorded; `rebuild` is the command that rewrites both. */
function checkedCpuVariants(built: string, libraries: string[], rebuild: string): CpuVariantsMetadata {
    const metadata = readCpuVariantsMetadata(built);
    if (metadata === undefined) throw new Error(`${built} has no ${cpuVariantsMetadataFile}: run \`${rebuild}\` first`);
    for (const file of cpuVariantFiles(libraries)) {
        const digest = createHash("sha256")
            .update(fs.readFileSync(path.join(built, file)))
            .digest("hex");
        if (metadata.files[file] !== digest) {
            throw new Error(`${path.join(built, file)} is not the file ${cpuVariantsMetadataFile} describes: run \`${rebuild}\` again`);
        }
    }
    return metadata;
}

/** A cross-built platform package (tools/platforms/cross-build.ts): built again first, incrementally. */
function stageCrossPlatform(manifest: Manifest, target: CrossTarget): string {
    const { outDir, ggml } = crossBuild(target);
    const libraries = target.runtimeFiles(ggml.dir);
    return writePlatformStage(manifest, {
        platform: target.platform,
        arch: target.arch,
        libc: target.libc,
        built: outDir,
        libraries: [...libraries, cpuVariantsMetadataFile],
        ggml,
        cpuVariants: checkedCpuVariants(outDir, libraries, `node dist/tools/platforms/cross-build.js ${target.tag}`),
        backends: "CPU variants chosen at run time",
    });
}

interface PlatformFiles {
    platform: string;
    arch: string;
    libc: string | undefined;
    /** Folder holding the addon and `libraries`. */
    built: string;
    libraries: string[];
    ggml: { pkg: string; version: string; dir: string };
    /** Whose CPU variants ship, as ggml-cpu-variants.json beside them records it. */
    cpuVariants: CpuVariantsMetadata;
    /** What the ggml libraries provide, for the description. */
    backends: string;
}

/** Stages @llama-reward/<platform>-<arch>: bin/ (addon + ggml libraries), package.json, README, licenses. */
function writePlatformStage(manifest: Manifest, files: PlatformFiles): string {
    const tag = platformTag(files.platform, files.arch);
    const name = platformPackageName(files.platform, files.arch);
    const { ggml } = files;
    const ownVariants = files.cpuVariants.builtBy === "llama-reward";
    const dir = path.join(stageDir, tag);
    const bin = path.join(dir, prebuiltAddonDir);
    fs.mkdirSync(bin, { recursive: true });
    for (const f of [addonFileName, ...files.libraries]) fs.copyFileSync(path.join(files.built, f), path.join(bin, f));
    const platformManifest = {
        name,
        version: manifest.version,
        description:
            `Prebuilt native addon of llama-reward for ${tag}: llama-reward's patched llama.cpp, ` +
            `with ggml ${ggml.version} libraries from ${ggml.pkg}` +
            `${ownVariants ? " and ggml CPU variants compiled by llama-reward's build" : ""} (${files.backends})`,
        license: "MIT",
        os: [files.platform],
        cpu: [files.arch],
        ...(files.libc !== undefined ? { libc: [files.libc] } : {}),
        files: [prebuiltAddonDir, "LICENSE", "THIRD-PARTY-NOTICES.md"],
        preferUnplugged: true,
    };
    fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify(platformManifest, null, 2)}\n`);
    fs.writeFileSync(
        path.join(dir, "README.md"),
        `# ${name}\n\nThe ${tag} binaries of [llama-reward](https://www.npmjs.com/package/llama-reward). ` +
            "Do not install it directly: llama-reward lists it as an optional dependency.\n",
    );
    if (fs.existsSync(path.join(root, "LICENSE"))) fs.copyFileSync(path.join(root, "LICENSE"), path.join(dir, "LICENSE"));
    const llamaLicense = fs.readFileSync(path.join(root, "deps", "llama.cpp", "LICENSE"), "utf8");
    const nlcLicense = fs.readFileSync(path.join(ggml.dir, "..", "..", "LICENSE"), "utf8");
    const ggmlFiles = files.platform === "win32" ? "`bin/ggml*.dll`" : "`bin/libggml*.so`";
    const origin = ownVariants
        ? `The \`bin/libggml-cpu-*.so\` files are ggml's CPU backend compiled by llama-reward's build from the ggml ` +
          `sources of the same llama.cpp release (${files.cpuVariants.compiler}), with one change of llama-reward's ` +
          `(a faster test for masked-out flash-attention tiles, native/patches/0016-flash-attention-skip-masked-tiles.patch); ` +
          `the other ${ggmlFiles} files are copied ` +
          `unchanged from ${ggml.pkg}@${ggml.version} (node-llama-cpp's build of ggml from that release).`
        : `The ${ggmlFiles} files are copied unchanged from ${ggml.pkg}@${ggml.version} (node-llama-cpp's build of ggml ` +
          `from the same llama.cpp release).`;
    fs.writeFileSync(
        path.join(dir, "THIRD-PARTY-NOTICES.md"),
        `# Third-party notices\n\n` +
            `\`bin/${addonFileName}\` contains llama.cpp (patched). ${origin}\n\n` +
            `## llama.cpp and ggml\n\n\`\`\`\n${llamaLicense.trim()}\n\`\`\`\n\n## node-llama-cpp\n\n\`\`\`\n${nlcLicense.trim()}\n\`\`\`\n`,
    );
    log(`${name} stage: ${(dirSize(dir) / 2 ** 20).toFixed(1)} MiB`);
    return dir;
}

function main(): void {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as Manifest;
    fs.rmSync(stageDir, { recursive: true, force: true });
    fs.mkdirSync(outDir, { recursive: true });
    const crossAt = process.argv.indexOf("--cross");
    const only = crossAt > 0 ? (process.argv[crossAt + 1] ?? "").split(",") : undefined;
    const cross = crossTargets.filter((t) => only === undefined || only.includes(t.tag));
    // the tarballs of cross targets left out by --cross stay (tools/platforms/platform-check.ts packs one at a time)
    const kept = crossTargets.filter((t) => !cross.includes(t)).map((t) => `llama-reward-${t.tag}-`);
    for (const f of fs.readdirSync(outDir)) {
        if (f.endsWith(".tgz") && !kept.some((prefix) => f.startsWith(prefix))) fs.rmSync(path.join(outDir, f));
    }
    const tarballs = [npmPack(stageMain(manifest))];
    if (prebuiltPlatforms.includes(platformTag())) {
        const at = process.argv.indexOf("--addon-dir");
        const built =
            at > 0 && process.argv[at + 1] !== undefined ? path.resolve(process.argv[at + 1]!) : path.join(root, "build", "Release");
        tarballs.push(npmPack(stagePlatform(manifest, built)));
    } else {
        log(`no prebuilt package for ${platformTag()} is built here: the main tarball builds from source at install`);
    }
    if (platformTag() === "linux-x64") {
        for (const target of cross) {
            if (!hasProgram(target.compiler)) {
                log(
                    `${platformPackageName(target.platform, target.arch)}: skipped, ${target.compiler} is not installed (${target.buildPackages.join(" ")})`,
                );
                continue;
            }
            tarballs.push(npmPack(stageCrossPlatform(manifest, target)));
        }
    }
    fs.rmSync(stageDir, { recursive: true, force: true });
    process.stdout.write(`${tarballs.join("\n")}\n`);
}

main();
