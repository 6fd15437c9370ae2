/**
 * Two replicas of `llama-reward serve` behind nginx on loopback, configured
 * by examples/nginx/nginx.conf, driven by OpenRLHF's client
 * (test/support/openrlhf-client.ts: its request body, chunking and retries):
 * the batch chunked over the two replica URLs gets the rewards the balancer
 * URL gets; then, under load through the balancer, one replica gets SIGTERM
 * and, while it drains, SIGKILL; every request still gets the reference
 * reward after nginx's failover and the client's retries; the replica is
 * restarted and nginx sends it requests again. Without nginx the test is
 * skipped, unless LLAMA_REWARD_REQUIRE_NGINX=1 (CI) makes that a failure.
 * The tiny model has random weights: only equality of numbers is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RewardModel, type ChatMessage } from "../src/index.js";
import { filler, tinyF32 } from "./support/fixtures.js";
import { findNginx, startBalancer, type Balancer } from "./support/nginx.js";
import { fetchRemoteRewards, flatRewards } from "./support/openrlhf-client.js";
import { freePort, startServe, type ServeProcess } from "./support/serve-process.js";
import { get, metric, waitFor } from "./support/server-client.js";

const nginx = findNginx();
const required = process.env.LLAMA_REWARD_REQUIRE_NGINX === "1";
const tolerance = 1e-4;
const load = ["--context-size", "2048", "--parallel", "4"];
// Replica A decodes 32 tokens a step, so a request takes many steps and is still in flight when it is killed.
const slowLoad = ["--context-size", "2048", "--parallel", "2", "--batch-size", "32"];

function conversation(i: number): ChatMessage[] {
    return [
        { role: "user", content: `${i} ${filler(120 + (i % 7) * 20, 500 + i)}` },
        { role: "assistant", content: filler(30, 900 + i) },
    ];
}

describe.skipIf(nginx === undefined && !required)("replicas behind nginx", () => {
    let model: RewardModel;
    let queries: string[];
    let expected: number[];
    let portA: number;
    let replicaA: ServeProcess | undefined;
    let replicaB: ServeProcess | undefined;
    let balancer: Balancer | undefined;

    beforeAll(async () => {
        if (nginx === undefined) throw new Error("LLAMA_REWARD_REQUIRE_NGINX=1 but nginx is not installed (apt-get install nginx)");
        model = await RewardModel.load(tinyF32, { contextSize: 2048, parallel: 4 });
        queries = Array.from({ length: 36 }, (_, i) => model.render(conversation(i)));
        expected = [];
        for (const q of queries) expected.push(await model.scoreTokens(model.tokenize(q, { special: true, addSpecial: false })));
        portA = await freePort();
        const portB = await freePort();
        [replicaA, replicaB] = await Promise.all([
            startServe(["--model", tinyF32, "--port", String(portA), ...slowLoad]),
            startServe(["--model", tinyF32, "--port", String(portB), ...load]),
        ]);
        balancer = await startBalancer(nginx, await freePort(), [portA, portB]);
    });

    afterAll(async () => {
        await balancer?.stop();
        for (const replica of [replicaA, replicaB]) {
            replica?.child.kill("SIGTERM");
            await replica?.exit;
        }
        await model?.dispose();
    });

    function expectRewards(actual: number[], from: number): void {
        actual.forEach((r, i) => expect(Math.abs(r - expected[from + i]!), `query ${from + i}`).toBeLessThan(tolerance));
    }

    it("OpenRLHF's batch over the two replica URLs gets the rewards the balancer URL gets", async () => {
        const prompts = queries.map((_, i) => `prompt ${i}`);
        const labels = queries.map(() => "");
        const batch = queries.slice(0, 12);
        const direct = await fetchRemoteRewards([`${replicaA!.url}/get_reward`, `${replicaB!.url}/get_reward`], batch, prompts, labels);
        expect(direct.map((r) => r.rewards.length)).toEqual([6, 6]);
        const balanced = await fetchRemoteRewards([`${balancer!.url}/get_reward`], batch, prompts, labels);
        expectRewards(flatRewards(direct), 0);
        expectRewards(flatRewards(balanced), 0);
    });

    it("a replica killed mid-load (SIGTERM, then SIGKILL): every request gets its reward; restarted, it serves again", async () => {
        const url = `${balancer!.url}/get_reward`;
        const batch = 3;
        const starts = Array.from({ length: queries.length / batch }, (_, i) => i * batch);
        const jobs = [...starts, ...starts]; // 24 requests of 3 queries
        const failedTries: string[] = [];
        let next = 0;
        let done = 0;
        const client = async () => {
            while (next < jobs.length) {
                const from = jobs[next++]!;
                const slice = queries.slice(from, from + batch);
                const [reply] = await fetchRemoteRewards([url], slice, slice, slice, {
                    onFailedTry: (_u, error) => failedTries.push(error.message),
                });
                expectRewards(reply!.rewards, from);
                done++;
            }
        };
        const clients = Array.from({ length: 6 }, client);

        // Once a third of the requests are answered and replica A has sequences in flight: SIGTERM, then SIGKILL as it drains.
        const statusA = async () => metric((await get(replicaA!.url, "/metrics")).text, "llama_reward_queue_depth") ?? 0;
        while (done < jobs.length / 3 || (await statusA()) === 0) await new Promise((r) => setTimeout(r, 5));
        const killed = replicaA!;
        killed.child.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 50));
        killed.child.kill("SIGKILL");
        expect(await killed.exit).toBeNull(); // killed by the signal, not drained to exit 0
        expect(killed.stderr()).toMatch(/SIGTERM, finishing requests in flight/);

        await Promise.all(clients);
        const scoredLines = () => balancer!.accessLog().filter((l) => l.includes("POST /get_reward"));
        // nginx writes a request's log line after its reply: wait for the last ones (the first test sent one more).
        await waitFor(() => scoredLines().length >= 1 + jobs.length, 5000, "nginx's access log");
        const scored = scoredLines();
        expect(scored.every((l) => / 200 [\d.]+ upstream=/.test(l))).toBe(true); // nginx answered every one with 200
        const failedOver = scored.filter((l) => /upstream=\S+, \S+/.test(l));
        expect(failedOver.length).toBeGreaterThan(0); // at least one request was passed on from the dying replica

        // Restarted on its port, the replica is sent requests again once nginx's fail_timeout (5 s) has passed.
        // Rounds of 8 requests until nginx's log shows one answered by it (each round's lines are waited for:
        // nginx writes them after the replies), for at most 20 s; nginx's clock for the timeout is its own.
        replicaA = await startServe(["--model", tinyF32, "--port", String(portA), ...load]);
        await new Promise((r) => setTimeout(r, 5500));
        const servedByA = (l: string) => l.endsWith(`upstream=127.0.0.1:${portA} upstream_status=200`);
        let rounds = 0;
        let restartedServed = false;
        for (const deadline = Date.now() + 20_000; !restartedServed && Date.now() < deadline; rounds++) {
            const before = scoredLines().length;
            await Promise.all(
                starts.slice(0, 8).map(async (from) => {
                    const slice = queries.slice(from, from + batch);
                    const [reply] = await fetchRemoteRewards([url], slice, slice, slice);
                    expectRewards(reply!.rewards, from);
                }),
            );
            await waitFor(() => scoredLines().length >= before + 8, 5000, "nginx's access log");
            restartedServed = scoredLines().slice(before).some(servedByA);
        }
        expect(restartedServed, `no request reached the restarted replica in ${rounds} rounds of 8`).toBe(true);
        const errors = balancer!.errorLog();
        const count = (pattern: RegExp) => (errors.match(pattern) ?? []).length;
        console.log(
            `replicas behind nginx: ${jobs.length} requests of ${batch} queries through the balancer, replica A killed mid-load; ` +
                `${failedOver.length} passed on by nginx to the other replica (nginx saw ${count(/prematurely closed|reset by peer/g)} ` +
                `replies cut off, ${count(/Connection refused/g)} connections refused), ${failedTries.length} failed client tries` +
                `${failedTries.length > 0 ? ` (${[...new Set(failedTries)].join("; ")})` : ""}; restarted, it answered within ${rounds} round(s) of 8`,
        );
    });
});
