// A progress bar for long jobs on stderr; plain periodic lines when stderr is not a terminal.

export class Progress {
  private readonly started = Date.now();
  private lastLine = 0;
  private done = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  tick(count = 1): void {
    this.done += count;
    const now = Date.now();
    const finished = this.done >= this.total;
    if (this.stream.isTTY) {
      if (now - this.lastLine < 100 && !finished) return;
      this.stream.write(`\r${this.line(now)}${finished ? '\n' : ''}`);
    } else if (finished || now - this.lastLine >= 5000) {
      this.stream.write(`${this.line(now)}\n`);
    } else {
      return;
    }
    this.lastLine = now;
  }

  private line(now: number): string {
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : 0;
    const width = 28;
    const filled = Math.min(width, Math.round((width * this.done) / Math.max(this.total, 1)));
    return `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${this.done}/${this.total} ` +
      `${rate.toFixed(1)}/s eta ${eta.toFixed(0)}s`;
  }
}
