/**
 * Read-only access to a Hugging Face safetensors checkpoint: one
 * `model.safetensors`, or shards listed by `model.safetensors.index.json`.
 * Only the JSON headers are parsed up front; tensor data is read on demand,
 * a row range at a time, so no tensor ever has to be held whole in memory.
 * Every header is checked against its file's size, so a truncated download
 * fails here with a clear message rather than midway through a conversion.
 */

import * as fs from "node:fs";
import * as path from "node:path";

import { RewardModelError } from "../errors.js";

/** safetensors dtypes this package can convert, with their element sizes. */
export const SAFETENSORS_DTYPE_SIZE = { F32: 4, F16: 2, BF16: 2 } as const;
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_SIZE;

/** Element sizes of every dtype the format defines, to validate headers of any file. */
const ANY_DTYPE_SIZE: Readonly<Record<string, number>> = {
    BOOL: 1,
    U8: 1,
    I8: 1,
    F8_E4M3: 1,
    F8_E5M2: 1,
    I16: 2,
    U16: 2,
    F16: 2,
    BF16: 2,
    I32: 4,
    U32: 4,
    F32: 4,
    I64: 8,
    U64: 8,
    F64: 8,
};

/** Largest JSON header accepted (the format's own limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensor {
    readonly name: string;
    /** The dtype as the file names it ("BF16", "F32", ...). */
    readonly dtype: string;
    /** PyTorch order: shape[0] is the outermost (row) dimension. */
    readonly shape: readonly number[];
    readonly file: string;
    /** Absolute byte offset of the tensor's data in `file`. */
    readonly dataStart: number;
    readonly byteLength: number;
}

function failed(message: string, cause?: unknown): RewardModelError {
    return new RewardModelError("ERR_CONVERT_FAILED", message, cause === undefined ? undefined : { cause });
}

function isSupportedDtype(dtype: string): dtype is SafetensorsDtype {
    return Object.hasOwn(SAFETENSORS_DTYPE_SIZE, dtype);
}

/** Element size of a convertible tensor; throws a clear error for any other dtype. */
export function dtypeSize(tensor: SafetensorsTensor): number {
    if (!isSupportedDtype(tensor.dtype)) {
        throw failed(
            `Tensor ${tensor.name} in ${tensor.file} has dtype ${tensor.dtype}; ` +
                `only ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(", ")} checkpoints can be converted`,
        );
    }
    return SAFETENSORS_DTYPE_SIZE[tensor.dtype];
}

function readExactly(fd: number, buffer: Uint8Array, position: number, file: string, what: string): void {
    let done = 0;
    while (done < buffer.byteLength) {
        const got = fs.readSync(fd, buffer, done, buffer.byteLength - done, position + done);
        if (got === 0) throw failed(`${file} is truncated: unexpected end of file reading ${what}`);
        done += got;
    }
}

/** Parses and validates the header of one safetensors file. */
function readFileHeader(file: string): SafetensorsTensor[] {
    let fd: number;
    let size: number;
    try {
        fd = fs.openSync(file, "r");
        size = fs.fstatSync(fd).size;
    } catch (cause) {
        throw failed(`Cannot open ${file}: ${(cause as Error).message}`, cause);
    }
    try {
        if (size < 8) throw failed(`${file} is not a safetensors file (only ${size} bytes)`);
        const lengthBytes = Buffer.alloc(8);
        readExactly(fd, lengthBytes, 0, file, "the header length");
        const headerLength = lengthBytes.readBigUInt64LE(0);
        if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
            throw failed(`${file} is not a valid safetensors file or is truncated (header length ${headerLength}, file has ${size} bytes)`);
        }
        const json = Buffer.alloc(Number(headerLength));
        readExactly(fd, json, 8, file, "the header");
        let header: unknown;
        try {
            header = JSON.parse(json.toString("utf8"));
        } catch (cause) {
            throw failed(`${file} has a malformed safetensors header (invalid JSON)`, cause);
        }
        if (header === null || typeof header !== "object" || Array.isArray(header)) {
            throw failed(`${file} has a malformed safetensors header (not a JSON object)`);
        }
        const dataBase = 8 + json.byteLength;
        const tensors: SafetensorsTensor[] = [];
        for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
            if (name === "__metadata__") continue;
            const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
            const dtype = e?.dtype;
            const shape = e?.shape;
            const offsets = e?.data_offsets;
            if (
                typeof dtype !== "string" ||
                !Array.isArray(shape) ||
                !Array.isArray(offsets) ||
                offsets.length !== 2 ||
                !shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
                !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
            ) {
                throw failed(`${file}: malformed header entry for tensor ${name}`);
            }
            const [begin, end] = offsets as [number, number];
            const elementSize = ANY_DTYPE_SIZE[dtype];
            if (elementSize === undefined) throw failed(`${file}: tensor ${name} has unknown dtype ${dtype}`);
            const elements = (shape as number[]).reduce((a, b) => a * b, 1);
            if (end < begin || end - begin !== elements * elementSize) {
                throw failed(
                    `${file}: tensor ${name} [${shape.join(", ")}] ${dtype} needs ${elements * elementSize} bytes, ` +
                        `its data_offsets span ${end - begin}`,
                );
            }
            if (dataBase + end > size) {
                throw failed(`${file} is truncated: tensor ${name} ends at byte ${dataBase + end}, the file has ${size} bytes`);
            }
            tensors.push({ name, dtype, shape: shape as number[], file, dataStart: dataBase + begin, byteLength: end - begin });
        }
        return tensors;
    } finally {
        fs.closeSync(fd);
    }
}

export const SAFETENSORS_SINGLE_FILE = "model.safetensors";
export const SAFETENSORS_INDEX_FILE = "model.safetensors.index.json";

/** The tensors of a checkpoint directory, with open file handles for reading them. */
export class SafetensorsCheckpoint {
    readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
    /** The data files, in the order the checkpoint lists them. */
    readonly files: readonly string[];
    private readonly fds = new Map<string, number>();

    private constructor(tensors: Map<string, SafetensorsTensor>, files: string[]) {
        this.tensors = tensors;
        this.files = files;
    }

    /** Opens `dir/model.safetensors.index.json` if present, else `dir/model.safetensors`. */
    static open(dir: string): SafetensorsCheckpoint {
        const indexPath = path.join(dir, SAFETENSORS_INDEX_FILE);
        const singlePath = path.join(dir, SAFETENSORS_SINGLE_FILE);
        if (fs.existsSync(indexPath)) return SafetensorsCheckpoint.openSharded(dir, indexPath);
        if (fs.existsSync(singlePath)) return SafetensorsCheckpoint.fromFiles([singlePath], undefined);
        throw failed(
            `${dir} has no weights: neither ${SAFETENSORS_SINGLE_FILE} nor ${SAFETENSORS_INDEX_FILE} exists ` +
                "(only safetensors checkpoints are supported, not PyTorch .bin files)",
        );
    }

    private static openSharded(dir: string, indexPath: string): SafetensorsCheckpoint {
        let weightMap: Record<string, unknown>;
        try {
            const index = JSON.parse(fs.readFileSync(indexPath, "utf8")) as { weight_map?: unknown };
            if (index.weight_map === null || typeof index.weight_map !== "object") throw new Error("it has no weight_map object");
            weightMap = index.weight_map as Record<string, unknown>;
        } catch (cause) {
            throw failed(`Cannot read ${indexPath}: ${(cause as Error).message}`, cause);
        }
        const files: string[] = [];
        for (const [name, shard] of Object.entries(weightMap)) {
            if (typeof shard !== "string" || shard.includes("/") || shard.includes("\\") || shard.startsWith(".")) {
                throw failed(`${indexPath}: tensor ${name} maps to an invalid shard name ${JSON.stringify(shard)}`);
            }
            const file = path.join(dir, shard);
            if (!files.includes(file)) files.push(file);
        }
        for (const file of files) {
            if (!fs.existsSync(file))
                throw failed(`Shard ${path.basename(file)} listed in ${SAFETENSORS_INDEX_FILE} is missing from ${dir}`);
        }
        const expected = new Map(Object.entries(weightMap).map(([name, shard]) => [name, path.join(dir, shard as string)]));
        return SafetensorsCheckpoint.fromFiles(files, expected);
    }

    private static fromFiles(files: string[], expected: Map<string, string> | undefined): SafetensorsCheckpoint {
        const tensors = new Map<string, SafetensorsTensor>();
        for (const file of files) {
            for (const t of readFileHeader(file)) {
                if (tensors.has(t.name)) throw failed(`Tensor ${t.name} appears in both ${tensors.get(t.name)!.file} and ${file}`);
                tensors.set(t.name, t);
            }
        }
        if (expected !== undefined) {
            for (const [name, file] of expected) {
                const t = tensors.get(name);
                if (t === undefined || t.file !== file) {
                    throw failed(
                        `${SAFETENSORS_INDEX_FILE} lists tensor ${name} in ${path.basename(file)}, but that shard does not hold it`,
                    );
                }
            }
        }
        return new SafetensorsCheckpoint(tensors, files);
    }

    /**
     * Reads `rowCount` rows starting at `rowStart` of a tensor stored row-major
     * with rows of `rowBytes` bytes, into `target` (which must be big enough).
     */
    readRows(tensor: SafetensorsTensor, rowBytes: number, rowStart: number, rowCount: number, target: Uint8Array): Uint8Array {
        const length = rowBytes * rowCount;
        if ((rowStart + rowCount) * rowBytes > tensor.byteLength) {
            throw new RangeError(`rows ${rowStart}..${rowStart + rowCount} are outside tensor ${tensor.name}`);
        }
        const view = target.subarray(0, length);
        readExactly(this.fd(tensor.file), view, tensor.dataStart + rowStart * rowBytes, tensor.file, `tensor ${tensor.name}`);
        return view;
    }

    private fd(file: string): number {
        let fd = this.fds.get(file);
        if (fd === undefined) {
            try {
                fd = fs.openSync(file, "r");
            } catch (cause) {
                throw failed(`Cannot open ${file}: ${(cause as Error).message}`, cause);
            }
            this.fds.set(file, fd);
        }
        return fd;
    }

    /** Closes every file handle. Safe to call more than once. */
    close(): void {
        for (const fd of this.fds.values()) {
            try {
                fs.closeSync(fd);
            } catch {
                /* already closed */
            }
        }
        this.fds.clear();
    }
}
