/**
 * The text of ERR_NATIVE_NOT_BUILT, as a pure function of what the loader
 * tried and the platform: which prebuilt package it looked for, and the one
 * command and the prerequisites of a source build on that platform.
 */
import { platformPackageName, platformTag, prebuiltPlatforms } from "./prebuilt.js";

/** What a source build (`npx llama-reward build`) needs on a platform, in words. */
export function sourceBuildPrerequisites(platform: string, arch: string): string {
    if (platform === "darwin") {
        const backend = arch === "arm64" ? "with Metal compiled in" : "CPU only";
        return `the Xcode Command Line Tools (\`xcode-select --install\`: clang and git), CMake >= 3.19 (\`brew install cmake\`); builds ${backend}`;
    }
    if (platform === "win32") {
        return 'git, CMake >= 3.19 and Visual Studio 2022 (or its Build Tools) with "Desktop development with C++"';
    }
    return "git, CMake >= 3.19 and a C++17 compiler (GCC >= 9 or Clang)";
}

/** The ERR_NATIVE_NOT_BUILT message: the candidates tried (one line each), then what to do on this platform. */
export function notBuiltMessage(tried: readonly string[], platform: string = process.platform, arch: string = process.arch): string {
    const tag = platformTag(platform, arch);
    const pkg = platformPackageName(platform, arch);
    const prebuiltNote = prebuiltPlatforms.includes(tag)
        ? `  - reinstall llama-reward without --omit=optional / --no-optional so that ${pkg} is installed`
        : `  - no prebuilt binary exists for ${tag} (looked for ${pkg}); build from source (below)`;
    return (
        `the llama-reward native addon could not be loaded. Tried:\n${tried.map((t) => `  - ${t}`).join("\n")}\n` +
        "Possible solutions:\n" +
        `${prebuiltNote}\n` +
        `  - build it from source: \`npx llama-reward build\` (needs ${sourceBuildPrerequisites(platform, arch)}; ` +
        "or install with LLAMA_REWARD_BUILD_FROM_SOURCE=1 / `npm install --build-from-source` and allow llama-reward's install script)\n" +
        "  - or point LLAMA_REWARD_ADDON_PATH at a built llama_reward.node"
    );
}
