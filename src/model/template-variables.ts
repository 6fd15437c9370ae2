/**
 * Template variables: extra names the chat template reads (the
 * `templateVariables` load option), e.g. `{ date_string: "26 Jul 2024" }`,
 * which pins the date Llama-3.1/3.2 templates write into every conversation.
 * This module validates them (plain JSON values, names a template can read,
 * never one of the names the renderer itself sets) and freezes a copy.
 */
import { invalidArgument } from "../errors.js";

/** A JSON value, as a template variable holds it. */
export type TemplateValue = string | number | boolean | null | TemplateValue[] | { [key: string]: TemplateValue };

/**
 * Names the renderer sets for every conversation (docs/format.md §1), and the
 * globals @huggingface/jinja defines as transformers does (strftime_now,
 * raise_exception, range): a variable may not replace them.
 */
export const reservedTemplateNames: readonly string[] = [
    "messages",
    "bos_token",
    "eos_token",
    "add_generation_prompt",
    "strftime_now",
    "raise_exception",
    "range",
];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_DEPTH = 32;

function copyValue(value: unknown, where: string, depth: number): TemplateValue {
    if (depth > MAX_DEPTH) throw invalidArgument(`${where} is nested more than ${MAX_DEPTH} levels deep`);
    if (value === null || typeof value === "string" || typeof value === "boolean") return value;
    if (typeof value === "number") {
        if (!Number.isFinite(value)) throw invalidArgument(`${where} must be a finite number, got ${String(value)}`);
        return value;
    }
    if (Array.isArray(value)) return Object.freeze(value.map((v, i) => copyValue(v, `${where}[${i}]`, depth + 1))) as TemplateValue[];
    if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        const out: Record<string, TemplateValue> = {};
        for (const [k, v] of Object.entries(value)) out[k] = copyValue(v, `${where}.${k}`, depth + 1);
        return Object.freeze(out);
    }
    throw invalidArgument(`${where} must be a JSON value (string, number, boolean, null, array or plain object), got ${typeof value}`);
}

/** Validates the `templateVariables` option and returns a frozen deep copy (ERR_INVALID_OPTION otherwise). */
export function resolveTemplateVariables(value: unknown): Readonly<Record<string, TemplateValue>> {
    if (value === undefined) return Object.freeze({});
    if (typeof value !== "object" || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) {
        throw invalidArgument("templateVariables must be a plain object of name → JSON value");
    }
    const out: Record<string, TemplateValue> = {};
    for (const [name, v] of Object.entries(value)) {
        if (!IDENTIFIER.test(name)) throw invalidArgument(`templateVariables: ${JSON.stringify(name)} is not a name a template can read`);
        if (reservedTemplateNames.includes(name)) {
            throw invalidArgument(`templateVariables: "${name}" is set by the renderer and cannot be replaced`);
        }
        out[name] = copyValue(v, `templateVariables.${name}`, 1);
    }
    return Object.freeze(out);
}
