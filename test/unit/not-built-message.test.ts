/**
 * The ERR_NATIVE_NOT_BUILT message per platform (a pure function of the
 * platform, so every platform is checked here): the platform package the
 * loader looked for, whether a prebuilt exists, and the source build's one
 * command with that platform's prerequisites (Xcode tools and Metal on macOS).
 */
import { describe, expect, it } from "vitest";
import { notBuiltMessage, sourceBuildPrerequisites } from "../../src/addon/not-built-message.js";
import { prebuiltPlatforms } from "../../src/addon/prebuilt.js";

const tried = ["local: /p/build/Release/llama_reward.node (missing)", "prebuilt: @llama-reward/x/bin/llama_reward.node (not installed)"];

describe("ERR_NATIVE_NOT_BUILT message", () => {
    it("lists every candidate tried and the one build command on every platform", () => {
        for (const [platform, arch] of [
            ["linux", "x64"],
            ["linux", "arm64"],
            ["win32", "x64"],
            ["darwin", "arm64"],
            ["darwin", "x64"],
            ["freebsd", "x64"],
        ] as const) {
            const message = notBuiltMessage(tried, platform, arch);
            for (const t of tried) expect(message).toContain(`  - ${t}\n`);
            expect(message).toContain("`npx llama-reward build`");
            expect(message).toContain("LLAMA_REWARD_ADDON_PATH");
        }
    });

    it("a platform with a prebuilt package: reinstall with optional dependencies, naming the package", () => {
        expect(prebuiltPlatforms).toEqual(expect.arrayContaining(["linux-x64", "linux-arm64", "win32-x64"]));
        for (const [platform, arch] of [
            ["linux", "x64"],
            ["linux", "arm64"],
            ["win32", "x64"],
        ] as const) {
            const message = notBuiltMessage(tried, platform, arch);
            expect(message).toContain(`without --omit=optional / --no-optional so that @llama-reward/${platform}-${arch} is installed`);
            expect(message).not.toContain("no prebuilt binary");
        }
    });

    it("macOS: no prebuilt; names the package looked for, the Xcode Command Line Tools, CMake, and Metal on arm64", () => {
        const arm = notBuiltMessage(tried, "darwin", "arm64");
        expect(arm).toContain("no prebuilt binary exists for darwin-arm64 (looked for @llama-reward/darwin-arm64)");
        expect(arm).toContain("xcode-select --install");
        expect(arm).toContain("CMake >= 3.19");
        expect(arm).toContain("with Metal compiled in");
        const intel = notBuiltMessage(tried, "darwin", "x64");
        expect(intel).toContain("(looked for @llama-reward/darwin-x64)");
        expect(intel).toContain("xcode-select --install");
        expect(intel).toContain("CPU only");
        expect(intel).not.toContain("Metal");
    });

    it("each platform family names its own compiler", () => {
        expect(sourceBuildPrerequisites("win32", "x64")).toContain("Visual Studio 2022");
        expect(sourceBuildPrerequisites("linux", "arm64")).toContain("C++17 compiler");
        expect(sourceBuildPrerequisites("darwin", "arm64")).toContain("Xcode Command Line Tools");
        expect(notBuiltMessage(tried, "freebsd", "x64")).toContain(
            "no prebuilt binary exists for freebsd-x64 (looked for @llama-reward/freebsd-x64)",
        );
    });
});
