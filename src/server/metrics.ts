/**
 * Prometheus metrics of the reward server, in the text exposition format:
 * requests by route and status, a request latency histogram by route, and
 * the model's decode steps, tokens and queue depth read at scrape time.
 */

/** Latency histogram bucket bounds, seconds. */
const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface Histogram {
    counts: number[]; // one per bucket, not cumulative
    sum: number;
    count: number;
}

export interface MetricsSnapshot {
    decodeSteps: number;
    tokens: number;
    queueDepth: number;
    requestsInFlight: number;
}

export class Metrics {
    private readonly requests = new Map<string, number>(); // `${route}\0${status}` -> count
    private readonly latency = new Map<string, Histogram>(); // route -> histogram

    /** Counts a finished request and its latency. */
    observe(route: string, status: number, seconds: number): void {
        const key = `${route}\0${status}`;
        this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
        let h = this.latency.get(route);
        if (!h) {
            h = { counts: latencyBuckets.map(() => 0), sum: 0, count: 0 };
            this.latency.set(route, h);
        }
        const bucket = latencyBuckets.findIndex((bound) => seconds <= bound);
        if (bucket >= 0) h.counts[bucket]!++;
        h.sum += seconds;
        h.count++;
    }

    /** The Prometheus text for the counters plus the model's current figures. */
    render(now: MetricsSnapshot): string {
        const lines: string[] = [];
        const metric = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

        metric("llama_reward_requests_total", "counter", "HTTP requests by route and status.");
        for (const [key, count] of [...this.requests].sort()) {
            const [route, status] = key.split("\0") as [string, string];
            lines.push(`llama_reward_requests_total{route="${label(route)}",status="${status}"} ${count}`);
        }
        metric("llama_reward_request_duration_seconds", "histogram", "Request latency by route.");
        for (const [route, h] of [...this.latency].sort(([a], [b]) => a.localeCompare(b))) {
            let cumulative = 0;
            latencyBuckets.forEach((bound, i) => {
                cumulative += h.counts[i]!;
                lines.push(`llama_reward_request_duration_seconds_bucket{route="${label(route)}",le="${bound}"} ${cumulative}`);
            });
            lines.push(`llama_reward_request_duration_seconds_bucket{route="${label(route)}",le="+Inf"} ${h.count}`);
            lines.push(`llama_reward_request_duration_seconds_sum{route="${label(route)}"} ${h.sum}`);
            lines.push(`llama_reward_request_duration_seconds_count{route="${label(route)}"} ${h.count}`);
        }
        metric("llama_reward_decode_steps_total", "counter", "llama_decode steps run by the model's scheduler.");
        lines.push(`llama_reward_decode_steps_total ${now.decodeSteps}`);
        metric("llama_reward_tokens_total", "counter", "Tokens decoded by the model's scheduler.");
        lines.push(`llama_reward_tokens_total ${now.tokens}`);
        metric("llama_reward_queue_depth", "gauge", "Sequences of server requests queued or being decoded.");
        lines.push(`llama_reward_queue_depth ${now.queueDepth}`);
        metric("llama_reward_requests_in_flight", "gauge", "HTTP requests being served.");
        lines.push(`llama_reward_requests_in_flight ${now.requestsInFlight}`);
        return `${lines.join("\n")}\n`;
    }
}

function label(value: string): string {
    return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
