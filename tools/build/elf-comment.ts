/**
 * Reads the `.comment` section of an ELF shared library: the compilers that
 * built it, as each object file recorded itself (e.g. "GCC: (Debian
 * 12.2.0-14+deb12u1) 12.2.0"). It tells whose build a ggml CPU variant is
 * without trusting a file name or a metadata file.
 */
import fs from "node:fs";

const SECTION_HEADER_SIZE = 64;

/** The distinct NUL-separated strings of `.comment`, or [] for a file that is not a little-endian ELF64 or has no such section. */
export function elfComments(file: string): string[] {
    const fd = fs.openSync(file, "r");
    try {
        const read = (offset: number, length: number): Buffer => {
            const buf = Buffer.alloc(length);
            const n = fs.readSync(fd, buf, 0, length, offset);
            return buf.subarray(0, n);
        };
        const header = read(0, 64);
        // "\x7fELF", class 2 (64-bit), data 1 (little-endian)
        if (header.length < 64 || header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return [];
        const sectionTable = Number(header.readBigUInt64LE(0x28));
        const sectionCount = header.readUInt16LE(0x3c);
        const namesIndex = header.readUInt16LE(0x3e);
        const table = read(sectionTable, sectionCount * SECTION_HEADER_SIZE);
        if (table.length < sectionCount * SECTION_HEADER_SIZE || namesIndex >= sectionCount) return [];
        const section = (i: number) => ({
            name: table.readUInt32LE(i * SECTION_HEADER_SIZE),
            offset: Number(table.readBigUInt64LE(i * SECTION_HEADER_SIZE + 24)),
            size: Number(table.readBigUInt64LE(i * SECTION_HEADER_SIZE + 32)),
        });
        const names = section(namesIndex);
        const nameTable = read(names.offset, names.size);
        for (let i = 0; i < sectionCount; i++) {
            const s = section(i);
            const end = nameTable.indexOf(0, s.name);
            if (nameTable.toString("latin1", s.name, end < 0 ? undefined : end) !== ".comment") continue;
            const strings = read(s.offset, s.size).toString("utf8").split("\0").filter(Boolean);
            return [...new Set(strings)];
        }
        return [];
    } finally {
        fs.closeSync(fd);
    }
}

/** The GCC or clang version line among `comments` ("GCC: (Debian 12.2.0-14+deb12u1) 12.2.0"), or undefined. */
export function compilerOf(comments: readonly string[]): string | undefined {
    return comments.find((c) => /^GCC:/.test(c)) ?? comments.find((c) => /clang version/.test(c));
}
