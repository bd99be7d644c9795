// WS /v1/stream on an ephemeral port, with real ws clients, over the shipped bundle.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeExitMessage, encodeFrameMessage, FRAME_HEADER_BYTES } from '../../server/stream/frame-message.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import type { Budget } from '../../src/engine/budget.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import type { FrameEngine } from '../../server/model-info.js';
import { deviceHoldingEngine, failingEngine, gatedEngine } from '../helpers/fake-engine.js';
import { encodedScene, flatPng, metricValue, startTestServer, type LogLine, type TestServer } from '../helpers/server.js';

type Message = {
  type: string; frame_id?: number | null; exit?: number; stop?: string | null; code?: string; reason?: string;
  labels?: { bytes: number }; width?: number; request_id?: string; stream_id?: number; model?: { bundle: string };
};

let engine: AnytimeEngine;
let jpeg: Uint8Array;
const TOKEN = 'stream-token-0123456789';

interface Client {
  ws: WebSocket;
  messages: Message[];
  next: (pred: (m: Message) => boolean) => Promise<Message>;
  /** The client's TCP socket: paused, it reads nothing (a reader that does not keep up). */
  socket: { pause(): void; resume(): void };
}

/** A connected client that records every message, decoded. */
async function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, options);
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
  return { ws, messages, next, socket: (ws as unknown as { _socket: Client['socket'] })._socket };
}

const frame = (frameId: number, budget?: Budget, image = jpeg) => encodeFrameMessage({ frameId, format: 'encoded', image, ...(budget ? { budget } : {}) });
const isFinal = (m: Message) => (m.type === 'exit' && m.stop != null) || m.type === 'dropped' || m.type === 'stopped' || m.type === 'error';
const isEnd = (id: number) => (m: Message) => m.frame_id === id && isFinal(m);
const frameDone = (streamId: number | undefined, frameId: number) => (l: LogLine) =>
  l.stream_id === streamId && l.frame_id === frameId && (l.msg === 'frame done' || typeof l.code === 'string');

/** Each frame's final answers (there must be exactly one per frame). */
function finals(messages: Message[]): Map<number, Message[]> {
  const out = new Map<number, Message[]>();
  for (const m of messages) {
    if (m.frame_id == null || !isFinal(m)) continue;
    out.set(m.frame_id, [...(out.get(m.frame_id) ?? []), m]);
  }
  return out;
}

async function configure(c: Client, options: Record<string, unknown>): Promise<void> {
  const before = c.messages.length;
  c.ws.send(JSON.stringify({ type: 'config', ...options }));
  await c.next((m) => m.type === 'config' && c.messages.indexOf(m) >= before);
}

beforeAll(async () => {
  engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
  jpeg = await encodedScene(2_000_021, 512, 256, 'jpeg');
}, 60_000);
afterAll(async () => engine?.close());

describe('WS /v1/stream', () => {
  let t: TestServer;
  beforeAll(async () => (t = await startTestServer(engine)));
  afterAll(() => t.close());

  it('streams 20 frames, every exit in order with the right frame id', async () => {
    const c = await connect(t.ws);
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

  it('says hello with the request id and no server path', async () => {
    const c = await connect(t.ws, { headers: { 'x-request-id': 'camera-7.take-2' } });
    const hello = c.messages[0]!;
    expect(hello).toMatchObject({ type: 'hello', protocol: 1, request_id: 'camera-7.take-2' });
    expect(typeof hello.stream_id).toBe('number');
    expect(hello.model!.bundle).toBe('default');
    expect(JSON.stringify(hello)).not.toContain(DEFAULT_BUNDLE);
    c.ws.close();
  });

  it('stops each frame where its budget says, per frame or per stream', async () => {
    const c = await connect(t.ws);
    c.ws.send(frame(1, { max_exit: 2 }));
    expect((await c.next(isEnd(1))).stop).toBe('max_exit');
    c.ws.send(frame(2, { gflops: 0.6 }));
    expect(await c.next(isEnd(2))).toMatchObject({ exit: 1, stop: 'gflops' });
    c.ws.send(frame(3, { deadline_ms: 0.01 }));
    expect(await c.next(isEnd(3))).toMatchObject({ exit: 1, stop: 'deadline' });
    await configure(c, { budget: { max_exit: 3 }, size: 'frame', labels: 'raw' });
    c.ws.send(frame(4));
    const end = await c.next(isEnd(4));
    expect(end).toMatchObject({ exit: 3, stop: 'max_exit', width: 512 });
    expect(end.labels!.bytes).toBe(512 * 256);
    c.ws.close();
  });

  it('lets the latest frame win under a fast sender, one final answer for every frame', async () => {
    const c = await connect(t.ws);
    for (let id = 1; id <= 12; id++) c.ws.send(frame(id));
    await c.next((m) => m.frame_id === 12 && m.type === 'exit' && m.stop != null);
    const ends = finals(c.messages);
    expect([...ends.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const answers of ends.values()) expect(answers).toHaveLength(1);
    expect(ends.get(12)![0]!.stop).toBe('final_exit');
    expect([...ends.values()].filter(([m]) => m!.type === 'dropped' || m!.reason === 'superseded' || m!.stop === 'superseded').length).toBeGreaterThan(0);
    c.ws.close();
  });

  it('answers every bad message with a catalogue code and stays usable', async () => {
    const c = await connect(t.ws);
    const good = frame(50);
    const cases: [Uint8Array | string, string, number | null][] = [
      [good.slice(0, 8), 'BAD_HEADER', null],
      [Uint8Array.from([...good.slice(0, 5), 9, ...good.slice(6)]), 'IMAGE_UNSUPPORTED', 50],
      [frame(51, { max_exit: 9 }), 'BUDGET_INVALID', 51],
      [encodeFrameMessage({ frameId: 54, format: 'rgb', width: 8000, height: 6000, image: new Uint8Array(12) }), 'IMAGE_TOO_LARGE', 54],
      [encodeFrameMessage({ frameId: 55, format: 'rgb', width: 4, height: 4, image: new Uint8Array(12) }), 'IMAGE_RAW_SIZE', 55],
      [encodeFrameMessage({ frameId: 52, format: 'encoded', image: new TextEncoder().encode('not an image at all') }), 'IMAGE_UNSUPPORTED', 52],
      [encodeFrameMessage({ frameId: 53, format: 'encoded', image: jpeg.slice(0, 400) }), 'IMAGE_CORRUPT', 53],
      ['{"type":"config","budget":{"threshold":5}}', 'BUDGET_INVALID', null],
      ['{"type":"config","size":"huge"}', 'OPTION_INVALID', null],
      ['{"type":"config","sise":"frame"}', 'OPTION_INVALID', null],
      ['{"type":"settings"}', 'BAD_MESSAGE', null],
      ['hello', 'BAD_MESSAGE', null],
    ];
    for (const [message, code, frameId] of cases) {
      const before = c.messages.length;
      c.ws.send(message);
      const error = await c.next((m) => m.type === 'error' && c.messages.indexOf(m) >= before);
      expect([error.code, error.frame_id], String(code)).toEqual([code, frameId]);
    }
    const corrupt = c.messages.find((m) => m.code === 'IMAGE_CORRUPT') as Message & { message: string };
    expect(corrupt.message).not.toMatch(/vips|jpeg:|premature/i); // our words, not the decoder's
    c.ws.send(frame(60));
    expect((await c.next(isEnd(60))).stop).toBe('final_exit');
    expect(good.length).toBeGreaterThan(FRAME_HEADER_BYTES);
    c.ws.close();
  });

  it('refuses a frame id still in flight and lets the first frame finish', async () => {
    const gated = gatedEngine(engine); // frame 70 holds before its first stage until the test lets it go
    const s = await startTestServer(gated.engine);
    const c = await connect(s.ws);
    c.ws.send(frame(70));
    await gated.started;
    c.ws.send(frame(70));
    const refused = await c.next((m) => m.frame_id === 70 && m.type === 'error');
    expect(refused.code).toBe('FRAME_ID_REUSED');
    gated.open();
    expect((await c.next((m) => m.frame_id === 70 && m.type === 'exit' && m.stop != null)).stop).toBe('final_exit');
    expect(c.messages.filter((m) => m.frame_id === 70 && m.type === 'exit').map((m) => m.exit)).toEqual([1, 2, 3, 4]);
    // once answered, the id is free again
    c.ws.send(frame(70, { max_exit: 1 }));
    await c.next((m) => m.frame_id === 70 && m.stop === 'max_exit');
    c.ws.close();
    await s.close();
  });

  it('drops a frame granted the device too late for exit 1 while others wait (reason deadline)', async () => {
    const held = deviceHoldingEngine(engine);
    const s = await startTestServer(held.engine);
    const [a, b, c] = await Promise.all([connect(s.ws), connect(s.ws), connect(s.ws)]);
    a.ws.send(frame(1, { max_exit: 1 }));
    await held.holding;
    b.ws.send(frame(2, { max_exit: 1, deadline_ms: 1 }));
    c.ws.send(frame(3, { max_exit: 1 }));
    await held.queued(2);
    held.open();
    expect(await b.next(isEnd(2))).toMatchObject({ type: 'dropped', reason: 'deadline' });
    expect(await a.next(isEnd(1))).toMatchObject({ exit: 1, stop: 'max_exit' });
    expect(await c.next(isEnd(3))).toMatchObject({ exit: 1, stop: 'max_exit' });
    expect(b.messages.filter((m) => m.frame_id === 2)).toHaveLength(1);
    // the stream goes on: its next frame is answered
    b.ws.send(frame(4, { max_exit: 1 }));
    expect(await b.next(isEnd(4))).toMatchObject({ exit: 1, stop: 'max_exit' });
    for (const x of [a, b, c]) x.ws.close();
    await s.close();
  });

  it('refuses frame-size label maps above the output pixel bound', async () => {
    const s = await startTestServer(engine, { ADPC_MAX_OUTPUT_PIXELS: String(512 * 256 - 1) });
    const c = await connect(s.ws);
    await configure(c, { size: 'frame' });
    c.ws.send(frame(1));
    expect((await c.next(isEnd(1))).code).toBe('OUTPUT_TOO_LARGE');
    await configure(c, { size: 'stride' });
    c.ws.send(frame(2, { max_exit: 1 }));
    expect((await c.next(isEnd(2))).stop).toBe('max_exit');
    c.ws.close();
    await s.close();
  });

  it('closes with 1007 on text that is not UTF-8, as the protocol says', async () => {
    const c = await connect(t.ws);
    const closed = once(c.ws, 'close');
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    const [code] = await closed as [number];
    expect(code).toBe(1007);
  });
});

describe('a frame that fails inside the engine', () => {
  it('answers INTERNAL for that frame, counts and logs it, and keeps the stream and the server', async () => {
    let failing = true;
    const broken = failingEngine(engine, 2);
    const switching: FrameEngine = { manifest: engine.manifest, info: () => engine.info(), run: (input, o) => (failing ? broken.run(input, o) : engine.run(input, o)) };
    const s = await startTestServer(switching);
    const c = await connect(s.ws);
    const other = await connect(s.ws);
    c.ws.send(frame(1));
    const error = await c.next(isEnd(1));
    expect(error).toMatchObject({ type: 'error', code: 'INTERNAL', frame_id: 1 });
    expect(c.messages.filter((m) => m.frame_id === 1).map((m) => m.type)).toEqual(['exit', 'error']);
    failing = false;
    c.ws.send(frame(2));
    expect((await c.next(isEnd(2))).stop).toBe('final_exit');
    other.ws.send(frame(3, { max_exit: 1 }));
    expect((await other.next(isEnd(3))).stop).toBe('max_exit');
    const line = await s.logs.next((l) => l.code === 'INTERNAL');
    expect(line).toMatchObject({ level: 50, route: 'WS /v1/stream', frame_id: 1 });
    expect(JSON.stringify(line.err)).toContain('stage 2 exploded');
    const text = await s.metrics.registry.metrics();
    expect(metricValue(text, 'adpc_frames_total{outcome="failed"}')).toBe(1);
    expect(metricValue(text, 'adpc_errors_total{code="INTERNAL"}')).toBe(1);
    c.ws.close();
    other.ws.close();
    await s.close();
  });
});

describe('metrics of a stream', () => {
  it('counts its frames by outcome, errors by code, and queue waits', async () => {
    const s = await startTestServer(engine);
    const c = await connect(s.ws);
    c.ws.send(frame(1));
    await c.next(isEnd(1));
    c.ws.send(frame(2, { deadline_ms: 0.01 }));
    await c.next(isEnd(2));
    c.ws.send(frame(3, { gflops: 0.6 }));
    await c.next(isEnd(3));
    c.ws.send(frame(4, { max_exit: 9 }));
    await c.next(isEnd(4));
    c.ws.send(encodeFrameMessage({ frameId: 5, format: 'encoded', image: jpeg.slice(0, 400) }));
    await c.next(isEnd(5));
    const text = await s.metrics.registry.metrics();
    expect(metricValue(text, 'adpc_frames_total{outcome="completed"}')).toBe(3);
    expect(metricValue(text, 'adpc_frames_total{outcome="rejected"}')).toBe(2);
    expect(metricValue(text, 'adpc_budget_stops_total{reason="final_exit"}')).toBe(1);
    expect(metricValue(text, 'adpc_budget_stops_total{reason="deadline"}')).toBe(1);
    expect(metricValue(text, 'adpc_budget_stops_total{reason="gflops"}')).toBe(1);
    expect(metricValue(text, 'adpc_errors_total{code="BUDGET_INVALID"}')).toBe(1);
    expect(metricValue(text, 'adpc_errors_total{code="IMAGE_CORRUPT"}')).toBe(1);
    expect(metricValue(text, 'adpc_queue_wait_seconds_count{queue="decode"}')).toBe(4);
    // once per stage, or once for native stages run back to back (the whole first frame: no budget)
    const firstFrame = 'isa' in engine.info().native ? 1 : 4;
    expect(metricValue(text, 'adpc_queue_wait_seconds_count{queue="device"}')).toBe(firstFrame + 1 + 1);
    expect(metricValue(text, 'adpc_active_streams')).toBe(1);
    c.ws.close();
    await s.close();
  });
});

describe('slow readers', () => {
  let big: Uint8Array;
  beforeAll(async () => {
    big = await flatPng(2048, 2048); // 4 MiB per raw label map at the frame's size
  });

  /** A paused client of server `s` sends `count` frames, each once the server ended the one before. */
  async function stall(s: TestServer, c: Client, count: number, budget: Budget): Promise<number> {
    await configure(c, { size: 'frame', labels: 'raw' });
    const streamId = c.messages[0]!.stream_id;
    c.socket.pause();
    let peak = 0;
    for (let id = 1; id <= count; id++) {
      c.ws.send(frame(id, budget, big));
      await s.logs.next(frameDone(streamId, id));
      peak = Math.max(peak, s.adpc.streams.unsentBytes);
    }
    return peak;
  }

  it('get final exits only, superseded results dropped and reported, one answer per frame', async () => {
    const s = await startTestServer(engine, { ADPC_SLOW_READER_BYTES: '0' });
    const c = await connect(s.ws);
    const count = 12; // enough 4 MiB maps to fill loopback's kernel buffers (up to 36 MiB here) too
    const peak = await stall(s, c, count, { max_exit: 2, threshold: 1 });
    expect(peak).toBeLessThanOrEqual(s.config.maxUnsentBytes);
    const drops = metricValue(await s.metrics.registry.metrics(), 'adpc_slow_reader_drops_total')!;
    expect(drops).toBeGreaterThan(0);
    c.socket.resume();
    await c.next(isEnd(count));
    const ends = finals(c.messages);
    expect([...ends.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    for (const answers of ends.values()) expect(answers).toHaveLength(1);
    const dropped = [...ends.values()].filter(([m]) => m!.type === 'dropped');
    expect(dropped.length).toBe(drops);
    for (const [m] of dropped) expect(m!.reason).toBe('slow_reader');
    expect(ends.get(count)![0]).toMatchObject({ type: 'exit', stop: 'max_exit' }); // the newest is never dropped
    const intermediate = c.messages.filter((m) => m.type === 'exit' && m.stop === null);
    expect(intermediate.length).toBeLessThan(count);
    c.ws.close();
    await s.close();
  });

  it('past the hard bound are closed with STREAM_BACKLOG and freed', async () => {
    const s = await startTestServer(engine, { ADPC_SLOW_READER_BYTES: '0', ADPC_MAX_UNSENT_BYTES: String(5 * 1024 * 1024) });
    const c = await connect(s.ws);
    await configure(c, { size: 'frame', labels: 'raw' });
    c.socket.pause();
    const closed = once(c.ws, 'close');
    const backlog = s.logs.next((l) => l.code === 'STREAM_BACKLOG');
    let id = 0;
    let over = false;
    void backlog.then(() => (over = true));
    while (!over) {
      c.ws.send(frame(++id, { max_exit: 1 }, big));
      await Promise.race([s.logs.next(frameDone(c.messages[0]!.stream_id, id)), backlog]);
    }
    expect((await backlog).level).toBe(40);
    c.socket.resume();
    const [code, reason] = await closed as [number, Buffer];
    expect(code).toBe(1008);
    expect(reason.toString()).toMatch(/^STREAM_BACKLOG/);
    await s.logs.next((l) => l.msg === 'stream closed');
    expect(s.adpc.streams.streams).toBe(0);
    expect(metricValue(await s.metrics.registry.metrics(), 'adpc_errors_total{code="STREAM_BACKLOG"}')).toBe(1);
    await s.close();
  });

  it('16 streams that never read stay within the documented ceiling', async () => {
    const s = await startTestServer(engine, { ADPC_SLOW_READER_BYTES: '0', ADPC_MAX_UNSENT_BYTES: String(16 * 1024 * 1024) });
    const clients = await Promise.all(Array.from({ length: 16 }, () => connect(s.ws)));
    const before = process.memoryUsage().rss;
    const peaks = await Promise.all(clients.map((c) => stall(s, c, 8, { max_exit: 1 })));
    const grown = process.memoryUsage().rss - before;
    console.log(`16 paused streams: peak unsent ${(Math.max(...peaks) / 2 ** 20).toFixed(1)} MiB, rss grew ${(grown / 2 ** 20).toFixed(1)} MiB`);
    // the ceiling (README, "Limits"): ADPC_MAX_UNSENT_BYTES per stream, plus working memory
    expect(Math.max(...peaks)).toBeLessThanOrEqual(16 * s.config.maxUnsentBytes);
    expect(grown).toBeLessThan(16 * s.config.maxUnsentBytes + 128 * 1024 * 1024);
    for (const c of clients) {
      c.socket.resume();
      c.ws.close();
    }
    await s.close();
  }, 60_000);
});

describe('stream limits and auth', () => {
  it('with supersede=frame, a running frame finishes; frames above the rate limit are refused', async () => {
    const s = await startTestServer(engine, { ADPC_SUPERSEDE: 'frame', ADPC_MAX_FPS: '2' });
    const c = await connect(s.ws);
    c.ws.send(frame(1));
    await c.next((m) => m.frame_id === 1 && m.type === 'exit');
    c.ws.send(frame(2));
    c.ws.send(frame(3));
    const limited = await c.next((m) => m.type === 'error' && m.frame_id === 3);
    expect(limited.code).toBe('RATE_LIMITED');
    expect((await c.next(isEnd(1))).stop).toBe('final_exit');
    expect((await c.next(isEnd(2))).stop).toBe('final_exit');
    c.ws.close();
    await s.close();
  });

  it('a rate limit below one frame per second still lets a frame in', async () => {
    const s = await startTestServer(engine, { ADPC_MAX_FPS: '0.5' });
    const c = await connect(s.ws);
    c.ws.send(frame(1, { max_exit: 1 }));
    expect((await c.next(isEnd(1))).stop).toBe('max_exit');
    c.ws.send(frame(2, { max_exit: 1 }));
    expect((await c.next(isEnd(2))).code).toBe('RATE_LIMITED');
    c.ws.close();
    await s.close();
  });

  it('serves several streams at once on one device', async () => {
    const s = await startTestServer(engine);
    const clients = await Promise.all([connect(s.ws), connect(s.ws), connect(s.ws)]);
    await Promise.all(clients.map(async (c, i) => {
      for (let id = 1; id <= 3; id++) {
        c.ws.send(frame(100 * i + id));
        expect((await c.next(isEnd(100 * i + id))).stop).toBe('final_exit');
      }
      expect(c.messages.every((m) => m.frame_id == null || Math.floor(m.frame_id / 100) === i)).toBe(true);
      c.ws.close();
    }));
    await s.close();
  });

  it('refuses streams without the token and beyond the stream limit, in the JSON shape', async () => {
    const s = await startTestServer(engine, { ADPC_TOKEN: TOKEN, ADPC_MAX_STREAMS: '1' });
    const refused = new WebSocket(s.ws);
    const [, res] = await once(refused, 'unexpected-response') as [unknown, { statusCode: number; headers: Record<string, string> }];
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toBe('application/json');
    const c = await connect(s.ws, { headers: { authorization: `bearer ${TOKEN}` } }); // the scheme in any case
    const second = new WebSocket(`${s.ws}?access_token=${TOKEN}`);
    const [, busy] = await once(second, 'unexpected-response') as [unknown, { statusCode: number; headers: Record<string, string> }];
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    c.ws.send(frame(1, { max_exit: 1 }));
    expect((await c.next(isEnd(1))).stop).toBe('max_exit');
    // the token never reaches the log, neither from the header nor from the query
    expect(JSON.stringify(s.logs.lines)).not.toContain(TOKEN);
    expect(s.logs.lines.filter((l) => l.code === 'UNAUTHORISED' || l.code === 'OVERLOADED')).toHaveLength(2);
    c.ws.close();
    await s.close();
  });

  it('drops a peer that stops answering pings, keeps one that answers', async () => {
    const s = await startTestServer(engine, { ADPC_PING_MS: '200' });
    const answering = await connect(s.ws);
    const silent = await connect(s.ws, { autoPong: false });
    const [code] = await once(silent.ws, 'close') as [number];
    expect(code).toBe(1006); // no close frame: the peer is taken for gone
    expect((await s.logs.next((l) => l.code === 'PING_TIMEOUT')).stream_id).toBe(silent.messages[0]!.stream_id);
    for (let i = 0; i < 3; i++) await once(answering.ws, 'ping');
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
    answering.ws.close();
    await s.close();
  });

  it('closes a stream that stays idle, with STREAM_IDLE', async () => {
    const s = await startTestServer(engine, { ADPC_IDLE_MS: '100' });
    const c = await connect(s.ws);
    const [code, reason] = await once(c.ws, 'close') as [number, Buffer];
    expect(code).toBe(1008);
    expect(reason.toString()).toMatch(/^STREAM_IDLE/);
    await s.logs.next((l) => l.msg === 'stream closed');
    expect(s.adpc.streams.streams).toBe(0);
    await s.close();
  });

  it('drains losslessly: the running frame finishes, the waiting one and later ones get DRAINING, then 1001', async () => {
    const gated = gatedEngine(engine); // frame 1 holds before its first stage until the test lets it go
    const s = await startTestServer(gated.engine, { ADPC_SUPERSEDE: 'frame' });
    const c = await connect(s.ws);
    c.ws.send(frame(1));
    await gated.started;
    c.ws.send(frame(2)); // waits behind frame 1, or arrives after the drain began: DRAINING either way
    const closed = once(c.ws, 'close');
    const drained = s.adpc.shutdown();
    expect(await c.next(isEnd(2))).toMatchObject({ type: 'error', code: 'DRAINING' });
    c.ws.send(frame(3));
    expect(await c.next(isEnd(3))).toMatchObject({ type: 'error', code: 'DRAINING' });
    gated.open();
    const [code] = await closed as [number];
    expect(code).toBe(1001);
    expect(await drained).toBe(true);
    const ends = finals(c.messages);
    expect(ends.get(1)!.map((m) => m.stop)).toEqual(['final_exit']);
    expect(c.messages.filter((m) => m.frame_id === 1 && m.type === 'exit')).toHaveLength(4);
    for (const answers of ends.values()) expect(answers).toHaveLength(1);
  });

});
