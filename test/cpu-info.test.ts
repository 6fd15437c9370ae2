/**
 * cpuInfo() and `llama-reward info` on this machine: the flags agree with
 * its own /proc/cpuinfo and the loaded backend's system line, and the CLI
 * prints the same report alone and next to a model's metadata.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseCpuinfo, parseSystemInfo } from "../src/model/cpu-features.js";
import { cpuInfo, systemInfo } from "../src/index.js";
import { requireFile, root, tinyF32 } from "./support/fixtures.js";

describe("cpuInfo", () => {
    it("cpuInfo() describes this machine as /proc/cpuinfo and the loaded backend do", () => {
        const info = cpuInfo();
        expect(info.arch).toBe(process.arch);
        expect(info.build).toEqual(parseSystemInfo(systemInfo()));
        if (process.platform === "linux") {
            expect(info.cpu).toEqual(parseCpuinfo(fs.readFileSync("/proc/cpuinfo", "utf8"), process.arch));
        }
        expect(["BF16", "Q8_0", "Q4_K_M"]).toContain(info.recommendation.fileType);
        expect(info.recommendation.reason.length).toBeGreaterThan(20);
    });

    it("`llama-reward info` prints the CPU report alone, and with a model next to its metadata", () => {
        const cli = requireFile(path.join(root, "dist", "src", "cli", "main.js"));
        const bare = spawnSync(process.execPath, [cli, "info"], { encoding: "utf8", cwd: root });
        expect(bare.status).toBe(0);
        const report = JSON.parse(bare.stdout) as { cpu: ReturnType<typeof cpuInfo> };
        expect(report.cpu).toEqual(cpuInfo());
        const withModel = spawnSync(process.execPath, [cli, "info", tinyF32], { encoding: "utf8", cwd: root });
        expect(withModel.status).toBe(0);
        const info = JSON.parse(withModel.stdout) as { fileType: string; cpu: ReturnType<typeof cpuInfo> };
        expect(info.fileType).toBe("F32");
        expect(info.cpu.recommendation).toEqual(cpuInfo().recommendation);
    });
});
