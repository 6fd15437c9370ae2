/**
 * Turning the text of a command-line flag into a value: the one integer
 * parser, the one number parser and the one choice parser every
 * `llama-reward` command uses. A bad
 * value is a RewardModelError ERR_INVALID_OPTION that names the flag.
 */
import { invalidArgument } from "../errors.js";

/**
 * The integer in `text`, at least `min` and at most `max`, or undefined when
 * the flag was not given. `min` is named at every call site: 1 for counts
 * and sizes, 0 where zero means something (a port, no GPU layers).
 */
export function integerFlag(text: string | undefined, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (text === undefined) return undefined;
    const n = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
        const range = max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
        throw invalidArgument(`--${flag} must be ${range}, got "${text}"`);
    }
    return n;
}

/** The finite number in `text`, more than `above` when given, or undefined when the flag was not given. */
export function numberFlag(text: string | undefined, flag: string, above?: number): number | undefined {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n)) throw invalidArgument(`--${flag} must be a number, got "${text}"`);
    if (above !== undefined && !(n > above)) throw invalidArgument(`--${flag} must be a number above ${above}, got "${text}"`);
    return n;
}

/** `text` when it is one of `allowed`, or undefined when the flag was not given. */
export function choiceFlag<T extends string>(text: string | undefined, flag: string, allowed: readonly T[]): T | undefined {
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) {
        throw invalidArgument(`--${flag} must be one of ${allowed.join(", ")}, got "${text}"`);
    }
    return text as T;
}
