// The HTTP server on an ephemeral port, with real clients (fetch), over the shipped bundle.
import type { Server } from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppState } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import type { ServerMetrics } from '../../server/metrics.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { encodedScene, startTestServer } from '../helpers/server.js';

const TOKEN = 'test-token-0123456789';
let engine: AnytimeEngine;
let png: Uint8Array<ArrayBuffer>;

async function start(env: Record<string, string>, withEngine = true): Promise<{ url: string; server: Server; state: AppState; metrics: ServerMetrics }> {
  const t = await startTestServer(withEngine ? engine : null, { ADPC_MAX_MESSAGE_BYTES: '2000000', ...env });
  return { url: t.http, server: t.adpc.server, state: t.state, metrics: t.metrics };
}

beforeAll(async () => {
  engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
  png = await encodedScene(2_000_007, 256, 128, 'png');
}, 60_000);
afterAll(async () => engine?.close());

describe('HTTP API', () => {
  let url: string;
  let server: Server;
  let state: AppState;

  beforeAll(async () => ({ url, server, state } = await start({})));
  afterAll(() => server.close());

  it('answers health, readiness and the model description', async () => {
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const models = await (await fetch(`${url}/v1/models`)).json() as { models: { name: string; classes: unknown[]; exits: unknown[]; provider: string }[] };
    expect(models.models[0]!.name).toBe('default');
    expect(models.models[0]!.classes).toHaveLength(19);
    expect(models.models[0]!.exits).toHaveLength(4);
    expect(models.models[0]!.provider).toBe('cpu');
  });

  it('segments an image: every exit as JSON with PNG label maps at the frame size', async () => {
    const res = await fetch(`${url}/v1/segment?max_exit=3`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
    expect(res.status).toBe(200);
    const body = await res.json() as { width: number; height: number; exits: { exit: number; stop: string | null; labels_png: string }[] };
    expect([body.width, body.height]).toEqual([256, 128]);
    expect(body.exits.map((e) => e.exit)).toEqual([1, 2, 3]);
    expect(body.exits.at(-1)!.stop).toBe('max_exit');
    const meta = await sharp(Buffer.from(body.exits[0]!.labels_png, 'base64')).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([256, 128, 1]);
  });

  it('returns the final label map as image/png when asked, budget in headers', async () => {
    const res = await fetch(`${url}/v1/segment?size=stride`, { method: 'POST', body: png, headers: { accept: 'image/png', 'x-budget-max-exit': '2' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-exit')).toBe('2');
    expect(res.headers.get('x-stop-reason')).toBe('max_exit');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([128, 64]);
  });

  it('takes raw RGB with its size', async () => {
    const raw = new Uint8Array(64 * 32 * 3).fill(90);
    const res = await fetch(`${url}/v1/segment?width=64&height=32&max_exit=1`, { method: 'POST', body: raw, headers: { 'content-type': 'application/x-raw-rgb' } });
    expect(res.status).toBe(200);
    expect((await res.json() as { width: number }).width).toBe(64);
  });

  it('rejects bad input with stable codes and stays usable', async () => {
    const cases: [RequestInit, string, number][] = [
      [{ body: new TextEncoder().encode('not an image') }, 'IMAGE_UNSUPPORTED', 415],
      [{ body: new Uint8Array(0) }, 'IMAGE_EMPTY', 400],
      [{ body: png.slice(0, 200) }, 'IMAGE_CORRUPT', 400],
      [{ body: new Uint8Array(3_000_000) }, 'MESSAGE_TOO_LARGE', 413],
    ];
    for (const [init, code, status] of cases) {
      const res = await fetch(`${url}/v1/segment`, { method: 'POST', ...init });
      expect(res.status, code).toBe(status);
      expect((await res.json() as { error: { code: string } }).error.code).toBe(code);
    }
    for (const query of ['threshold=2', 'max_exit=0', 'gflops=abc']) {
      const res = await fetch(`${url}/v1/segment?${query}`, { method: 'POST', body: png });
      expect(res.status).toBe(400);
      expect((await res.json() as { error: { code: string } }).error.code).toBe('BUDGET_INVALID');
    }
    expect((await fetch(`${url}/v1/segment?max_exit=1`, { method: 'POST', body: png })).status).toBe(200);
  });

  it('reports readiness 503 while draining', async () => {
    state.draining = true;
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    expect((await fetch(`${url}/v1/segment`, { method: 'POST', body: png })).status).toBe(503);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    state.draining = false;
  });
});

describe('readiness before the model is loaded', () => {
  it('readyz is 503 and models answers NOT_READY', async () => {
    const { url, server } = await start({}, false);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    const res = await fetch(`${url}/v1/models`);
    expect(res.status).toBe(503);
    expect((await res.json() as { error: { code: string } }).error.code).toBe('NOT_READY');
    server.close();
  });
});

describe('auth and metrics', () => {
  it('requires the bearer token when one is set, but not for health checks', async () => {
    const { url, server } = await start({ ADPC_TOKEN: TOKEN, ADPC_METRICS_AUTH: 'true' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TOKEN }] as Record<string, string>[]) {
      const res = await fetch(`${url}/v1/models`, { headers });
      expect(res.status).toBe(401);
      expect((await res.json() as { error: { code: string } }).error.code).toBe('UNAUTHORISED');
    }
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    server.close();
  });

  it('counts what was sent', async () => {
    const { url, server } = await start({});
    await fetch(`${url}/v1/segment?max_exit=2`, { method: 'POST', body: png });
    await fetch(`${url}/v1/segment`, { method: 'POST', body: png });
    await fetch(`${url}/v1/segment`, { method: 'POST', body: new TextEncoder().encode('junk') });
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ').at(-1));
    expect(value('adpc_frames_total{outcome="completed"}')).toBe(2);
    expect(value('adpc_frames_total{outcome="rejected"}')).toBe(1);
    expect(value('adpc_budget_stops_total{reason="max_exit"}')).toBe(1);
    expect(value('adpc_budget_stops_total{reason="final_exit"}')).toBe(1);
    expect(value('adpc_time_to_exit_seconds_count{exit="1"}')).toBe(2);
    expect(value('adpc_time_to_exit_seconds_count{exit="4"}')).toBe(1);
    // stage 2 ran in whichever form the engine chose for it (native where the addon is built)
    const stage2 = text.split('\n').filter((l) => l.startsWith('adpc_stage_compute_seconds_count{stage="2"'));
    expect(stage2.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)).toBe(2);
    expect(text).toContain('adpc_process_cpu_user_seconds_total');
    server.close();
  });
});

describe('configuration', () => {
  it('rejects bad values naming the variable', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ ADPC_PROVIDER: 'tpu' })).toThrow(/ADPC_PROVIDER/);
    expect(() => loadConfig({ ADPC_TOKEN: 'short' })).toThrow(/at least 16/);
    expect(() => loadConfig({}, ['--nope', '1'])).toThrow(/unknown option/);
    expect(loadConfig({ PORT: '9000' }, ['--port', '9001']).port).toBe(9001);
  });
});
