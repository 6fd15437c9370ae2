/**
 * The one progress display of the command line and the tools: a redrawn
 * one-line bar on stderr when it is a terminal; otherwise nothing, or, with
 * `plainLines`, a plain line every 10% (or every 15 s) for logs and pipes.
 */

export interface ProgressBarOptions {
    /** Where to draw. Default: process.stderr. */
    stream?: NodeJS.WriteStream;
    /** Off a terminal, print a plain line every 10% (or every 15 s) and the summary of finish(). Default: false (silent). */
    plainLines?: boolean;
}

export class ProgressBar {
    private readonly started = Date.now();
    private readonly stream: NodeJS.WriteStream;
    private readonly tty: boolean;
    private readonly plainLines: boolean;
    private lastDraw = 0;
    private lastTenth = -1;

    constructor(
        private readonly label: string,
        private total: number,
        options: ProgressBarOptions = {},
    ) {
        this.stream = options.stream ?? process.stderr;
        this.tty = Boolean(this.stream.isTTY) && process.env.CI === undefined;
        this.plainLines = options.plainLines ?? false;
    }

    setTotal(total: number): void {
        this.total = total;
    }

    update(done: number, detail = ""): void {
        const now = Date.now();
        const share = this.total > 0 ? Math.min(1, done / this.total) : 0;
        const seconds = (now - this.started) / 1000;
        if (this.tty) {
            if (done < this.total && now - this.lastDraw < 100) return;
            this.lastDraw = now;
            const width = 30;
            const filled = Math.round(share * width);
            const rate = seconds > 0 ? done / seconds : 0;
            const line =
                `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${this.total} ` +
                `${(share * 100).toFixed(0)}% ${rate.toFixed(1)}/s ${detail}`;
            const columns = (this.stream.columns || 100) - 1;
            this.stream.write(`\r${line.slice(0, columns).padEnd(Math.min(line.length, columns))}`);
        } else if (this.plainLines) {
            const tenth = Math.floor(share * 10);
            if (tenth <= this.lastTenth && now - this.lastDraw <= 15_000) return;
            this.lastTenth = tenth;
            this.lastDraw = now;
            const eta = share > 0 && share < 1 ? ` eta ${Math.round(seconds / share - seconds)} s` : "";
            this.stream.write(
                `${`${this.label}: ${(share * 100).toFixed(0).padStart(3)}% ${seconds.toFixed(0)} s${eta} ${detail}`.trimEnd()}\n`,
            );
        }
    }

    /** Ends the bar's line; with `summary`, replaces it by `label: summary (seconds)`. */
    finish(summary?: string): void {
        const line = summary === undefined ? "" : `${this.label}: ${summary} (${((Date.now() - this.started) / 1000).toFixed(1)} s)`;
        if (this.tty) this.stream.write(summary === undefined ? "\n" : `\r\x1b[K${line}\n`);
        else if (this.plainLines && summary !== undefined) this.stream.write(`${line}\n`);
    }
}
