/**
 * Errors of the reward server: one JSON shape for every failure,
 * {"error": {"message", "type", "code"}}, and the HTTP status each
 * RewardModelError code maps to.
 */
import { isRewardModelError } from "../errors.js";

/** The status nginx uses for "the client closed the request"; never sent, only counted. */
export const clientClosedStatus = 499;

export class HttpError extends Error {
    override readonly name = "HttpError";

    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
        readonly headers: Readonly<Record<string, string>> = {},
    ) {
        super(message);
    }

    /** OpenAI-style error type for the status. */
    get type(): string {
        return errorType(this.status);
    }

    toJSON(): { error: { message: string; type: string; code: string } } {
        return { error: { message: this.message, type: this.type, code: this.code } };
    }
}

function errorType(status: number): string {
    switch (status) {
        case 401:
            return "authentication_error";
        case 404:
            return "not_found_error";
        case 429:
            return "rate_limit_error";
        case 503:
            return "service_unavailable";
        default:
            return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

/** A 422 for a body that has the wrong shape. */
export function invalidBody(message: string): HttpError {
    return new HttpError(422, "ERR_INVALID_REQUEST", message);
}

/** The HTTP form of any error a handler throws. */
export function toHttpError(error: unknown): HttpError {
    if (error instanceof HttpError) return error;
    if (isRewardModelError(error)) {
        switch (error.code) {
            case "ERR_CONTEXT_OVERFLOW":
                return new HttpError(413, error.code, error.message);
            case "ERR_INVALID_MESSAGES":
            case "ERR_INVALID_TOKENS":
            case "ERR_INVALID_OPTION":
            case "ERR_TEMPLATE":
            case "ERR_NOT_MULTI_OBJECTIVE":
                return new HttpError(422, error.code, error.message);
            case "ERR_ABORTED":
                return new HttpError(clientClosedStatus, error.code, error.message);
            case "ERR_DISPOSED":
            case "ERR_ENGINE_CRASHED": // an isolated engine died: the server restarts nothing, /health says why
                return new HttpError(503, error.code, error.message);
            default:
                return new HttpError(500, error.code, error.message);
        }
    }
    const message = error instanceof Error ? error.message : String(error);
    return new HttpError(500, "ERR_INTERNAL", message);
}
