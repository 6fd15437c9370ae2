/**
 * The llama-reward CLI, run as a user would: score JSONL (both line shapes,
 * order kept, bad lines reported), info, and usage errors; and as a module:
 * importing it runs nothing, and `score` renders each conversation once.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { ChatTemplate } from "../src/model/chat-template.js";
import { main } from "../src/cli/main.js";
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
        const out = result.stdout
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as { reward: number });
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
        const out = result.stdout
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(out).toHaveLength(4);
        expect(typeof out[0]!.reward).toBe("number");
        expect(out[1]!.code).toBe("ERR_INVALID_MESSAGES");
        expect(out[1]!.error).toBe("line 2: not valid JSON");
        expect(out[2]!.error).toMatch(/^line 3: /);
        expect(out[2]!.error).not.toMatch(/line 3.*line 3/);
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
        // The CLI loads with a small context to be quick; that is not the model's, so it is not printed.
        expect(info).not.toHaveProperty("contextSize");
        expect(info.trainContextLength).toBe(2048);
    });

    it("a missing model is a one-line error with its code", () => {
        const result = run(["score", "--model", "/nonexistent.gguf"], "[]");
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/ERR_MODEL_NOT_FOUND/);
    });

    it("importing the module runs nothing; npm's bin link to it runs the CLI", () => {
        const imported = spawnSync(
            process.execPath,
            ["--input-type=module", "-e", `await import(${JSON.stringify(requireFile(cli))}); console.log("imported");`],
            { encoding: "utf8", cwd: root },
        );
        expect(imported.stderr).toBe("");
        expect(imported.stdout).toBe("imported\n");
        expect(imported.status).toBe(0);

        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-bin-"));
        try {
            const link = path.join(dir, "llama-reward");
            fs.symlinkSync(cli, link);
            const linked = spawnSync(process.execPath, [link, "--help"], { encoding: "utf8", cwd: root });
            expect(linked.status).toBe(0);
            expect(linked.stdout).toMatch(/^usage: llama-reward/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("score renders and tokenizes each conversation once", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-cli-"));
        const input = path.join(dir, "in.jsonl");
        const output = path.join(dir, "out.jsonl");
        fs.writeFileSync(input, conversations.map((c) => JSON.stringify(c)).join("\n"));
        const render = vi.spyOn(ChatTemplate.prototype, "render");
        const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
        try {
            expect(await main(["score", "-m", tinyF32, "-i", input, "-o", output, "--context-size", "1024"])).toBe(0);
            expect(render).toHaveBeenCalledTimes(conversations.length);
            const rewards = fs
                .readFileSync(output, "utf8")
                .trim()
                .split("\n")
                .map((l) => (JSON.parse(l) as { reward: number }).reward);
            expect(rewards).toHaveLength(conversations.length);
            expect(rewards.every(Number.isFinite)).toBe(true);
        } finally {
            render.mockRestore();
            stderr.mockRestore();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("unknown commands print usage", () => {
        const result = run(["frobnicate"]);
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/usage: llama-reward/);
    });
});
