// What one stream sends, bounded in bytes for a reader that does not keep up. While more than
// `softBytes` wait unsent in the socket, intermediate exits are skipped and answers queue here
// in order; a queued final exit is replaced by a `dropped` notice as soon as a newer frame's
// final exit queues behind it, so at most one label map waits. Past `hardBytes` unsent (socket
// and queue together) the stream is given up through `onOverflow`.

export interface OutboxSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string | Uint8Array, cb: (err?: Error) => void): void;
}

export interface OutboxBounds {
  readonly softBytes: number;
  readonly hardBytes: number;
}

interface Queued {
  readonly data: string | Uint8Array;
  readonly frameId: number | null;
  /** A final exit: replaceable by a dropped notice. */
  readonly result: boolean;
}

const OPEN = 1;

const byteLength = (data: string | Uint8Array) => (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);

export class Outbox {
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private overflowed = false;

  constructor(
    private readonly ws: OutboxSocket,
    private readonly bounds: OutboxBounds,
    private readonly events: { onDrop: (frameId: number) => void; onOverflow: (unsentBytes: number) => void },
  ) {}

  get unsentBytes(): number {
    return this.ws.bufferedAmount + this.queuedBytes;
  }

  /** True while an intermediate exit would only add to a backlog (skip encoding it). */
  get slow(): boolean {
    return this.queue.length > 0 || this.ws.bufferedAmount > this.bounds.softBytes;
  }

  /** Whether an answer for this frame still waits here. */
  holds(frameId: number): boolean {
    return this.queue.some((q) => q.frameId === frameId);
  }

  /** An intermediate exit: sent only to a reader that keeps up. */
  progress(data: Uint8Array): void {
    if (!this.slow) this.write(data);
  }

  /**
   * An answer (a notice, an error, a config reply, or a frame's final exit when `result`):
   * never skipped; a queued final exit gives way to a newer one, leaving a dropped notice.
   */
  answer(data: string | Uint8Array, frameId: number | null = null, result = false): void {
    if (this.ws.readyState !== OPEN) return;
    if (!this.slow) return this.write(data);
    if (result) {
      const older = this.queue.findIndex((q) => q.result);
      if (older >= 0) {
        const { frameId: dropped, data: replaced } = this.queue[older]!;
        const notice = JSON.stringify({ type: 'dropped', frame_id: dropped, reason: 'slow_reader' });
        this.queue[older] = { data: notice, frameId: dropped, result: false };
        this.queuedBytes += byteLength(notice) - byteLength(replaced);
        this.events.onDrop(dropped!);
      }
    }
    this.queue.push({ data, frameId, result });
    this.queuedBytes += byteLength(data);
    this.check();
  }

  /** Hands everything queued to the socket whatever the bound (before a close frame). */
  flushAll(): void {
    this.flush(Infinity);
  }

  private write(data: string | Uint8Array): void {
    this.ws.send(data, () => this.flush(this.bounds.softBytes));
    this.check();
  }

  // runs on every write completion: the socket drained by one message
  private flush(bound: number): void {
    while (this.queue.length > 0 && this.ws.readyState === OPEN && this.ws.bufferedAmount <= bound) {
      const next = this.queue.shift()!;
      this.queuedBytes -= byteLength(next.data);
      this.ws.send(next.data, () => this.flush(this.bounds.softBytes));
    }
  }

  private check(): void {
    if (this.overflowed || this.unsentBytes <= this.bounds.hardBytes) return;
    this.overflowed = true;
    this.events.onOverflow(this.unsentBytes);
  }
}
