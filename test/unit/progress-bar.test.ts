/**
 * src/cli/progress-bar.ts, the one progress display of the CLI and the
 * tools: silent off a terminal unless asked for plain lines, then one line
 * per 10% and the summary; a redrawn line on a terminal.
 */
import { describe, expect, it } from "vitest";
import { ProgressBar } from "../../src/cli/progress-bar.js";

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
    let text = "";
    const stream = {
        isTTY,
        columns: 120,
        write: (chunk: string) => {
            text += chunk;
            return true;
        },
    } as unknown as NodeJS.WriteStream;
    return { stream, text: () => text };
}

describe("ProgressBar", () => {
    it("writes nothing off a terminal by default (the CLI keeps stderr clean for pipes)", () => {
        const { stream, text } = fakeStream(false);
        const bar = new ProgressBar("scoring", 10, { stream });
        for (let i = 0; i <= 10; i++) bar.update(i);
        bar.finish("done");
        expect(text()).toBe("");
    });

    it("with plainLines, prints one line per 10% step and the summary", () => {
        const { stream, text } = fakeStream(false);
        const bar = new ProgressBar("bench", 0, { stream, plainLines: true });
        bar.setTotal(1000);
        for (let i = 0; i <= 1000; i++) bar.update(i, "x");
        bar.finish("1000 items");
        const lines = text().trimEnd().split("\n");
        expect(lines).toHaveLength(12);
        expect(lines[0]).toMatch(/^bench: {3}0% /);
        expect(lines[10]).toMatch(/^bench: 100% \d+ s x$/);
        expect(lines[11]).toMatch(/^bench: 1000 items \(\d+\.\d s\)$/);
    });

    it("on a terminal, redraws one line and ends it", () => {
        const prior = process.env.CI;
        delete process.env.CI;
        try {
            const { stream, text } = fakeStream(true);
            const bar = new ProgressBar("quantizing", 4, { stream });
            bar.update(4, "t");
            bar.finish();
            expect(text()).toMatch(/^\rquantizing \[#{30}\] 4\/4 100% .* t\n$/);
        } finally {
            if (prior !== undefined) process.env.CI = prior;
        }
    });
});
