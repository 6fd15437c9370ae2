/**
 * d3 loads only when plots are drawn: importing src/index.ts (the package's
 * entry) and the scoring modules must not load any d3-* package. A module
 * resolution hook registered in this process rejects every d3 import, so a
 * static import of d3 anywhere under src/index.ts fails the import here; the
 * last test shows the hook does catch one (svg-plots.ts imports d3
 * statically).
 */
import { register } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";

const refuseD3 = `
export async function resolve(specifier, context, next) {
    if (/^d3-/.test(specifier)) throw new Error("d3 was loaded: " + specifier + " from " + context.parentURL);
    return next(specifier, context);
}`;

describe("plotting is loaded only when a report is drawn", () => {
    beforeAll(() => {
        register(`data:text/javascript,${encodeURIComponent(refuseD3)}`);
    });

    it("importing the package entry loads no d3 module", async () => {
        const api = await import("../../src/index.js");
        expect(typeof api.RewardModel.load).toBe("function");
        expect(typeof api.reportPlots).toBe("function");
        expect(typeof api.evaluate).toBe("function");
    });

    it("the CLI's eval command module loads no d3 module until it writes plots", async () => {
        const cli = await import("../../src/cli/eval.js");
        expect(typeof cli.commandEval).toBe("function");
    });

    it("the hook does reject a static d3 import (the plots module)", async () => {
        await expect(import("../../src/eval/svg-plots.js")).rejects.toThrow(/d3 was loaded: d3-/);
    });
});
