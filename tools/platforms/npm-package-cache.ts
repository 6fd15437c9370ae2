/**
 * npm packages for another platform (node-llama-cpp's ggml for Windows, a
 * Node.js binary for arm64 or Windows), unpacked into deps/platform-packages/
 * with `npm pack` (the npm registry only, no install, no scripts). npm would
 * not install them on this machine: their os/cpu fields do not match it.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { packageRoot } from "../../src/package-root.js";

const cacheRoot = path.join(packageRoot(), "deps", "platform-packages");

/** The folder of `<pkg>@<version>` (its package.json at the top), fetched on first use. */
export function cachedNpmPackage(pkg: string, version: string, log: (message: string) => void): string {
    const dir = path.join(cacheRoot, `${pkg.replace(/^@/, "").replace("/", "+")}@${version}`);
    const unpacked = path.join(dir, "package");
    if (fs.existsSync(path.join(unpacked, "package.json"))) return unpacked;
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    log(`fetching ${pkg}@${version} (npm pack)`);
    const pack = spawnSync("npm", ["pack", `${pkg}@${version}`, "--silent", "--pack-destination", dir], { cwd: dir, encoding: "utf8" });
    const tarball = fs.readdirSync(dir).find((f) => f.endsWith(".tgz"));
    if (pack.status !== 0 || tarball === undefined) throw new Error(`npm pack ${pkg}@${version} failed: ${pack.stderr}`);
    const untar = spawnSync("tar", ["-xzf", tarball], { cwd: dir, encoding: "utf8" });
    if (untar.status !== 0) throw new Error(`extracting ${tarball} failed: ${untar.stderr}`);
    fs.rmSync(path.join(dir, tarball));
    return unpacked;
}
