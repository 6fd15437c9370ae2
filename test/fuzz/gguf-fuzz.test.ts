/**
 * The fuzz sample of `npm test`: a few hundred mutated tiny models from each
 * engine (byte-level, gguf-mutations.ts; field-level,
 * gguf-structured-mutations.ts), each loaded in this process and scored once
 * when it loads. Every case must end in a score or a RewardModelError code;
 * a death kills the test fork and fails the file. `FUZZ_CASES`,
 * `FUZZ_STRUCTURED_CASES` and `FUZZ_SEED` change the sample; `npm run fuzz`
 * runs many more in a restartable child process.
 */
import * as fs from "node:fs";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { MUTATION_KINDS, caseKind, describeCase, makeCase, type MutationKind } from "./gguf-mutations.js";
import { loadFuzzBases, makeScratchDir, runCase, type FuzzFamily, type FuzzOutcome } from "./gguf-fuzz-target.js";
import type { FuzzBase } from "./gguf-mutations.js";
import { STRUCTURED_KINDS, makeStructuredCase, structuredCaseKind, type StructuredKind } from "./gguf-structured-mutations.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const CASES = Number(process.env.FUZZ_CASES ?? 200);
const STRUCTURED_CASES = Number(process.env.FUZZ_STRUCTURED_CASES ?? 150);

let bases: FuzzBase[];
let dir: string;

beforeAll(() => {
    bases = loadFuzzBases();
    dir = makeScratchDir();
});

afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
});

describe("the GGUF mutation engine", () => {
    it("is deterministic by seed and case index", () => {
        for (const index of [0, 7, 123]) {
            const a = makeCase(bases, SEED, index);
            const b = makeCase(bases, SEED, index);
            expect(a.mutation).toBe(b.mutation);
            expect(a.length).toBe(b.length);
            expect(Buffer.compare(a.serialized.header, b.serialized.header)).toBe(0);
        }
        expect(makeCase(bases, SEED, 1).mutation).not.toBe(makeCase(bases, SEED + 1, 1).mutation);
    });

    it("draws every mutation kind within the sample size", () => {
        const seen = new Set<MutationKind>();
        for (let i = 0; i < CASES; i++) seen.add(caseKind(SEED, i));
        expect(makeCase(bases, SEED, 5).kind).toBe(caseKind(SEED, 5));
        // (a sample smaller than the default may miss rare kinds)
        if (CASES >= 200) expect([...seen].sort()).toEqual([...MUTATION_KINDS].sort());
        else expect(seen.size).toBeGreaterThan(5);
    });
});

describe("the field-level mutation engine", () => {
    it("is deterministic by seed and case index, and apart from the byte engine", () => {
        for (const index of [0, 7, 123]) {
            const a = makeStructuredCase(bases, SEED, index);
            const b = makeStructuredCase(bases, SEED, index);
            expect(a.mutation).toBe(b.mutation);
            expect(Buffer.compare(a.serialized.header, b.serialized.header)).toBe(0);
            expect(a.kind).toBe(structuredCaseKind(SEED, index));
        }
        expect(makeStructuredCase(bases, SEED, 1).mutation).not.toBe(makeStructuredCase(bases, SEED + 1, 1).mutation);
    });

    it("draws every field-level kind within the sample size, and changes the file each time", () => {
        const seen = new Set<StructuredKind>();
        for (let i = 0; i < STRUCTURED_CASES; i++) seen.add(structuredCaseKind(SEED, i));
        if (STRUCTURED_CASES >= 150) expect([...seen].sort()).toEqual([...STRUCTURED_KINDS].sort());
        for (let i = 0; i < 20; i++) {
            const c = makeStructuredCase(bases, SEED, i);
            expect(c.mutation, `case ${i}`).not.toMatch(/no change/);
        }
    });
});

for (const [family, cases] of [
    ["bytes", CASES],
    ["structured", STRUCTURED_CASES],
] as [FuzzFamily, number][]) {
    describe(`${cases} ${family === "bytes" ? "byte-level" : "field-level"} mutated models (seed ${SEED}) load and score, or fail with a code`, () => {
        const outcomes = new Map<string, number>();

        afterAll(() => {
            const summary = [...outcomes]
                .sort((a, b) => b[1] - a[1])
                .map(([k, v]) => `${k}=${v}`)
                .join(" ");
            console.log(`gguf fuzz sample (${family}): ${summary}`);
        });

        it(`runs all ${cases} cases`, async () => {
            const bad: string[] = [];
            for (let i = 0; i < cases; i++) {
                const { fuzzCase, outcome } = await runCase(bases, SEED, i, dir, false, family);
                const key = label(outcome);
                outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
                if (outcome.kind === "bad-error") bad.push(`${describeCase(fuzzCase)} -> ${outcome.error}`);
            }
            expect(bad).toEqual([]);
            // the sample must exercise both sides: files that load and score, and rejections
            expect(outcomes.get("score") ?? 0).toBeGreaterThan(0);
            expect([...outcomes.keys()].some((k) => k.startsWith("load:"))).toBe(true);
        }, 600_000);
    });
}

function label(o: FuzzOutcome): string {
    return o.kind === "score" ? "score" : o.kind === "rejected" ? `${o.stage}:${o.code}` : `bad-error:${o.stage}`;
}
