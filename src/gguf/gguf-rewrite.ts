/**
 * Copies a GGUF file with edits: metadata keys dropped or set, tensors
 * dropped, new tensors appended. Every kept tensor is streamed byte for byte
 * (a quantized tensor stays quantized) and every kept key keeps its value
 * type. The copy is written to `<out>.tmp` by GgufWriter and renamed only
 * once complete, so a failure never leaves a partial output behind.
 */
import fs from "node:fs";
import { RewardModelError } from "../errors.js";
import { readGgufHeader } from "./gguf-reader.js";
import type { GgmlType, GgufHeader, GgufValue, GgufValueType } from "./gguf-types.js";
import { GgufWriter } from "./gguf-writer.js";

const CHUNK_BYTES = 16 << 20;

/** A metadata entry to write: its GGUF type (and element type for arrays) and value. */
export interface MetadataEntry {
    type: GgufValueType;
    value: GgufValue;
    elementType?: GgufValueType;
}

/** A tensor appended after the kept ones. */
export interface NewTensor {
    name: string;
    /** ggml (ne) order. */
    shape: number[];
    type: GgmlType;
    data: Uint8Array;
}

export interface GgufEdits {
    /** Keys left out of the copy. */
    dropKeys?: (key: string) => boolean;
    /** Keys set after the kept ones (a kept key of the same name is replaced in place). */
    setKeys?: ReadonlyMap<string, MetadataEntry>;
    /** Tensors left out of the copy. */
    dropTensors?: (name: string) => boolean;
    addTensors?: readonly NewTensor[];
}

/** Writes `outPath` as a copy of `inPath` (whose header is `header`, already read) with `edits`. */
export function rewriteGguf(inPath: string, outPath: string, edits: GgufEdits, header: GgufHeader = readGgufHeader(inPath)): void {
    const dropKey = edits.dropKeys ?? (() => false);
    const dropTensor = edits.dropTensors ?? (() => false);
    const setKeys = edits.setKeys ?? new Map<string, MetadataEntry>();
    const kept = header.tensors.filter((t) => !dropTensor(t.name));
    const w = new GgufWriter(outPath, { alignment: header.alignment });
    let fd: number | undefined;
    try {
        for (const [key, value] of header.metadata) {
            if (key === "general.alignment" || dropKey(key)) continue; // the writer writes the alignment itself
            const replacement = setKeys.get(key);
            if (replacement) {
                w.addKv(key, replacement.type, replacement.value, replacement.elementType);
                continue;
            }
            const t = header.metadataTypes.get(key)!;
            w.addKv(key, t.type, value, t.elementType);
        }
        for (const [key, entry] of setKeys) {
            if (!header.metadata.has(key) || dropKey(key)) w.addKv(key, entry.type, entry.value, entry.elementType);
        }
        for (const t of kept) w.addTensorInfo(t.name, t.shape, t.type);
        for (const t of edits.addTensors ?? []) w.addTensorInfo(t.name, t.shape, t.type);
        w.writeHeader();
        fd = fs.openSync(inPath, "r");
        const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(1, ...kept.map((t) => t.byteSize))));
        for (const t of kept) {
            for (let at = 0; at < t.byteSize; ) {
                const want = Math.min(buffer.length, t.byteSize - at);
                const got = fs.readSync(fd, buffer, 0, want, header.dataOffset + t.offset + at);
                if (got <= 0) throw new RewardModelError("ERR_CORRUPT_MODEL", `${inPath} ends inside tensor ${t.name}`);
                w.writeTensorData(t.name, buffer.subarray(0, got));
                at += got;
            }
        }
        for (const t of edits.addTensors ?? []) w.writeTensorData(t.name, t.data);
        w.finish();
    } catch (error) {
        w.abort();
        throw error;
    } finally {
        if (fd !== undefined) fs.closeSync(fd);
    }
}
