// Region reuse on WS /v1/stream: the real server and engine, a real client, frames of a
// fixed camera (the same scene, then a square painted into it).
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeExitMessage, encodeFrameMessage } from '../../server/stream/frame-message.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { generateScene } from '../../src/synth/generate.js';
import { componentValidators } from '../helpers/api-spec.js';
import { metricValue, startTestServer, type TestServer } from '../helpers/server.js';

type Json = Record<string, unknown> & { type: string; frame_id?: number; stop?: string | null; exit?: number; reuse?: unknown };
type Reuse = { mode: string; keyframe: string | null; regions: { x: number; y: number; width: number; height: number }[]; recomputed_share: number };

let engine: AnytimeEngine;
const W = 1024;
const H = 512;
let scene: Uint8Array;
let withSquare: Uint8Array;

beforeAll(async () => {
  engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
  scene = generateScene(2_000_031, { height: H, width: W }).image;
  withSquare = scene.slice();
  // a bright 80x60 square at (600, 300) in the frame's pixels
  for (let y = 300; y < 360; y++) withSquare.fill(250, (y * W + 600) * 3, (y * W + 680) * 3);
}, 60_000);
afterAll(async () => engine?.close());

async function open(t: TestServer) {
  const ws = new WebSocket(t.ws);
  const messages: Json[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data: Buffer, binary: boolean) => {
    messages.push((binary ? decodeExitMessage(new Uint8Array(data)).metadata : JSON.parse(data.toString())) as Json);
    waiters.splice(0).forEach((f) => f());
  });
  const until = async (pred: (m: Json) => boolean): Promise<Json> => {
    for (;;) {
      const found = messages.find(pred);
      if (found) return found;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  await once(ws, 'open');
  const send = async (frameId: number, image: Uint8Array): Promise<Json[]> => {
    ws.send(encodeFrameMessage({ frameId, format: 'rgb', width: W, height: H, image }));
    await until((m) => m.frame_id === frameId && m.stop != null);
    return messages.filter((m) => m.frame_id === frameId);
  };
  return { ws, messages, until, send };
}

describe('WS /v1/stream with region reuse', () => {
  let t: TestServer;
  beforeAll(async () => (t = await startTestServer(engine, { ADPC_REUSE: 'true' })));
  afterAll(async () => t?.close());

  it('answers a keyframe in full, an unchanged frame at once, and a changed one from its changed part', async () => {
    const c = await open(t);
    const hello = await c.until((m) => m.type === 'hello');
    expect(hello.reuse).toEqual({ enabled: true, regions: true, margin: 24, label_margin: 16, keyframe_interval: 50 });

    const first = await c.send(1, scene);
    expect(first.map((m) => m.exit)).toEqual([1, 2, 3, 4]);
    expect(first.map((m) => m.reuse)).toEqual(Array(4).fill({ mode: 'full', keyframe: 'first', regions: [], recomputed_share: 1 }));

    const same = await c.send(2, scene);
    expect(same).toHaveLength(1);
    expect(same[0]).toMatchObject({ exit: 4, stop: 'unchanged', gflops: 0, computed_share: 0, reuse: { mode: 'reused', keyframe: null, regions: [], recomputed_share: 0 } });

    const changed = await c.send(3, withSquare);
    expect(changed.map((m) => m.exit)).toEqual([1, 2, 3, 4]);
    const last = changed[3]!;
    expect(last.stop).toBe('final_exit');
    const reuse = last.reuse as Reuse;
    expect(reuse.mode).toBe('regions');
    // the region is in the frame's pixels and holds the square
    expect(reuse.regions).toHaveLength(1);
    const r = reuse.regions[0]!;
    expect(r.x).toBeLessThanOrEqual(600);
    expect(r.y).toBeLessThanOrEqual(300);
    expect(r.x + r.width).toBeGreaterThanOrEqual(680);
    expect(r.y + r.height).toBeGreaterThanOrEqual(360);
    expect(reuse.recomputed_share).toBeGreaterThan(0);
    expect(reuse.recomputed_share).toBeLessThan(0.5);
    expect(last.cumulative_gflops as number).toBeLessThan(first[3]!.cumulative_gflops as number);

    // the answers are what the stream's schema says
    const asyncapi = await (await fetch(`${t.http}/v1/asyncapi.json`)).json() as { components: { schemas: Record<string, unknown> } };
    const schema = componentValidators(asyncapi, 'draft-07');
    for (const m of c.messages) {
      const validate = schema(m.type === 'hello' ? 'Hello' : 'ExitMetadata');
      expect(validate(m), JSON.stringify(validate.errors)).toBe(true);
    }

    const metrics = await (await fetch(`${t.http}/metrics`)).text();
    expect(metricValue(metrics, 'adpc_reuse_frames_total{mode="full"}')).toBe(1);
    expect(metricValue(metrics, 'adpc_reuse_frames_total{mode="reused"}')).toBe(1);
    expect(metricValue(metrics, 'adpc_reuse_frames_total{mode="regions"}')).toBe(1);
    expect(metricValue(metrics, 'adpc_reuse_keyframes_total{reason="first"}')).toBe(1);
    expect(metricValue(metrics, 'adpc_reuse_recomputed_share_ratio_count')).toBe(3);
    expect(metricValue(metrics, 'adpc_budget_stops_total{reason="unchanged"}')).toBe(1);
    c.ws.close();
    await once(c.ws, 'close');
  });

  it('turns off and on by stream config; on again, it starts from a keyframe', async () => {
    const c = await open(t);
    await c.send(1, scene);
    c.ws.send(JSON.stringify({ type: 'config', reuse: false }));
    expect((await c.until((m) => m.type === 'config')).reuse).toBe(false);
    const off = await c.send(2, scene);
    expect(off.map((m) => m.reuse)).toEqual([null, null, null, null]);
    c.ws.send(JSON.stringify({ type: 'config', reuse: true }));
    await c.until((m) => m.type === 'config' && m.reuse === true);
    const on = await c.send(3, scene);
    expect(on[0]!.reuse).toMatchObject({ mode: 'full', keyframe: 'first' });
    c.ws.send(JSON.stringify({ type: 'config', reuse: 'yes' }));
    expect(await c.until((m) => m.type === 'error')).toMatchObject({ code: 'OPTION_INVALID' });
    c.ws.close();
    await once(c.ws, 'close');
  });
});

describe('WS /v1/stream with a bound of its own on the share recomputed', () => {
  it('runs the changed frame in full where the change and its margin pass the bound', async () => {
    const t = await startTestServer(engine, { ADPC_REUSE: 'true', ADPC_REUSE_MAX_SHARE: '0.01' });
    try {
      const c = await open(t);
      await c.send(1, scene);
      const changed = await c.send(2, withSquare);
      expect(changed.map((m) => m.reuse)).toEqual(Array(4).fill({ mode: 'full', keyframe: 'coverage', regions: [], recomputed_share: 1 }));
      c.ws.close();
      await once(c.ws, 'close');
    } finally {
      await t.close();
    }
  });
});

describe('WS /v1/stream without region reuse (the default)', () => {
  it('says so in hello and answers reuse: null', async () => {
    const t = await startTestServer(engine);
    try {
      const c = await open(t);
      expect((await c.until((m) => m.type === 'hello')).reuse).toMatchObject({ enabled: false, regions: true });
      const answers = await c.send(1, scene);
      expect(answers.every((m) => m.reuse === null)).toBe(true);
      c.ws.close();
      await once(c.ws, 'close');
    } finally {
      await t.close();
    }
  });
});
