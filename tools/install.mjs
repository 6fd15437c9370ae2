// llama-reward's npm `install` hook. Plain JavaScript because it runs before
// anything is compiled: in the repository (no dist/ yet) it does nothing and
// the `prepare` script builds everything after `npm install`; installed as a
// dependency it runs the compiled dist/tools/build/install.js, which keeps a
// prebuilt addon that loads and builds from source otherwise.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const compiled = path.join(root, "dist", "tools", "build", "install.js");
const inRepository = fs.existsSync(path.join(root, "tsconfig.json")) && fs.existsSync(path.join(root, "test"));

if (!inRepository && fs.existsSync(compiled)) {
    const { spawnSync } = await import("node:child_process");
    const result = spawnSync(process.execPath, [compiled], { stdio: "inherit" });
    process.exitCode = result.status ?? 1;
} else if (!inRepository) {
    process.stderr.write(
        `llama-reward install: ${pathToFileURL(compiled).href} is missing; the package was packed without its compiled JavaScript\n`,
    );
    process.exitCode = 1;
}
