/**
 * A headless Chromium for tests that look at pages: Debian's `chromium`
 * (never a downloaded browser) driven by puppeteer-core. `findChromium`
 * says where it is, or undefined when it is not installed.
 */
import fs from "node:fs";

const candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

export function findChromium(): string | undefined {
    const fromEnv = process.env.LLAMA_REWARD_CHROMIUM;
    if (fromEnv) return fromEnv;
    return candidates.find((c) => fs.existsSync(c));
}
