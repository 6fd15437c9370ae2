/**
 * Leak bounds in `npm test`: after a warm-up, RSS and V8 external memory stay
 * flat over 1000 scores on one model and over 20 load/score/dispose cycles
 * (leak-check.ts in a child process with --expose-gc; `npm run test:leaks`
 * runs thousands of scores and hundreds of cycles).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

import { describe, expect, it } from "vitest";

import { requireFile, root } from "../support/fixtures.js";

interface Phase {
    phase: "scores" | "cycles";
    rssGrowthMiB: number;
    externalGrowthKiB: number;
    lateGrowthMiB?: number;
}

describe("leaks", () => {
    it("RSS and external memory stay flat over 1000 scores and 20 load/dispose cycles", () => {
        const script = requireFile(path.join(root, "dist", "test", "hardening", "leak-check.js"));
        const r = spawnSync(process.execPath, ["--expose-gc", script, "--scores", "1000", "--cycles", "20"], {
            encoding: "utf8",
            cwd: root,
            timeout: 300_000,
        });
        expect(r.status, r.stderr).toBe(0);
        const phases = r.stdout
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as Phase);
        console.log(`leaks: ${r.stdout.trim().replaceAll("\n", " ")}`);
        const scores = phases.find((p) => p.phase === "scores")!;
        const cycles = phases.find((p) => p.phase === "cycles")!;
        // allocator warm-up settles within a few MiB (10,000 scores: +5.1 MiB, flat after the first 2,000)
        expect(scores.rssGrowthMiB).toBeLessThan(12);
        expect(scores.externalGrowthKiB).toBeLessThan(256);
        // one tiny model maps 41 MB: a leaked model or context per cycle would grow RSS between every sample
        // (glibc may step up once, by up to ~60 MiB, in the first cycles after warm-up, then stays flat)
        expect(cycles.lateGrowthMiB!).toBeLessThan(16);
        expect(cycles.rssGrowthMiB).toBeLessThan(96);
        expect(cycles.externalGrowthKiB).toBeLessThan(256);
    }, 300_000);
});
