// Two projects: "unit" tests run without the native addon (the loader is
// pointed at a file that does not exist, so a test that needs it fails), and
// "native" tests load llama.cpp. Files run one at a time in forked processes:
// native models are large and the machine has two cores.
import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        pool: "forks",
        fileParallelism: false,
        testTimeout: 120_000,
        hookTimeout: 120_000,
        projects: [
            {
                extends: true,
                test: {
                    name: "unit",
                    include: ["test/unit/**/*.test.ts"],
                    env: { LLAMA_REWARD_ADDON_PATH: "/nonexistent/unit-tests-run-without-the-addon.node" },
                },
            },
            {
                extends: true,
                test: { name: "native", include: ["test/**/*.test.ts"], exclude: ["test/unit/**"] },
            },
        ],
    },
});
