import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxSocket } from '../../../server/stream/outbox.js';

/** A socket whose writes complete only when the test says the peer read them. */
class Socket implements OutboxSocket {
  bufferedAmount = 0;
  readyState = 1;
  readonly sent: (string | Uint8Array)[] = [];
  private pending: [number, () => void][] = [];

  send(data: string | Uint8Array, cb: () => void): void {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    this.sent.push(data);
    this.bufferedAmount += size;
    this.pending.push([size, cb]);
  }

  /** The peer reads everything written so far. */
  read(): void {
    while (this.pending.length > 0) {
      const [size, cb] = this.pending.shift()!;
      this.bufferedAmount -= size;
      cb();
    }
  }
}

const exit = (bytes: number) => new Uint8Array(bytes);
const bounds = { softBytes: 100, hardBytes: 1000 };

function setup(b = bounds) {
  const ws = new Socket();
  const drops: number[] = [];
  const overflows: number[] = [];
  const outbox = new Outbox(ws, b, { onDrop: (id) => drops.push(id), onOverflow: (n) => overflows.push(n) });
  return { ws, outbox, drops, overflows };
}

describe('Outbox', () => {
  it('sends everything straight to a reader that keeps up', () => {
    const { ws, outbox } = setup();
    outbox.progress(exit(50));
    ws.read();
    outbox.answer(exit(50), 1, true);
    outbox.answer('{"type":"config"}');
    expect(ws.sent).toHaveLength(3);
    expect(outbox.slow).toBe(false);
  });

  it('skips intermediate exits past the soft bound and queues answers in order', () => {
    const { ws, outbox } = setup();
    outbox.answer(exit(150), 1, true); // the socket now holds more than the soft bound
    expect(outbox.slow).toBe(true);
    outbox.progress(exit(50));
    outbox.answer('{"type":"error","frame_id":2}', 2);
    outbox.answer(exit(60), 3, true);
    expect(ws.sent).toHaveLength(1);
    expect(outbox.holds(3)).toBe(true);
    expect(outbox.unsentBytes).toBe(150 + Buffer.byteLength('{"type":"error","frame_id":2}') + 60);
    ws.read();
    ws.read();
    expect(ws.sent.slice(1)).toEqual(['{"type":"error","frame_id":2}', exit(60)]);
    expect(outbox.holds(3)).toBe(false);
  });

  it('replaces a queued final exit by a dropped notice when a newer one queues', () => {
    const { ws, outbox, drops } = setup();
    outbox.answer(exit(150), 1, true);
    outbox.answer(exit(80), 2, true);
    outbox.answer('{"type":"stopped","frame_id":3}', 3);
    outbox.answer(exit(90), 4, true);
    expect(drops).toEqual([2]);
    ws.read();
    ws.read();
    expect(ws.sent.slice(1)).toEqual([
      JSON.stringify({ type: 'dropped', frame_id: 2, reason: 'slow_reader' }),
      '{"type":"stopped","frame_id":3}',
      exit(90),
    ]);
  });

  it('reports once when the unsent bytes pass the hard bound', () => {
    const { outbox, overflows } = setup({ softBytes: 0, hardBytes: 200 });
    outbox.answer(exit(150), 1, true);
    outbox.answer('x'.repeat(40), null);
    expect(overflows).toEqual([]);
    outbox.answer('y'.repeat(40), null);
    outbox.answer('z'.repeat(40), null);
    expect(overflows).toEqual([230]);
  });

  it('hands everything queued to the socket before a close frame', () => {
    const { ws, outbox } = setup();
    outbox.answer(exit(150), 1, true);
    outbox.answer('{"type":"error","frame_id":2}', 2);
    outbox.flushAll();
    expect(ws.sent).toHaveLength(2);
    ws.readyState = 2;
    outbox.answer('late');
    expect(ws.sent).toHaveLength(2);
  });
});
