/**
 * Progress for long benchmark steps: a redrawn line on a terminal, and a
 * plain line every 10% (or every 15 s) when output goes to a file or pipe.
 */
export class ProgressLine {
    private readonly started = Date.now();
    private readonly tty = Boolean(process.stderr.isTTY);
    private lastShare = -1;
    private lastPrint = 0;

    constructor(private readonly label: string) {}

    update(done: number, total: number, detail = ""): void {
        const share = total > 0 ? Math.min(1, done / total) : 0;
        const now = Date.now();
        const seconds = (now - this.started) / 1000;
        const eta = share > 0 && share < 1 ? ` eta ${Math.round(seconds / share - seconds)} s` : "";
        const line = `${this.label}: ${(share * 100).toFixed(0).padStart(3)}% ${seconds.toFixed(0)} s${eta} ${detail}`.trimEnd();
        if (this.tty) {
            if (now - this.lastPrint < 200 && share < 1) return;
            this.lastPrint = now;
            process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 100) - 1).padEnd(Math.min(line.length, 99))}`);
            return;
        }
        const step = Math.floor(share * 10);
        if (step > this.lastShare || now - this.lastPrint > 15_000) {
            this.lastShare = step;
            this.lastPrint = now;
            process.stderr.write(`${line}\n`);
        }
    }

    done(summary: string): void {
        const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
        process.stderr.write(`${this.tty ? "\r\x1b[K" : ""}${this.label}: ${summary} (${seconds} s)\n`);
    }
}
