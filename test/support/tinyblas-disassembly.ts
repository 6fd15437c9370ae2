/**
 * Looks at the machine code of llamafile's tinyBLAS kernels inside a ggml
 * CPU variant (objdump from binutils): for each weight type (F32, F16, BF16)
 * the inner loop of its largest `gemm_bloc<RM, RN>` tile, and how many
 * vector registers that loop stores to the stack. A compiler that keeps the
 * RM x RN accumulators in registers stores none; GCC 11.4 stored all 24 of
 * the AVX-512 4x6 tile on every iteration, which halved BF16 and F16 speed.
 */
import { execFileSync } from "node:child_process";

export type TinyBlasType = "F32" | "F16" | "BF16";

export interface TinyBlasLoop {
    type: TinyBlasType;
    /** The demangled kernel, e.g. tinyBLAS<32, ..., ggml_bf16_t, ggml_bf16_t, float>::gemm_bloc<4, 6>(long, long). */
    kernel: string;
    /** RM x RN of the tile: the accumulators the loop must keep. */
    accumulators: number;
    /** Instructions in the innermost loop holding the multiplications. */
    instructions: number;
    /** Multiplications in it: vfmadd*ps or vdpbf16ps, or vmulps in variants without FMA (then each needs a vaddps too). */
    multiplies: number;
    /** The loop multiplies with fused multiply-adds (every variant from haswell up); false: vmulps + vaddps (sandybridge, ivybridge). */
    fused: boolean;
    /** Vector registers stored to the stack in it (spills of accumulators). */
    stackStores: number;
}

interface Symbol {
    start: number;
    size: number;
    name: string;
}

/** The tinyBLAS gemm_bloc functions of `library`, from its (local) symbol table. */
function gemmBlocSymbols(library: string): Symbol[] {
    const text = execFileSync("nm", ["-C", "-S", "--defined-only", library], { encoding: "utf8", maxBuffer: 64 << 20 });
    const out: Symbol[] = [];
    for (const line of text.split("\n")) {
        const m = /^([0-9a-f]+) ([0-9a-f]+) [tT] (.*tinyBLAS<.*>::gemm_bloc<\d+, \d+>.*)$/.exec(line);
        if (m) out.push({ start: Number.parseInt(m[1]!, 16), size: Number.parseInt(m[2]!, 16), name: m[3]! });
    }
    return out;
}

function typeOf(kernel: string): TinyBlasType | undefined {
    const args = /tinyBLAS<(.*)>::gemm_bloc/.exec(kernel)?.[1] ?? "";
    if (/ggml_bf16_t, ggml_bf16_t, float$/.test(args)) return "BF16";
    if (/unsigned short, unsigned short, float$/.test(args)) return "F16";
    if (/float, float, float$/.test(args)) return "F32";
    return undefined;
}

function tileOf(kernel: string): number {
    const m = /gemm_bloc<(\d+), (\d+)>/.exec(kernel);
    return m ? Number(m[1]) * Number(m[2]) : 0;
}

interface Instruction {
    address: number;
    text: string;
}

function disassemble(library: string, symbol: Symbol): Instruction[] {
    const text = execFileSync(
        "objdump",
        [
            "-d",
            "--no-show-raw-insn",
            `--start-address=0x${symbol.start.toString(16)}`,
            `--stop-address=0x${(symbol.start + symbol.size).toString(16)}`,
            library,
        ],
        { encoding: "utf8", maxBuffer: 64 << 20 },
    );
    const out: Instruction[] = [];
    for (const line of text.split("\n")) {
        const m = /^\s+([0-9a-f]+):\s+(.+)$/.exec(line);
        if (m) out.push({ address: Number.parseInt(m[1]!, 16), text: m[2]!.trim() });
    }
    return out;
}

const MULTIPLY = /^(vdpbf16ps|vfmadd\d+ps|vmulps)\s/;
const FUSED = /^(vdpbf16ps|vfmadd\d+ps)\s/;
const STACK_STORE = /^vmov\w*\s+%[xyz]mm\d+,.*\(%(rsp|rbp)\)/;

/** The innermost loop (a backward branch and the code it jumps over) that holds multiplications, or undefined. */
export function innermostMultiplyAddLoop(code: Instruction[]): Instruction[] | undefined {
    let best: Instruction[] | undefined;
    for (const branch of code) {
        const m = /^j\w+\s+([0-9a-f]+)\b/.exec(branch.text);
        if (!m) continue;
        const target = Number.parseInt(m[1]!, 16);
        if (target >= branch.address) continue;
        const body = code.filter((i) => i.address >= target && i.address <= branch.address);
        if (!body.some((i) => MULTIPLY.test(i.text))) continue;
        if (best === undefined || body.length < best.length) best = body;
    }
    return best;
}

/** For each type, the inner loop of the largest gemm_bloc tile in `library` (types without a kernel are absent). */
export function tinyBlasLoops(library: string): TinyBlasLoop[] {
    const largest = new Map<TinyBlasType, Symbol>();
    for (const s of gemmBlocSymbols(library)) {
        const type = typeOf(s.name);
        if (type === undefined) continue;
        const current = largest.get(type);
        if (current === undefined || tileOf(s.name) > tileOf(current.name)) largest.set(type, s);
    }
    const out: TinyBlasLoop[] = [];
    for (const [type, symbol] of largest) {
        const loop = innermostMultiplyAddLoop(disassemble(library, symbol)) ?? [];
        out.push({
            type,
            kernel: symbol.name,
            accumulators: tileOf(symbol.name),
            instructions: loop.length,
            multiplies: loop.filter((i) => MULTIPLY.test(i.text)).length,
            fused: loop.some((i) => FUSED.test(i.text)),
            stackStores: loop.filter((i) => STACK_STORE.test(i.text)).length,
        });
    }
    return out.sort((a, b) => a.type.localeCompare(b.type));
}
