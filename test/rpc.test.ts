/**
 * Layers on ggml RPC servers (the `rpc` load option, `llama-reward rpc-server`)
 * on loopback: two servers in processes of their own hold every layer of the
 * tiny model; rewards against the float64 reference with the exact settings,
 * and against the same model on the local CPU; an F16 model split between a
 * server and the local CPU; malformed and silent addresses at load; a server
 * killed mid-batch under an isolated model.
 */
import net from "node:net";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IsolatedRewardModel, RewardModel, type RewardModelError } from "../src/index.js";
import { addonInfo, backendDevices } from "../src/model/system.js";
import { loadReferenceModel, referenceRewards } from "./reference/llama-reference.js";
import { conversations, filler, requireFile, root, tinyF16, tinyF32 } from "./support/fixtures.js";
import { freePort } from "./support/serve-process.js";
import { startRpcServer, type RpcServerProcess } from "./support/rpc-server-process.js";
import { probeRpcServer } from "../src/model/rpc-servers.js";

const exact = { flashAttention: false, kvCacheType: "f32", batchSize: 256, threads: 1 } as const;
const cli = path.join(root, "dist", "src", "cli", "main.js");

async function rejection(promise: Promise<unknown>): Promise<RewardModelError> {
    try {
        await promise;
    } catch (error) {
        return error as RewardModelError;
    }
    throw new Error("expected a rejection");
}

function maxAbsError(a: number[], b: number[]): number {
    return Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
}

const cases = [
    ...conversations,
    [
        { role: "user", content: filler(600, 3) },
        { role: "assistant", content: filler(200, 4) },
    ],
];

describe("the RPC backend library", () => {
    it("is loaded next to the addon and listed among the backends", () => {
        expect(addonInfo().registries).toContain("RPC");
    });
});

describe("every layer on two loopback RPC servers", () => {
    let servers: RpcServerProcess[] = [];
    let remote: RewardModel;
    let local: RewardModel;

    beforeAll(async () => {
        requireFile(tinyF32);
        servers = await Promise.all([startRpcServer(1), startRpcServer(1)]);
        remote = await RewardModel.load(tinyF32, { ...exact, rpc: servers.map((s) => s.endpoint) });
        local = await RewardModel.load(tinyF32, exact);
    }, 120_000);

    afterAll(async () => {
        await remote?.dispose();
        await local?.dispose();
        for (const s of servers) s.child.kill("SIGKILL");
    });

    it("model.info puts every layer on the servers", () => {
        expect(remote.info.offloadedLayers).toBe(remote.info.layerCount + 1);
        expect(remote.info.rpc).toEqual(servers.map((s) => s.endpoint));
        expect(new Set(remote.info.rpc).size).toBe(2); // each server bound a port of its own
        expect(remote.info.gpu).toBeNull();
        expect(local.info.offloadedLayers).toBe(0);
        expect(local.info.rpc).toEqual([]);
    });

    it("rewards match the float64 reference within 1e-4 and the local CPU within 1e-5; speed noted", async () => {
        const reference = loadReferenceModel(tinyF32);
        const expected = cases.map((c) => referenceRewards(reference, local.tokenizeConversation(c))[0]!);
        let started = performance.now();
        const got = await remote.scoreBatch(cases);
        const remoteMs = performance.now() - started;
        started = performance.now();
        const onCpu = await local.scoreBatch(cases);
        const localMs = performance.now() - started;
        const tokens = cases.reduce((n, c) => n + local.tokenizeConversation(c).length, 0);
        console.log(
            `[rpc] ${cases.length} conversations, ${tokens} tokens: 2 RPC servers ${remoteMs.toFixed(0)} ms, local CPU ${localMs.toFixed(0)} ms (1 thread each); ` +
                `max |Δ| vs reference ${maxAbsError(got, expected).toExponential(3)}, vs local CPU ${maxAbsError(got, onCpu).toExponential(3)}`,
        );
        expect(maxAbsError(got, expected)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsError(got, onCpu)).toBeLessThanOrEqual(1e-5);
        expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-2); // the head is not constant
    });

    it("once the model is disposed and the servers are gone, listing devices and loading locally still work", async () => {
        await remote.dispose(); // frees the remote buffers while the servers are up
        for (const s of servers) {
            s.child.kill("SIGKILL");
            await s.exit;
        }
        // ggml aborts on any call that reaches a dead server: the devices of a server must not stay in ggml's list
        expect(backendDevices().some((d) => d.backend === "RPC")).toBe(false);
        const again = await RewardModel.load(tinyF32, exact);
        expect(await again.score(cases[0]!)).toBe(await local.score(cases[0]!));
        await again.dispose();
    });
});

describe("an F16 model split between an RPC server and this CPU", () => {
    // llama-reward's F16 kernel builds graph nodes of its own, which only the CPU can run. Each names its weight
    // as a source, so that ggml's scheduler places it by its weight; a node placed by its neighbours instead
    // would be moved to the RPC server (which accepts any node) next to the last local layer, and crash there.
    // Isolated, so that a crash is an error.
    it("the last layer on the server, the first here: rewards match the float64 reference as on this CPU alone", async () => {
        const server = await startRpcServer(1);
        let split: IsolatedRewardModel | undefined;
        let local: RewardModel | undefined;
        try {
            const model = await RewardModel.load(requireFile(tinyF16), { ...exact, rpc: [server.endpoint], gpuLayers: 1, isolate: true });
            split = model;
            local = await RewardModel.load(requireFile(tinyF16), exact);
            expect(model.info.offloadedLayers).toBe(1);
            const reference = loadReferenceModel(tinyF16);
            const expected = cases.map((c) => referenceRewards(reference, local!.tokenizeConversation(c))[0]!);
            const got = await model.scoreBatch(cases);
            const onCpu = await local.scoreBatch(cases);
            console.log(
                `[rpc] F16, 1 of ${model.info.layerCount} layers on the server: max |Δ| vs reference ${maxAbsError(got, expected).toExponential(3)}, this CPU alone ${maxAbsError(onCpu, expected).toExponential(3)}`,
            );
            // F16 activations on ggml's kernels (the server's, and this CPU's AMX one) against F32 ones: 5e-3 as
            // test/scoring-parity.test.ts allows an F16 model with the exact settings
            expect(maxAbsError(got, expected)).toBeLessThanOrEqual(5e-3);
            expect(maxAbsError(onCpu, expected)).toBeLessThanOrEqual(5e-3);
        } finally {
            await split?.dispose();
            await local?.dispose();
            server.child.kill("SIGKILL");
        }
    }, 120_000);
});

describe("bad RPC addresses at load", () => {
    it.each([["localhost"], ["127.0.0.1:0"], ["127.0.0.1:70000"], ["[::1]:50052"], ["127.0.0.1:50052/x"], [""]])(
        "%j is ERR_INVALID_OPTION",
        async (address) => {
            const e = await rejection(RewardModel.load(tinyF32, { rpc: [address] }));
            expect(e.code).toBe("ERR_INVALID_OPTION");
        },
    );

    it("an empty list and a repeated address are ERR_INVALID_OPTION", async () => {
        expect((await rejection(RewardModel.load(tinyF32, { rpc: [] }))).code).toBe("ERR_INVALID_OPTION");
        expect((await rejection(RewardModel.load(tinyF32, { rpc: ["127.0.0.1:9", "127.0.0.1:9"] }))).code).toBe("ERR_INVALID_OPTION");
    });

    it("a closed port is ERR_LOAD_FAILED at once", async () => {
        const port = await freePort();
        const started = Date.now();
        const e = await rejection(RewardModel.load(tinyF32, { rpc: [`127.0.0.1:${port}`] }));
        expect(e.code).toBe("ERR_LOAD_FAILED");
        expect(e.message).toContain(`127.0.0.1:${port} did not answer`);
        expect(Date.now() - started).toBeLessThan(5000);
    });

    it("a port that accepts but never answers is ERR_LOAD_FAILED within the 5 s probe, not a hang", async () => {
        const silent = net.createServer(() => {}); // accepts, reads nothing, says nothing
        await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
        const { port } = silent.address() as net.AddressInfo;
        try {
            const started = Date.now();
            const e = await rejection(RewardModel.load(tinyF32, { rpc: [`127.0.0.1:${port}`] }));
            expect(e.code).toBe("ERR_LOAD_FAILED");
            expect(e.message).toMatch(/no answer within 5000 ms/);
            expect(Date.now() - started).toBeLessThan(8000);
        } finally {
            silent.close();
        }
    });

    it("a server speaking another protocol is ERR_LOAD_FAILED", async () => {
        const http = net.createServer((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
        await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
        const { port } = http.address() as net.AddressInfo;
        try {
            const e = await rejection(RewardModel.load(tinyF32, { rpc: [`127.0.0.1:${port}`] }));
            expect(e.code).toBe("ERR_LOAD_FAILED");
        } finally {
            http.close();
        }
    });
});

describe("the CLI", () => {
    it("rpc-server refuses a non-loopback bind without --allow-remote (exit 2, says why)", () => {
        const r = spawnSync(process.execPath, [cli, "rpc-server", "--host", "0.0.0.0", "--port", "50999"], { encoding: "utf8" });
        expect(r.status).toBe(2);
        expect(r.stderr).toContain("no authentication");
        expect(r.stderr).toContain("--allow-remote");
    });

    it("rpc-server on a port in use exits 1 with ERR_LOAD_FAILED instead of claiming it is ready", async () => {
        const holder = net.createServer();
        await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
        const { port } = holder.address() as net.AddressInfo;
        try {
            const r = spawnSync(process.execPath, [cli, "rpc-server", "--port", String(port)], { encoding: "utf8", timeout: 30_000 });
            expect(r.status).toBe(1);
            expect(r.stdout).not.toContain("ready on");
            expect(r.stderr).toContain("ERR_LOAD_FAILED");
        } finally {
            holder.close();
        }
    });

    it("--port 0: the ready line names the port bound and is stdout's only line, also after clients came and went; each startup step and ggml's own lines are on stderr", async () => {
        const server = await startRpcServer(1);
        try {
            expect(server.endpoint).toMatch(/^127\.0\.0\.1:[1-9][0-9]*$/);
            for (let i = 0; i < 3; i++) await probeRpcServer(server.endpoint);
            // ggml prints two lines per connection from its own thread: once they are all on stderr, none reached stdout
            const closed = () => server.stderr().split("Client connection closed").length - 1;
            for (const until = Date.now() + 10_000; closed() < 4 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
            expect(closed()).toBe(4); // the startup handshake and ours
            expect(server.stdout()).toBe(`ready on ${server.endpoint}\n`);
            const steps = [
                "addon loaded",
                "ggml's server thread started (1 thread)",
                `listening on ${server.endpoint}`,
                "handshake 1: answered",
            ];
            for (const step of steps) expect(server.stderr()).toContain(step);
            expect(server.stderr()).toContain("Starting RPC server v6.0.0");
        } finally {
            server.child.kill("SIGKILL");
        }
    });

    it("SIGTERM stops rpc-server at once (its server loop blocks a thread that exit handlers would wait for)", async () => {
        const server = await startRpcServer(1);
        server.child.kill("SIGTERM");
        const stopped = await Promise.race([server.exit.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
        if (!stopped) server.child.kill("SIGKILL");
        expect(stopped).toBe(true);
    });

    it("--rpc with a malformed address is ERR_INVALID_OPTION (exit 2)", () => {
        const s = spawnSync(process.execPath, [cli, "score", "--model", tinyF32, "--rpc", "127.0.0.1:1,nope"], {
            encoding: "utf8",
            input: "",
        });
        expect(s.status).toBe(2);
        expect(s.stderr).toContain("--rpc");
        expect(s.stderr).toContain("ERR_INVALID_OPTION");
    });
});

describe("a server killed mid-batch", () => {
    it("isolated: the engine process dies (ggml aborts on a lost connection), ERR_ENGINE_CRASHED, Node survives", async () => {
        const servers = await Promise.all([startRpcServer(1), startRpcServer(1)]);
        try {
            const m = await RewardModel.load(tinyF32, { ...exact, rpc: servers.map((s) => s.endpoint), isolate: true });
            expect(m.info.rpc).toEqual(servers.map((s) => s.endpoint));
            const batch = Array.from({ length: 24 }, (_, i) => [
                { role: "user", content: filler(300, i + 1) },
                { role: "assistant", content: filler(100, i + 50) },
            ]);
            const started = Date.now();
            const e = await rejection(
                m.scoreBatch(batch, {
                    onProgress: (p) => {
                        if (p.completed === 1) servers[1]!.child.kill("SIGKILL");
                    },
                }),
            );
            expect(e.code).toBe("ERR_ENGINE_CRASHED");
            expect(e.message).toContain("Remote RPC server crashed"); // ggml's abort, from the engine's stderr
            expect(Date.now() - started).toBeLessThan(60_000);
            expect(m.usable).toBe(false);
            expect((await rejection(m.score(conversations[0]!))).code).toBe("ERR_ENGINE_CRASHED");
            await m.dispose();
            expect(servers[0]!.child.exitCode).toBeNull(); // the other server is still up
        } finally {
            for (const s of servers) s.child.kill("SIGKILL");
        }
    }, 120_000);
});
