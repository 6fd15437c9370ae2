// The bench's PyTorch peer check (tools/bench/torch-peer.ts): when the bf16 peer's rewards miss the bar against
// llama-reward's, the fp32 forward of the same weights decides whether the difference is the peer's own rounding
// (its speed is then compared) or a different computation (it is not).
import { describe, expect, it } from "vitest";
import { arbitrate, rewardAgreement, type TorchResult } from "../../tools/bench/torch-peer.js";

/**
 * A peer result holding only what the agreement reads: the rewards of the conversations in `order` (workload
 * indices), in that order, as a peer lists them (peers score in their own batch order).
 */
function peer(rewards: readonly number[], order: readonly number[] = forward): Pick<TorchResult, "indices" | "rewards"> {
    return { indices: [...order], rewards: order.map((i) => rewards[i]!) };
}

// 40 rewards spread over 0.4, and a deterministic wobble in [-1, 1]
const fp32 = Array.from({ length: 40 }, (_, i) => -0.2 + (0.4 * ((i * 17) % 40)) / 39);
const wobble = (i: number): number => Math.sin(i * 2.3);
const forward = fp32.map((_, i) => i);
const backward = [...forward].reverse();
const rotated = forward.map((i) => (i + 13) % forward.length);

describe("the fp32 arbiter of the PyTorch peer", () => {
    const ours = fp32.map((x, i) => x + 1e-3 * wobble(i)); // activation rounding only
    // small rounding everywhere and one conversation off by 6% of the spread: misses the 5% bar against ours
    const bf16 = fp32.map((x, i) => x + 0.006 * wobble(i + 7) + (i === 5 ? 0.024 : 0));

    it("finds the bf16 peer's own rounding where ours sits on the fp32 forward", () => {
        expect(rewardAgreement(ours, peer(bf16, backward)).agree).toBe(false);
        // the peers list the conversations in other orders: rewards are matched by workload index
        const a = arbitrate(ours, peer(bf16, backward), peer(fp32, rotated));
        expect(a.oursVsFp32.agree).toBe(true);
        expect(a.bf16VsFp32.correlation).toBeGreaterThan(0.995);
        expect(a.sameModel).toBe(true);
    });

    it("does not excuse a disagreement where ours is the one off the fp32 forward", () => {
        const offOurs = fp32.map((x, i) => x + 0.03 * wobble(i + 3));
        const a = arbitrate(offOurs, peer(ours), peer(fp32));
        expect(a.oursVsFp32.agree).toBe(false);
        expect(a.sameModel).toBe(false);
    });

    it("does not excuse a disagreement where ours misses the fp32 forward, even with the peer further off", () => {
        const oursOff = fp32.map((x, i) => x + 0.03 * wobble(i + 3)); // over the bar against fp32
        const furtherPeer = fp32.map((x, i) => x + 0.003 * wobble(i) + (i === 9 ? 0.05 : 0)); // further, still correlated
        const a = arbitrate(oursOff, peer(furtherPeer, rotated), peer(fp32, backward));
        expect(a.oursVsFp32.agree).toBe(false);
        expect(a.bf16VsFp32.correlation).toBeGreaterThan(0.995);
        expect(a.oursVsFp32.maxAbsDiff).toBeLessThan(a.bf16VsFp32.maxAbsDiff);
        expect(a.sameModel).toBe(false);
    });

    it("measures both distances against the fp32 forward's spread", () => {
        const a = arbitrate(ours, peer(bf16, backward), peer(fp32, rotated));
        expect(a.oursVsFp32.spread).toBeCloseTo(0.4, 10);
        expect(a.bf16VsFp32.spread).toBeCloseTo(0.4, 10);
    });

    it("does not excuse a bf16 peer that computes something else", () => {
        const other = fp32.map((_, i) => wobble(i * 5) * 0.2); // uncorrelated with the model's rewards
        const a = arbitrate(ours, peer(other), peer(fp32));
        expect(a.bf16VsFp32.correlation).toBeLessThan(0.995);
        expect(a.sameModel).toBe(false);
    });

    it("does not excuse it when ours is further from the fp32 forward than the bf16 peer", () => {
        const oursOff = fp32.map((x, i) => x + 0.015 * wobble(i)); // within the bar, but the peer is closer
        const closePeer = fp32.map((x, i) => x + 0.005 * wobble(i + 11));
        const a = arbitrate(oursOff, peer(closePeer), peer(fp32));
        expect(a.oursVsFp32.agree).toBe(true);
        expect(a.sameModel).toBe(false);
    });
});
