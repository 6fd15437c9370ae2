/**
 * The models the server serves: a RewardModel, or an IsolatedRewardModel
 * whose engine process may die; engineCrash() says whether it has, for
 * /health and the server's state.
 */
import type { RewardModelError } from "../errors.js";
import { IsolatedRewardModel } from "../model/isolation/isolated-reward-model.js";
import type { RewardModel } from "../model/reward-model.js";

export type ServedModel = RewardModel | IsolatedRewardModel;

/** The ERR_ENGINE_CRASHED error of an isolated model whose engine has died; undefined otherwise. */
export function engineCrash(model: ServedModel | undefined): RewardModelError | undefined {
    return model instanceof IsolatedRewardModel ? model.crash : undefined;
}
