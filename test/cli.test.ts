/**
 * The llama-reward CLI, run as a user would: score JSONL (both line shapes,
 * order kept, bad lines reported), info, the load flags reaching the model,
 * usage texts and usage errors (exit 2); and as a module: importing it runs
 * nothing, and `score` renders each conversation once.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { ChatTemplate } from "../src/model/chat-template.js";
import { main } from "../src/cli/main.js";
import { RewardModel, type ChatMessage, type LoadOptions } from "../src/index.js";
import { loadFlags } from "../src/cli/load-flags.js";
import { conversations, filler, requireFile, root, tinyF32 } from "./support/fixtures.js";

const cli = path.join(root, "dist", "src", "cli", "main.js");

function run(args: string[], input = "") {
    return spawnSync(process.execPath, [requireFile(cli), ...args], { input, encoding: "utf8", cwd: root });
}

/** The rewards `score` prints for `lines` with `flags`. */
function scoreRewards(lines: ChatMessage[][], flags: string[]): number[] {
    const result = run(["score", "-m", tinyF32, "--context-size", "2048", ...flags], lines.map((c) => JSON.stringify(c)).join("\n"));
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    return result.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { reward: number }).reward);
}

/** The rewards the API gives `lines` in one scoreBatch with `options`. */
async function apiRewards(lines: ChatMessage[][], options: LoadOptions): Promise<number[]> {
    const model = await RewardModel.load(tinyF32, { contextSize: 2048, ...options });
    try {
        return await model.scoreBatch(lines);
    } finally {
        await model.dispose();
    }
}

/** A long conversation, where flash attention and the KV cache type change the reward's low bits. */
const long: ChatMessage[] = [
    { role: "user", content: filler(900, 7) },
    { role: "assistant", content: filler(200, 8) },
];

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

    it("--flash-attention and --kv-cache-type reach the model: rewards equal the API's with those options", async () => {
        const lines = [long, conversations[0]!];
        const defaults = scoreRewards(lines, []);
        const flashOff = scoreRewards(lines, ["--flash-attention", "off"]);
        const f32Cache = scoreRewards(lines, ["--kv-cache-type", "f32"]);
        expect(flashOff).toEqual(await apiRewards(lines, { flashAttention: false }));
        expect(f32Cache).toEqual(await apiRewards(lines, { kvCacheType: "f32" }));
        expect(defaults).toEqual(await apiRewards(lines, {}));
        // The comparison can tell the settings apart (head size 16: the default is flash attention on, F16 cache).
        expect(flashOff[0]).not.toBe(defaults[0]);
        expect(f32Cache[0]).not.toBe(defaults[0]);
        expect(scoreRewards(lines, ["--flash-attention", "on"])).toEqual(defaults);
    });

    it("--reproducible and --no-mmap reach the model, and --reproducible gives the API's reproducible rewards", async () => {
        const batch = [...conversations, long, ...conversations];
        const alone = await apiRewards([long], { reproducible: true });
        const rewards = scoreRewards(batch, ["--reproducible", "--parallel", "4"]);
        expect(rewards).toEqual(await apiRewards(batch, { reproducible: true, parallel: 4 }));
        expect(rewards[conversations.length]).toBe(alone[0]); // in a batch, bitwise what it is alone
        const load = vi.spyOn(RewardModel, "load");
        const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-reward-cli-"));
        try {
            const input = path.join(dir, "in.jsonl");
            fs.writeFileSync(input, JSON.stringify(conversations[0]));
            const args = ["score", "-m", tinyF32, "-i", input, "-o", path.join(dir, "out.jsonl"), "--context-size", "256"];
            expect(await main([...args, "--reproducible", "--no-mmap"])).toBe(0);
            expect(await main(args)).toBe(0);
            const [flagged, plain] = (await Promise.all(load.mock.results.map((r) => r.value))) as RewardModel[];
            expect(flagged!.options).toMatchObject({ reproducible: true, useMmap: false });
            expect(plain!.options).toMatchObject({ reproducible: false, useMmap: true });
        } finally {
            load.mockRestore();
            stderr.mockRestore();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("bad flag values exit 2 with ERR_INVALID_OPTION naming the flag; 0 is no positive integer", () => {
        const bad: string[][] = [
            ["score", "-m", tinyF32, "--chunk", "0"],
            ["score", "-m", tinyF32, "--parallel", "0"],
            ["score", "-m", tinyF32, "--threads", "0"],
            ["score", "-m", tinyF32, "--flash-attention", "yes"],
            ["score", "-m", tinyF32, "--kv-cache-type", "q4_0"],
            ["eval", "-m", tinyF32, "--data", "pairs.jsonl", "--limit", "0"],
            ["serve", "-m", tinyF32, "--max-body", "0"],
            ["compare", "-m", tinyF32, "--a", "a.json", "--b", "b.json", "--batch-size", "0"],
            ["quantize", tinyF32, "out.gguf", "Q8_0", "--threads", "0"],
        ];
        for (const args of bad) {
            const flag = args.filter((a) => a.startsWith("--")).at(-1)!;
            const result = run(args, "[]");
            expect(result.status, args.join(" ")).toBe(2);
            expect(result.stderr).toContain(flag);
            expect(result.stderr).toMatch(/\[ERR_INVALID_OPTION\]\n$/);
        }
        const unknown = run(["score", "-m", tinyF32, "--no-such-flag"], "[]");
        expect(unknown.status).toBe(2);
        expect(unknown.stderr).toMatch(/--no-such-flag.*\[ERR_INVALID_OPTION\]/);
    });

    it("each command's usage lists every flag it accepts; serve, eval and compare the load flags with --gpu", () => {
        for (const command of ["score", "serve", "eval", "compare"]) {
            const result = run([command, "--help"]);
            expect(result.status).toBe(0);
            expect(result.stdout).toContain(`usage: llama-reward ${command}`);
            for (const flag of Object.keys(loadFlags)) expect(result.stdout, `${command} --${flag}`).toMatch(new RegExp(`--${flag}\\b`));
            expect(result.stdout).toMatch(/--gpu auto\|cuda/);
        }
        expect(run(["quantize", "--help"]).stdout).toContain("--threads");
        expect(run(["convert", "--help"]).stdout).toMatch(/--outtype[\s\S]*--output|--output[\s\S]*--outtype/);
    });

    it("unknown commands print usage", () => {
        const result = run(["frobnicate"]);
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/usage: llama-reward/);
    });
});
