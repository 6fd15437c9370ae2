/**
 * Admission control of the reward server: counts the sequences that server
 * requests have queued or decoding in the model's scheduler, and refuses a
 * request (429 with Retry-After) that would push the count past --max-queue.
 */
import { HttpError } from "./http-error.js";

export class Admission {
    private depthNow = 0;

    constructor(readonly maxQueue: number) {}

    /** Sequences queued or decoding for server requests. */
    get depth(): number {
        return this.depthNow;
    }

    /** Reserves `n` sequences; returns the function that gives them back (idempotent). */
    acquire(n: number): () => void {
        if (n > this.maxQueue) {
            throw new HttpError(
                413,
                "ERR_TOO_MANY_ITEMS",
                `the request has ${n} sequences but the server queues at most ${this.maxQueue} (--max-queue)`,
            );
        }
        if (this.depthNow + n > this.maxQueue) {
            throw new HttpError(429, "ERR_QUEUE_FULL", `the queue is full (${this.depthNow} of ${this.maxQueue} sequences); retry later`, {
                "Retry-After": "1",
            });
        }
        this.depthNow += n;
        let released = false;
        return () => {
            if (released) return;
            released = true;
            this.depthNow -= n;
        };
    }
}
