/**
 * Hostile text for the tokenizer, the chat template and the CLI: random
 * Unicode from every plane, lone surrogates, NUL and control bytes,
 * combining marks, every special-token text of the vocabulary, template
 * syntax, and very long strings. Deterministic by seed.
 */
import type { Rng } from "./prng.js";

const PIECES = [
    "\u0000",
    "\u0001",
    "\u001b[31m",
    "\ud800",
    "\udfff",
    "\udc00\ud800",
    "\ud83d",
    "\ude00",
    "\ud83d\ude00",
    "\u200b",
    "\u200d",
    "\u202e",
    "\ufeff",
    "\ufffd",
    "\uffff",
    "\u2028",
    "\u2029",
    "\r\n",
    "\r",
    "\t",
    " ",
    "e\u0301\u0301\u0301",
    "\u0928\u093f",
    "中文",
    "العربية",
    "𝕏𝕐",
    "🏳️‍🌈",
    "\u{10ffff}",
    "\u{e0001}",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "'",
    '"',
    "\\",
    "<|",
    "|>",
    "<s>",
    "</s>",
    "[INST]",
    "Ġ",
    "Ċ",
    "ĠĠĠĠ",
];

/** A random string of up to `maxLength` UTF-16 units mixing code points, hostile pieces and special-token texts. */
export function hostileText(rng: Rng, specials: readonly string[], maxLength = 200): string {
    const target = rng.int(maxLength + 1);
    let s = "";
    while (s.length < target) {
        const r = rng.int(10);
        if (r < 3) s += rng.pick(PIECES);
        else if (r < 5 && specials.length > 0) s += rng.pick(specials);
        else if (r < 7)
            s += String.fromCharCode(rng.int(0x10000)); // any UTF-16 unit, surrogates included
        else if (r < 8) s += String.fromCodePoint(0x10000 + rng.int(0x100000));
        else s += String.fromCharCode(0x20 + rng.int(0x5f));
    }
    return s;
}
