/**
 * Rewrites a reward-model GGUF for stock llama.cpp (node-llama-cpp's
 * prebuilt binaries), which cannot load a llama-architecture classifier head:
 * the copy drops cls.output.* and llama.classifier.output_labels and sets
 * llama.pooling_type = 3 (LAST), so an embedding context returns the final
 * normed hidden state of the last token. Tensor data is streamed unchanged.
 */
import fs from "node:fs";
import { readGgufHeader } from "../../src/gguf/gguf-reader.js";
import { GgufValueType } from "../../src/gguf/gguf-types.js";
import { GgufWriter } from "../../src/gguf/gguf-writer.js";

const CHUNK_BYTES = 16 << 20;
const POOLING_LAST = 3;

export function writeHeadlessCopy(inPath: string, outPath: string, onProgress: (done: number, total: number) => void): void {
    const header = readGgufHeader(inPath);
    const kept = header.tensors.filter((t) => !t.name.startsWith("cls.output."));
    const total = kept.reduce((n, t) => n + t.byteSize, 0);
    const w = new GgufWriter(outPath, { alignment: header.alignment });
    const fd = fs.openSync(inPath, "r");
    try {
        for (const [key, value] of header.metadata) {
            if (key === "general.alignment" || key === "llama.classifier.output_labels") continue;
            if (key === "llama.pooling_type") {
                w.addKv(key, GgufValueType.UINT32, POOLING_LAST);
                continue;
            }
            const t = header.metadataTypes.get(key)!;
            w.addKv(key, t.type, value, t.elementType);
        }
        if (!header.metadata.has("llama.pooling_type")) w.addKv("llama.pooling_type", GgufValueType.UINT32, POOLING_LAST);
        for (const t of kept) w.addTensorInfo(t.name, t.shape, t.type);
        w.writeHeader();
        const buffer = Buffer.alloc(CHUNK_BYTES);
        let done = 0;
        for (const t of kept) {
            for (let at = 0; at < t.byteSize; ) {
                const want = Math.min(CHUNK_BYTES, t.byteSize - at);
                const got = fs.readSync(fd, buffer, 0, want, header.dataOffset + t.offset + at);
                if (got <= 0) throw new Error(`unexpected end of ${inPath} in tensor ${t.name}`);
                w.writeTensorData(t.name, buffer.subarray(0, got));
                at += got;
                done += got;
                onProgress(done, total);
            }
        }
        w.finish();
    } catch (error) {
        w.abort();
        throw error;
    } finally {
        fs.closeSync(fd);
    }
}
