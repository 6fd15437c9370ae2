/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal.
 */

export class ProgressBar {
    private readonly started = Date.now();
    private readonly enabled: boolean;
    private lastDraw = 0;

    constructor(
        private readonly label: string,
        private total: number,
        stream: NodeJS.WriteStream = process.stderr,
    ) {
        this.enabled = Boolean(stream.isTTY) && process.env.CI === undefined;
        this.stream = stream;
    }

    private readonly stream: NodeJS.WriteStream;

    setTotal(total: number): void {
        this.total = total;
    }

    update(done: number, detail = ""): void {
        if (!this.enabled) return;
        const now = Date.now();
        if (done < this.total && now - this.lastDraw < 100) return;
        this.lastDraw = now;
        const width = 30;
        const share = this.total > 0 ? Math.min(1, done / this.total) : 0;
        const filled = Math.round(share * width);
        const seconds = (now - this.started) / 1000;
        const rate = seconds > 0 ? done / seconds : 0;
        const line =
            `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${this.total} ` +
            `${(share * 100).toFixed(0)}% ${rate.toFixed(1)}/s ${detail}`;
        this.stream.write(
            `\r${line.slice(0, (this.stream.columns || 100) - 1).padEnd(Math.min(line.length, (this.stream.columns || 100) - 1))}`,
        );
    }

    finish(): void {
        if (this.enabled) this.stream.write("\n");
    }
}
