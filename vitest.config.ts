// Tests run in forked processes, one file at a time: native models are large
// and the machine has two cores.
import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        pool: "forks",
        fileParallelism: false,
        testTimeout: 120_000,
        hookTimeout: 120_000,
    },
});
