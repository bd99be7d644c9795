// What an exit answer carries on both faces: class summaries, palette colours from the bundle,
// timing, the capture timestamp, snake_case model descriptions, and frame-size maps from the
// engine's input-size labels when it makes them.
import { once } from 'node:events';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FrameEngine } from '../../server/model-info.js';
import { decodeExitMessage, encodeFrameMessage } from '../../server/stream/frame-message.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine, type ExitResult, type RunOptions } from '../../src/engine/anytime-engine.js';
import type { StopReason } from '../../src/engine/budget.js';
import { colorizeLabels, paletteOf } from '../../src/classes.js';
import { encodedScene, startTestServer, type TestServer } from '../helpers/server.js';

interface Exit {
  exit: number; stop: string | null; labels_png: string; capture_ts?: string;
  timing_ms: { queue: number; decode: number; compute: number; encode: number };
  summary: { width: number; height: number; classes: { id: number; name: string; pixels: number; share: number; regions?: number; boxes?: unknown[] }[] } | null;
}
interface Answer { width: number; height: number; encoding: string; capture_ts?: string; exits: Exit[] }

let engine: AnytimeEngine;
let jpeg: Uint8Array<ArrayBuffer>;

/** A label PNG's pixels: class ids (one channel), or colours with `rgb`. */
const decodePng = async (base64: string, rgb = false) => {
  const image = sharp(Buffer.from(base64, 'base64'));
  return (rgb ? image : image.toColourspace('b-w')).raw().toBuffer({ resolveWithObject: true });
};

/** Every key of a JSON value, at any depth. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)]);
  return [];
}

/** Wraps the engine: records the options of each run, and gives each exit an input-size map of one class. */
function withFullLabels(real: AnytimeEngine, label: number): { engine: FrameEngine; options: (RunOptions & { fullLabels?: boolean })[] } {
  const options: (RunOptions & { fullLabels?: boolean })[] = [];
  const { height, width } = real.manifest.input;
  return {
    options,
    engine: {
      manifest: real.manifest,
      info: () => real.info(),
      run: (input: Float32Array, o?: RunOptions) => (async function* (): AsyncGenerator<ExitResult, StopReason> {
        const given = o as RunOptions & { fullLabels?: boolean };
        options.push(given);
        const exits = real.run(input, o);
        for (;;) {
          const step = await exits.next();
          if (step.done) return step.value;
          yield given.fullLabels ? { ...step.value, fullLabels: { labels: new Uint8Array(width * height).fill(label), width, height } } as ExitResult : step.value;
        }
      })(),
    },
  };
}

beforeAll(async () => {
  engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
  jpeg = await encodedScene(2_000_041, 320, 160, 'jpeg');
}, 60_000);
afterAll(async () => engine?.close());

describe('POST /v1/segment answers', () => {
  let t: TestServer;
  beforeAll(async () => (t = await startTestServer(engine)));
  afterAll(() => t.close());

  it('carry a class summary, timing and the capture timestamp with every exit', async () => {
    const res = await fetch(`${t.http}/v1/segment?summary=regions&capture_ts=2024-05-01T10:00:00.040Z`, { method: 'POST', body: jpeg });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-capture-ts')).toBe('2024-05-01T10:00:00.040Z');
    const body = await res.json() as Answer;
    expect(body.capture_ts).toBe('2024-05-01T10:00:00.040Z');
    expect(body.exits.map((e) => e.exit)).toEqual([1, 2, 3, 4]);
    for (const e of body.exits) {
      expect(e).not.toHaveProperty('compute_ms');
      expect(e.timing_ms.compute).toBeGreaterThan(0);
      for (const ms of Object.values(e.timing_ms)) expect(ms).toBeGreaterThanOrEqual(0);
      const summary = e.summary!;
      expect([summary.width, summary.height]).toEqual([320, 160]);
      expect(summary.classes.reduce((sum, c) => sum + c.pixels, 0)).toBe(320 * 160);
      expect(summary.classes.reduce((sum, c) => sum + c.share, 0)).toBeCloseTo(1, 4);
      // the summary is of the map the exit returns
      const { data } = await decodePng(e.labels_png);
      for (const c of summary.classes) expect(data.reduce((n, v) => n + (v === c.id ? 1 : 0), 0)).toBe(c.pixels);
      expect(summary.classes.every((c) => c.regions! >= 1 && c.boxes!.length >= 1)).toBe(true);
    }
    const plain = await (await fetch(`${t.http}/v1/segment?max_exit=1&summary=classes`, { method: 'POST', body: jpeg })).json() as Answer;
    expect(plain.exits[0]!.summary!.classes[0]).not.toHaveProperty('boxes');
    const none = await (await fetch(`${t.http}/v1/segment?max_exit=1`, { method: 'POST', body: jpeg })).json() as Answer;
    expect(none.exits[0]!.summary).toBeNull();
    expect(none).not.toHaveProperty('capture_ts');
  });

  it('colours palette maps with the bundle classes, id for id', async () => {
    const ids = await (await fetch(`${t.http}/v1/segment?max_exit=2&size=stride`, { method: 'POST', body: jpeg })).json() as Answer;
    const colours = await (await fetch(`${t.http}/v1/segment?max_exit=2&size=stride&encoding=palette`, { method: 'POST', body: jpeg })).json() as Answer;
    expect(colours.encoding).toBe('palette');
    const gray = await decodePng(ids.exits[1]!.labels_png);
    const rgb = await decodePng(colours.exits[1]!.labels_png, true);
    expect(rgb.info.channels).toBe(3);
    expect(Buffer.from(rgb.data).equals(Buffer.from(colorizeLabels(gray.data, paletteOf(engine.manifest.classes))))).toBe(true);
  });

  it('refuse a capture timestamp a header cannot carry, and an unknown summary', async () => {
    for (const query of ['capture_ts=has%20space', `capture_ts=${'x'.repeat(65)}`, 'summary=boxes']) {
      const res = await fetch(`${t.http}/v1/segment?${query}`, { method: 'POST', body: jpeg });
      expect(res.status, query).toBe(400);
      expect((await res.json() as { error: { code: string } }).error.code, query).toBe('OPTION_INVALID');
    }
  });

  it('describe the model in snake_case with classes, colours and its card', async () => {
    const { models: [model] } = await (await fetch(`${t.http}/v1/models`)).json() as { models: Record<string, unknown>[] };
    expect(keysOf(model).filter((k) => /[A-Z]/.test(k))).toEqual([]);
    expect(model).toMatchObject({ bundle: 'default', classes: engine.manifest.classes, baseline_gflops: engine.manifest.dense_gflops });
    expect((model!.exits as { cumulative_gflops: number }[]).map((e) => e.cumulative_gflops)).toEqual(engine.info().exitGflops);
    expect(model!.card).toMatchObject({ synthetic_only: true, weights: 'checkpoint' });
  });
});

describe('frame-size maps', () => {
  it("come from the engine's input-size labels when the run makes them, and ask for them only then", async () => {
    const wrapped = withFullLabels(engine, 7);
    const t = await startTestServer(wrapped.engine);
    try {
      const frame = await (await fetch(`${t.http}/v1/segment?max_exit=1`, { method: 'POST', body: jpeg })).json() as Answer;
      const { data, info } = await decodePng(frame.exits[0]!.labels_png);
      expect([info.width, info.height]).toEqual([320, 160]);
      expect(data.every((v) => v === 7)).toBe(true);
      const stride = await (await fetch(`${t.http}/v1/segment?max_exit=1&size=stride`, { method: 'POST', body: jpeg })).json() as Answer;
      expect((await decodePng(stride.exits[0]!.labels_png)).data.some((v) => v !== 7)).toBe(true);
      expect(wrapped.options.map((o) => o.fullLabels)).toEqual([true, false]);
    } finally {
      await t.close();
    }
  });
});

describe('WS /v1/stream answers', () => {
  let t: TestServer;
  beforeAll(async () => (t = await startTestServer(engine)));
  afterAll(() => t.close());

  async function open(): Promise<{ ws: WebSocket; hello: Record<string, unknown>; next: () => Promise<{ json: Record<string, unknown>; payload?: Uint8Array }> }> {
    const ws = new WebSocket(t.ws);
    const queue: { json: Record<string, unknown>; payload?: Uint8Array }[] = [];
    const waiting: (() => void)[] = [];
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (binary) {
        const { metadata, payload } = decodeExitMessage(new Uint8Array(data));
        queue.push({ json: metadata, payload });
      } else {
        queue.push({ json: JSON.parse(data.toString()) as Record<string, unknown> });
      }
      waiting.splice(0).forEach((f) => f());
    });
    const next = async () => {
      while (queue.length === 0) await new Promise<void>((r) => waiting.push(r));
      return queue.shift()!;
    };
    await once(ws, 'open');
    return { ws, hello: (await next()).json, next };
  }

  it('say hello with the model description: classes, colours and card', async () => {
    const { ws, hello } = await open();
    const { models: [model] } = await (await fetch(`${t.http}/v1/models`)).json() as { models: unknown[] };
    expect(hello.model).toEqual(model);
    ws.close();
  });

  it('send palette colours, raw or PNG, and summaries, as configured', async () => {
    const { ws, next } = await open();
    ws.send(JSON.stringify({ type: 'config', labels: 'raw', encoding: 'palette', summary: 'classes', size: 'frame', budget: { max_exit: 1 } }));
    expect((await next()).json).toMatchObject({ type: 'config', labels: 'raw', encoding: 'palette', summary: 'classes', size: 'frame' });
    ws.send(encodeFrameMessage({ frameId: 1, format: 'encoded', image: jpeg, captureTs: 17 }));
    const rgb = await next();
    expect(rgb.json).toMatchObject({ type: 'exit', frame_id: 1, capture_ts: 17, width: 320, height: 160, labels: { encoding: 'raw', palette: true, bytes: 320 * 160 * 3 } });
    ws.send(JSON.stringify({ type: 'config', encoding: 'grayscale' }));
    await next();
    ws.send(encodeFrameMessage({ frameId: 2, format: 'encoded', image: jpeg }));
    const ids = await next();
    expect(ids.json).not.toHaveProperty('capture_ts');
    expect(ids.json.labels).toMatchObject({ encoding: 'raw', palette: false, bytes: 320 * 160 });
    expect(Buffer.from(rgb.payload!).equals(Buffer.from(colorizeLabels(ids.payload!, paletteOf(engine.manifest.classes))))).toBe(true);
    const summary = ids.json.summary as { classes: { pixels: number }[] };
    expect(summary.classes.reduce((sum, c) => sum + c.pixels, 0)).toBe(320 * 160);
    ws.close();
  });

  it('refuse a capture timestamp that is neither a number nor a short string, naming the frame', async () => {
    const { ws, next } = await open();
    const bad = encodeFrameMessage({ frameId: 9, format: 'encoded', image: jpeg, captureTs: 'x'.repeat(65) });
    ws.send(bad);
    expect((await next()).json).toMatchObject({ type: 'error', code: 'OPTION_INVALID', frame_id: 9 });
    ws.send(encodeFrameMessage({ frameId: 10, format: 'encoded', image: new Uint8Array(0), captureTs: 'cam-10' }));
    expect((await next()).json).toMatchObject({ type: 'error', code: 'IMAGE_EMPTY', frame_id: 10, capture_ts: 'cam-10' });
    ws.close();
  });
});
