/**
 * The loader and GPU selection without the addon (the unit project points
 * LLAMA_REWARD_ADDON_PATH at a missing file): the order of candidates, the
 * ERR_NATIVE_NOT_BUILT message, and how the `gpu` option picks a backend or
 * explains why it cannot. The addon itself loading in workers, forked
 * processes and moved folders is test/addon-environments.test.ts.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isRewardModelError, systemInfo } from "../../src/index.js";
import { selectGpu, offloadedLayerCount, type GpuEnvironment } from "../../src/model/gpu.js";
import { addonCandidates } from "../../src/addon/load-addon.js";
import type { NativeDevice } from "../../src/addon/native-types.js";
import { packageRoot } from "../../src/package-root.js";

const root = packageRoot();

describe("candidates", () => {
    it("LLAMA_REWARD_ADDON_PATH, when set, is the only candidate", () => {
        expect(addonCandidates({ LLAMA_REWARD_ADDON_PATH: "/x/y.node" })).toEqual([{ source: "env", path: "/x/y.node" }]);
    });

    it("otherwise the local build comes first, then the prebuilt package", () => {
        const c = addonCandidates({});
        expect(c.map((x) => x.source)).toEqual(["local", "prebuilt"]);
        expect(c[0]!.path).toBe(path.join(root, "build", "Release", "llama_reward.node"));
        expect(c[1]!.path).toContain(`@llama-reward/${process.platform}-${process.arch}`);
    });

    it("nothing loadable: ERR_NATIVE_NOT_BUILT says what was tried and names `npx llama-reward build`", () => {
        expect(process.env.LLAMA_REWARD_ADDON_PATH).toMatch(/nonexistent/);
        let error: unknown;
        try {
            systemInfo();
        } catch (e) {
            error = e;
        }
        expect(isRewardModelError(error, "ERR_NATIVE_NOT_BUILT")).toBe(true);
        const message = (error as Error).message;
        expect(message).toContain(process.env.LLAMA_REWARD_ADDON_PATH);
        expect(message).toContain("npx llama-reward build");
        expect(message).toContain("LLAMA_REWARD_BUILD_FROM_SOURCE");
    });
});

describe("gpu option", () => {
    const cpu: NativeDevice = { name: "CPU", description: "cpu", type: "cpu", backend: "CPU", memoryTotal: 0, memoryFree: 0 };
    const vk: NativeDevice = { name: "Vulkan0", description: "gpu", type: "gpu", backend: "Vulkan", memoryTotal: 0, memoryFree: 0 };
    const cuda: NativeDevice = { name: "CUDA0", description: "nv", type: "gpu", backend: "CUDA", memoryTotal: 0, memoryFree: 0 };
    const env = (devices: NativeDevice[], extra: Partial<GpuEnvironment["status"]> = {}): GpuEnvironment => ({
        devices,
        platform: "linux",
        arch: "x64",
        status: {
            dynamicBackends: true,
            registries: [...new Set(devices.map((d) => d.backend))],
            failures: [],
            ggmlPackageVersion: "3.21.1",
            ...extra,
        },
    });

    it("auto prefers CUDA, then Vulkan, then the CPU; false is the CPU", () => {
        expect(selectGpu("auto", env([cpu, vk, cuda]))).toEqual({ backend: "cuda", devices: ["CUDA0"] });
        expect(selectGpu("auto", env([cpu, vk]))).toEqual({ backend: "vulkan", devices: ["Vulkan0"] });
        expect(selectGpu("auto", env([cpu]))).toEqual({ backend: null, devices: [] });
        expect(selectGpu(false, env([cpu, vk, cuda]))).toEqual({ backend: null, devices: [] });
        expect(selectGpu("vulkan", env([cpu, vk, cuda]))).toEqual({ backend: "vulkan", devices: ["Vulkan0"] });
    });

    it("auto on Apple silicon prefers Metal", () => {
        const metal: NativeDevice = { ...vk, name: "Metal", backend: "Metal" };
        expect(selectGpu("auto", { ...env([cpu, metal, vk]), platform: "darwin", arch: "arm64" }).backend).toBe("metal");
    });

    it("a named backend that is missing rejects with a reason saying what to install", () => {
        const reason = (fn: () => unknown) => {
            try {
                fn();
            } catch (e) {
                expect(isRewardModelError(e, "ERR_GPU_UNAVAILABLE")).toBe(true);
                return (e as Error).message;
            }
            throw new Error("did not throw");
        };
        expect(reason(() => selectGpu("cuda", env([cpu])))).toContain("@node-llama-cpp/linux-x64-cuda@3.21.1");
        expect(
            reason(() =>
                selectGpu(
                    "cuda",
                    env([cpu], {
                        failures: [
                            { backend: "cuda", library: "/x/libggml-cuda.so", error: "libcudart.so.13: cannot open shared object file" },
                        ],
                    }),
                ),
            ),
        ).toContain("libcudart.so.13");
        expect(reason(() => selectGpu("vulkan", env([cpu], { registries: ["CPU", "Vulkan"] })))).toContain("GGML_VK_VISIBLE_DEVICES");
        expect(reason(() => selectGpu("vulkan", env([cpu], { dynamicBackends: false })))).toContain("LLAMA_REWARD_GPU=vulkan");
        expect(reason(() => selectGpu("metal", env([cpu])))).toContain("only on macOS");
    });

    it("offloaded layers count the output layer, as llama.cpp does", () => {
        expect(offloadedLayerCount({ backend: "vulkan", devices: ["Vulkan0"] }, "max", 16)).toBe(17);
        expect(offloadedLayerCount({ backend: "vulkan", devices: ["Vulkan0"] }, 5, 16)).toBe(5);
        expect(offloadedLayerCount({ backend: "vulkan", devices: ["Vulkan0"] }, 99, 16)).toBe(17);
        expect(offloadedLayerCount({ backend: null, devices: [] }, "max", 16)).toBe(0);
    });
});
