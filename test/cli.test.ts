/**
 * The llama-reward CLI, run as a user would: score JSONL (both line shapes,
 * order kept, bad lines reported), info, and usage errors.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { RewardModel } from "../src/index.js";
import { conversations, requireFile, root, tinyF32 } from "./support/fixtures.js";

const cli = path.join(root, "dist", "src", "cli", "main.js");

function run(args: string[], input = "") {
    return spawnSync(process.execPath, [requireFile(cli), ...args], { input, encoding: "utf8", cwd: root });
}

describe("cli", () => {
    it("score reads {messages} lines and bare arrays, writes rewards in order", async () => {
        const lines = [
            JSON.stringify({ messages: conversations[0] }),
            JSON.stringify(conversations[1]),
            "",
            JSON.stringify({ messages: conversations[2] }),
        ];
        const result = run(["score", "--model", tinyF32, "--context-size", "1024"], lines.join("\n"));
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        const out = result.stdout.trim().split("\n").map((l) => JSON.parse(l) as { reward: number });
        expect(out).toHaveLength(3);
        const model = await RewardModel.load(tinyF32, { contextSize: 1024 });
        try {
            const expected = await model.scoreBatch([conversations[0]!, conversations[1]!, conversations[2]!]);
            out.forEach((o, i) => expect(Math.abs(o.reward - expected[i]!)).toBeLessThan(1e-5));
        } finally {
            await model.dispose();
        }
    });

    it("score reports bad lines in place and exits with 2", () => {
        const lines = [JSON.stringify(conversations[0]), "{not json", JSON.stringify({ messages: [] }), JSON.stringify(conversations[1])];
        const result = run(["score", "-m", tinyF32, "--chunk", "2"], lines.join("\n"));
        expect(result.status).toBe(2);
        const out = result.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(out).toHaveLength(4);
        expect(typeof out[0]!.reward).toBe("number");
        expect(out[1]!.code).toBe("ERR_INVALID_MESSAGES");
        expect(out[2]!.error).toMatch(/line 3/);
        expect(typeof out[3]!.reward).toBe("number");
    });

    it("info prints the model's metadata", () => {
        const result = run(["info", tinyF32]);
        expect(result.status).toBe(0);
        const info = JSON.parse(result.stdout) as Record<string, unknown>;
        expect(info.architecture).toBe("llama");
        expect(info.layerCount).toBe(2);
        expect(info.labels).toEqual(["LABEL_0"]);
        expect(info.fileType).toBe("F32");
    });

    it("a missing model is a one-line error with its code", () => {
        const result = run(["score", "--model", "/nonexistent.gguf"], "[]");
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/ERR_MODEL_NOT_FOUND/);
    });

    it("unknown commands print usage", () => {
        const result = run(["frobnicate"]);
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/usage: llama-reward/);
    });
});
