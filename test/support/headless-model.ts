/**
 * A copy of a reward model without its head (what a chat model looks like to
 * llama-reward): cls.output.*, the label list and the pooling type dropped,
 * every other tensor and key unchanged. Written with src/gguf/gguf-rewrite.ts.
 */
import { rewriteGguf } from "../../src/gguf/gguf-rewrite.js";

export function writeHeadlessCopy(rewardModel: string, out: string): string {
    rewriteGguf(rewardModel, out, {
        dropTensors: (name) => name.startsWith("cls.output."),
        dropKeys: (key) => key === "llama.classifier.output_labels" || key === "llama.pooling_type",
    });
    return out;
}
