/**
 * Template variables (src/model/template-variables.ts, the templateVariables
 * load option) on Meta's real Llama-3.2 and Llama-3.1 chat templates (the
 * copies in llama.cpp's models/templates/): by default the 3.2 template writes
 * today's date, as transformers renders it with strftime_now, so the text
 * changes with the calendar; a pinned date_string does not. Bad values are
 * ERR_INVALID_OPTION.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ChatTemplate } from "../src/model/chat-template.js";
import { resolveLoadOptions } from "../src/model/load-options.js";
import { resolveTemplateVariables } from "../src/model/template-variables.js";
import { llamaDir } from "./support/fixtures.js";

const templates = path.join(llamaDir, "models", "templates");
const llama32 = fs.readFileSync(path.join(templates, "meta-llama-Llama-3.2-3B-Instruct.jinja"), "utf8");
const llama31 = fs.readFileSync(path.join(templates, "meta-llama-Llama-3.1-8B-Instruct.jinja"), "utf8");
const conversation = [
    { role: "user", content: "What is 2 + 2?" },
    { role: "assistant", content: "4." },
];

function render(source: string, variables?: Record<string, unknown>): string {
    const vars = resolveTemplateVariables(variables);
    return new ChatTemplate(source, "<|begin_of_text|>", "<|eot_id|>", vars).render(conversation);
}

afterEach(() => {
    vi.useRealTimers();
});

describe("templateVariables on the Llama-3.2 template", () => {
    it("by default the rendered date is today's (strftime_now), so the text changes with the calendar", () => {
        vi.useFakeTimers({ now: new Date(2026, 11, 6, 12) });
        const today = render(llama32);
        expect(today).toContain("Today Date: 06 Dec 2026\n");
        vi.setSystemTime(new Date(2027, 0, 2, 12));
        const tomorrow = render(llama32);
        expect(tomorrow).toContain("Today Date: 02 Jan 2027\n");
        expect(tomorrow).not.toBe(today);
    });

    it("a pinned date_string renders the same text on any day", () => {
        vi.useFakeTimers({ now: new Date(2026, 11, 6, 12) });
        const pinned = render(llama32, { date_string: "26 Jul 2024" });
        vi.setSystemTime(new Date(2030, 5, 1, 12));
        expect(render(llama32, { date_string: "26 Jul 2024" })).toBe(pinned);
        expect(pinned).toContain("Today Date: 26 Jul 2024\n");
        expect(pinned).not.toContain("Dec 2026");
    });

    it("the Llama-3.1 template has a fixed default date, which date_string replaces", () => {
        expect(render(llama31)).toContain("Today Date: 26 Jul 2024\n");
        expect(render(llama31, { date_string: "01 Jan 2025" })).toContain("Today Date: 01 Jan 2025\n");
    });

    it("variables of every JSON type reach the template", () => {
        const source = "{{ a }}|{{ b }}|{{ c }}|{{ d[1] }}|{{ e.f }}|{{ g is none }}{% for m in messages %}.{% endfor %}";
        expect(render(source, { a: "x", b: 2.5, c: true, d: [1, 2], e: { f: "y" }, g: null })).toBe("x|2.5|true|2|y|true..");
    });
});

describe("templateVariables validation", () => {
    function expectInvalid(value: unknown, message: RegExp): void {
        expect(() => resolveLoadOptions({ templateVariables: value } as never, 0)).toThrow(
            expect.objectContaining({ code: "ERR_INVALID_OPTION", message: expect.stringMatching(message) }),
        );
    }

    it("keeps a frozen copy of the values", () => {
        const input = { date_string: "26 Jul 2024", list: ["a"] };
        const resolved = resolveLoadOptions({ templateVariables: input }, 0).templateVariables;
        input.list.push("b");
        expect(resolved).toEqual({ date_string: "26 Jul 2024", list: ["a"] });
        expect(Object.isFrozen(resolved)).toBe(true);
        expect(resolveLoadOptions({}, 0).templateVariables).toEqual({});
    });

    it("refuses names the renderer sets, and names a template cannot read", () => {
        for (const name of ["messages", "bos_token", "eos_token", "add_generation_prompt", "strftime_now"]) {
            expectInvalid({ [name]: "x" }, new RegExp(`"${name}" is set by the renderer`));
        }
        expectInvalid({ "date-string": "x" }, /not a name a template can read/);
        expectInvalid({ "": "x" }, /not a name a template can read/);
    });

    it("refuses values that are not plain JSON", () => {
        expectInvalid("date", /plain object/);
        expectInvalid(["a"], /plain object/);
        expectInvalid(null, /plain object/);
        expectInvalid({ f: () => "x" }, /templateVariables\.f must be a JSON value/);
        expectInvalid({ d: new Date() }, /templateVariables\.d must be a JSON value/);
        expectInvalid({ n: Number.NaN }, /finite number/);
        expectInvalid({ n: { deep: [1, Number.POSITIVE_INFINITY] } }, /templateVariables\.n\.deep\[1\] must be a finite number/);
        expectInvalid({ u: undefined }, /must be a JSON value/);
        let deep: unknown = "x";
        for (let i = 0; i < 40; i++) deep = [deep];
        expectInvalid({ deep }, /nested more than/);
    });
});
