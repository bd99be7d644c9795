// WS /v1/stream on an ephemeral port with a real WebSocket client, over the shipped bundle.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerMetrics } from '../../server/metrics.js';
import type { AdpcServer } from '../../server/server.js';
import { decodeExitMessage, encodeFrameMessage, FRAME_HEADER_BYTES } from '../../server/stream/frame-message.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import type { Budget } from '../../src/engine/budget.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { encodedScene, startTestServer } from '../helpers/server.js';

type Message = { type: string; frame_id?: number | null; exit?: number; stop?: string | null; code?: string; reason?: string; labels?: { bytes: number }; width?: number };

let engine: AnytimeEngine;
let jpeg: Uint8Array;
const TOKEN = 'stream-token-0123456789';

async function start(env: Record<string, string> = {}): Promise<{ url: string; adpc: AdpcServer; metrics: ServerMetrics }> {
  const t = await startTestServer(engine, env);
  return { url: t.ws, adpc: t.adpc, metrics: t.metrics };
}

/** A connected client that records every message, decoded. */
async function connect(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; messages: Message[]; next: (pred: (m: Message) => boolean) => Promise<Message> }> {
  const ws = new WebSocket(url, { headers });
  const messages: Message[] = [];
  const waiters: { pred: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const m = (isBinary ? decodeExitMessage(new Uint8Array(data)).metadata : JSON.parse(data.toString())) as Message;
    messages.push(m);
    for (const w of [...waiters]) if (w.pred(m)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
  });
  await once(ws, 'open');
  const next = (pred: (m: Message) => boolean) => {
    const seen = messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<Message>((resolve) => waiters.push({ pred, resolve }));
  };
  await next((m) => m.type === 'hello');
  return { ws, messages, next };
}

const frame = (frameId: number, budget?: Budget) => encodeFrameMessage({ frameId, format: 'encoded', image: jpeg, ...(budget ? { budget } : {}) });
const isEnd = (id: number) => (m: Message) => m.frame_id === id && ((m.type === 'exit' && m.stop != null) || m.type === 'dropped' || m.type === 'stopped' || m.type === 'error');

beforeAll(async () => {
  engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
  jpeg = await encodedScene(2_000_021, 512, 256, 'jpeg');
}, 60_000);
afterAll(async () => engine?.close());

describe('WS /v1/stream', () => {
  let url: string;
  let adpc: AdpcServer;
  let metrics: ServerMetrics;
  beforeAll(async () => ({ url, adpc, metrics } = await start()));
  afterAll(() => adpc.server.close());

  it('streams 20 frames, every exit in order with the right frame id', async () => {
    const c = await connect(url);
    for (let id = 1; id <= 20; id++) {
      c.ws.send(frame(id));
      await c.next(isEnd(id));
    }
    const exits = c.messages.filter((m) => m.type === 'exit');
    expect(exits).toHaveLength(80);
    for (let id = 1; id <= 20; id++) {
      const mine = exits.filter((m) => m.frame_id === id);
      expect(mine.map((m) => m.exit)).toEqual([1, 2, 3, 4]);
      expect(mine.map((m) => m.stop)).toEqual([null, null, null, 'final_exit']);
    }
    c.ws.close();
  });

  it('stops each frame where its budget says, per frame or per stream', async () => {
    const c = await connect(url);
    c.ws.send(frame(1, { max_exit: 2 }));
    expect((await c.next(isEnd(1))).stop).toBe('max_exit');
    c.ws.send(frame(2, { gflops: 0.6 }));
    expect(await c.next(isEnd(2))).toMatchObject({ exit: 1, stop: 'gflops' });
    c.ws.send(frame(3, { deadline_ms: 0.01 }));
    expect(await c.next(isEnd(3))).toMatchObject({ exit: 1, stop: 'deadline' });
    c.ws.send(JSON.stringify({ type: 'config', budget: { max_exit: 3 }, size: 'frame', labels: 'raw' }));
    await c.next((m) => m.type === 'config');
    c.ws.send(frame(4));
    const end = await c.next(isEnd(4));
    expect(end).toMatchObject({ exit: 3, stop: 'max_exit', width: 512 });
    expect(end.labels!.bytes).toBe(512 * 256);
    c.ws.close();
  });

  it('lets the latest frame win under a fast sender, accounting for every frame', async () => {
    const c = await connect(url);
    for (let id = 1; id <= 12; id++) c.ws.send(frame(id));
    await c.next((m) => m.frame_id === 12 && m.type === 'exit' && m.stop != null);
    const ends = new Map<number, string>();
    for (const m of c.messages) {
      if (m.frame_id == null) continue;
      expect(m.frame_id).toBeGreaterThanOrEqual(1);
      expect(m.frame_id).toBeLessThanOrEqual(12);
      if (m.type === 'dropped') ends.set(m.frame_id, 'dropped');
      else if (m.type === 'stopped') ends.set(m.frame_id, m.reason!);
      else if (m.type === 'exit' && m.stop) ends.set(m.frame_id, m.stop);
    }
    expect(ends.size).toBe(12);
    expect(ends.get(12)).toBe('final_exit');
    expect([...ends.values()].filter((v) => v === 'dropped' || v === 'superseded').length).toBeGreaterThan(0);
    c.ws.close();
  });

  it('answers every bad message with a code and stays usable', async () => {
    const c = await connect(url);
    const good = frame(50);
    const cases: [Uint8Array | string, string, number | null][] = [
      [good.slice(0, 8), 'BAD_HEADER', null],
      [Uint8Array.from([...good.slice(0, 5), 9, ...good.slice(6)]), 'UNSUPPORTED_FORMAT', 50],
      [frame(51, { max_exit: 9 }), 'INVALID_BUDGET', 51],
      [encodeFrameMessage({ frameId: 54, format: 'rgb', width: 8000, height: 6000, image: new Uint8Array(12) }), 'TOO_LARGE', 54],
      [encodeFrameMessage({ frameId: 52, format: 'encoded', image: new TextEncoder().encode('not an image at all') }), 'IMAGE_UNSUPPORTED', 52],
      [encodeFrameMessage({ frameId: 53, format: 'encoded', image: jpeg.slice(0, 400) }), 'IMAGE_CORRUPT', 53],
      ['{"type":"config","budget":{"threshold":5}}', 'INVALID_BUDGET', null],
      ['hello', 'BAD_MESSAGE', null],
    ];
    for (const [message, code, frameId] of cases) {
      const before = c.messages.length;
      c.ws.send(message);
      const error = await c.next((m) => m.type === 'error' && c.messages.indexOf(m) >= before);
      expect([error.code, error.frame_id]).toEqual([code, frameId]);
    }
    c.ws.send(frame(60));
    expect((await c.next(isEnd(60))).stop).toBe('final_exit');
    expect(good.length).toBeGreaterThan(FRAME_HEADER_BYTES);
    c.ws.close();
  });

  it('counts streams and frames in /metrics', async () => {
    const text = await metrics.registry.metrics();
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ').at(-1));
    expect(value('adpc_frames_total{outcome="completed"}')).toBeGreaterThanOrEqual(26);
    expect(value('adpc_frames_total{outcome="rejected"}')).toBe(6);
    expect(value('adpc_budget_stops_total{reason="deadline"}')).toBe(1);
    expect(value('adpc_budget_stops_total{reason="gflops"}')).toBe(1);
  });
});

describe('stream limits and auth', () => {
  it('sends only final exits to a slow reader', async () => {
    const { url, adpc } = await start({ ADPC_SLOW_READER_BYTES: '0' });
    const c = await connect(url);
    // with a zero bound, anything still unsent marks the reader slow: pause the client's socket
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    for (let id = 1; id <= 3; id++) c.ws.send(frame(id, { threshold: 1 }));
    await new Promise((r) => setTimeout(r, 1500));
    socket.resume();
    await c.next((m) => m.frame_id === 3 && m.type === 'exit' && m.stop != null);
    const exits = c.messages.filter((m) => m.type === 'exit');
    expect(exits.some((m) => m.stop === null)).toBe(true); // the first exit went out before the buffer filled
    expect(exits.filter((m) => m.stop === null).length).toBeLessThan(exits.length - 1);
    c.ws.close();
    adpc.server.close();
  });

  it('with supersede=frame, a running frame finishes; frames above the rate limit are refused', async () => {
    const { url, adpc } = await start({ ADPC_SUPERSEDE: 'frame', ADPC_MAX_FPS: '2' });
    const c = await connect(url);
    c.ws.send(frame(1));
    await c.next((m) => m.frame_id === 1 && m.type === 'exit');
    c.ws.send(frame(2));
    c.ws.send(frame(3));
    const limited = await c.next((m) => m.type === 'error' && m.frame_id === 3);
    expect(limited.code).toBe('RATE_LIMITED');
    expect((await c.next(isEnd(1))).stop).toBe('final_exit');
    expect((await c.next(isEnd(2))).stop).toBe('final_exit');
    c.ws.close();
    adpc.server.close();
  });

  it('serves several streams at once on one device', async () => {
    const { url, adpc } = await start();
    const clients = await Promise.all([connect(url), connect(url), connect(url)]);
    await Promise.all(clients.map(async (c, i) => {
      for (let id = 1; id <= 3; id++) {
        c.ws.send(frame(100 * i + id));
        expect((await c.next(isEnd(100 * i + id))).stop).toBe('final_exit');
      }
      expect(c.messages.every((m) => m.frame_id == null || Math.floor(m.frame_id / 100) === i)).toBe(true);
      c.ws.close();
    }));
    adpc.server.close();
  });

  it('refuses streams without the token and beyond the stream limit', async () => {
    const { url, adpc } = await start({ ADPC_TOKEN: TOKEN, ADPC_MAX_STREAMS: '1' });
    const refused = new WebSocket(url);
    const [, res] = await once(refused, 'unexpected-response') as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(401);
    const c = await connect(url, { authorization: `Bearer ${TOKEN}` });
    const second = new WebSocket(`${url}?access_token=${TOKEN}`);
    const [, busy] = await once(second, 'unexpected-response') as [unknown, { statusCode: number }];
    expect(busy.statusCode).toBe(503);
    c.ws.send(frame(1, { max_exit: 1 }));
    expect((await c.next(isEnd(1))).stop).toBe('max_exit');
    c.ws.close();
    adpc.server.close();
  });

  it('drains: the running frame finishes, then the socket closes with 1001', async () => {
    const { url, adpc } = await start();
    const c = await connect(url);
    c.ws.send(frame(1));
    await c.next((m) => m.frame_id === 1 && m.type === 'exit');
    const closed = once(c.ws, 'close');
    await adpc.streams.drain(10_000);
    const [code] = await closed as [number];
    expect(code).toBe(1001);
    expect(c.messages.find((m) => m.frame_id === 1 && m.stop)?.stop).toBe('final_exit');
    adpc.server.close();
  });
});
