/**
 * The reward server's public surface: createServer and its types.
 */
export { createServer } from "./server.js";
export type { RewardServer, ListenAddress, ServerOptions, ServerState } from "./server.js";
