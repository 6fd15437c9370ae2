/**
 * The addon's worker plumbing: an exception of any type on the pool thread
 * rejects the promise instead of terminating the process, and a context's
 * KV cache is reported to V8 as external memory (sized from the file's own
 * hyperparameters here, not from the addon) until it is disposed.
 */
import { describe, expect, it } from "vitest";
import { loadedAddon } from "../src/addon/load-addon.js";
import { readGgufHeader } from "../src/gguf/gguf-reader.js";
import { requireFile, tinyF32 } from "./support/fixtures.js";

function metadataNumber(metadata: Map<string, unknown>, key: string): number {
    const value = metadata.get(key);
    if (typeof value !== "number") throw new Error(`${key} is not a number in the tiny model`);
    return value;
}

describe("native workers", () => {
    it.each(["std", "other"] as const)(
        "a %s exception thrown in Execute rejects with ERR_INTERNAL and the process lives on",
        async (kind) => {
            const { addon } = loadedAddon();
            const error = await addon.checkWorkerThrow(kind).then(
                () => undefined,
                (e: unknown) => e as { code?: string; message?: string },
            );
            expect(error?.code).toBe("ERR_INTERNAL");
            expect(error?.message).toMatch(kind === "std" ? /a std::exception thrown on purpose/ : /unknown C\+\+ exception/);
            // the pool thread survived: another call settles the same way
            await expect(addon.checkWorkerThrow("std")).rejects.toMatchObject({ code: "ERR_INTERNAL" });
        },
    );

    it("reports the KV cache to V8 as external memory until dispose", async () => {
        const file = requireFile(tinyF32);
        const header = readGgufHeader(file);
        const layers = metadataNumber(header.metadata, "llama.block_count");
        const embd = metadataNumber(header.metadata, "llama.embedding_length");
        const heads = metadataNumber(header.metadata, "llama.attention.head_count");
        const kvHeads = metadataNumber(header.metadata, "llama.attention.head_count_kv");
        const contextSize = 8192;
        const expected = layers * contextSize * 2 * kvHeads * (embd / heads) * 4; // K and V rows, f32

        const { addon } = loadedAddon();
        const model = await addon.loadModel(file, { gpuLayers: 0, useMmap: true, devices: [] }, new Int32Array(1));
        try {
            // process.memoryUsage().external does not include what addons report on Node 20, so the
            // addon reads V8's own counter
            const before = addon.externalMemory();
            const context = await model.createContext({
                contextSize,
                batchSize: 512,
                parallel: 1,
                threads: 1,
                flashAttention: "off",
                kvCacheType: "f32",
            });
            expect(context.info().kvCacheBytes).toBe(expected);
            const during = addon.externalMemory();
            expect(during - before).toBeGreaterThanOrEqual(expected);
            context.dispose();
            const after = addon.externalMemory();
            expect(during - after).toBeGreaterThanOrEqual(expected);
        } finally {
            model.dispose();
        }
    });
});
