// The HTTP server on an ephemeral port, with real clients (fetch), over the shipped bundle.
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppState } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import type { ServerMetrics } from '../../server/metrics.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { deviceHoldingEngine, gatedEngine } from '../helpers/fake-engine.js';
import { encodedScene, flatPng, metricValue, startTestServer } from '../helpers/server.js';

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
    const res = await fetch(`${url}/v1/models`);
    const text = await res.text();
    const models = JSON.parse(text) as { models: { name: string; bundle: string; classes: unknown[]; exits: unknown[]; provider: string }[] };
    expect(models.models[0]!.name).toBe('default');
    expect(models.models[0]!.bundle).toBe('default');
    expect(text).not.toContain(DEFAULT_BUNDLE); // the server's file system stays its own
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
    for (const query of ['threshold=2', 'max_exit=0', 'gflops=abc', 'max_exit=0x2', 'max_exit=%202', 'deadline_ms=Infinity', 'max_exit=2.5']) {
      const res = await fetch(`${url}/v1/segment?${query}`, { method: 'POST', body: png });
      expect(res.status, query).toBe(400);
      expect((await res.json() as { error: { code: string } }).error.code, query).toBe('BUDGET_INVALID');
    }
    const header = await fetch(`${url}/v1/segment`, { method: 'POST', body: png, headers: { 'x-budget-max-exit': '0x2' } });
    expect((await header.json() as { error: { code: string } }).error.code).toBe('BUDGET_INVALID');
    for (const query of ['size=huge', 'encoding=jpeg', 'max_exits=2', 'max_exit=1&max_exit=2', 'width=10', 'access_token=x']) {
      const res = await fetch(`${url}/v1/segment?${query}`, { method: 'POST', body: png });
      expect(res.status, query).toBe(400);
      const body = await res.json() as { error: { code: string; message: string } };
      expect(body.error.code, query).toBe('OPTION_INVALID');
    }
    const misspelt = await (await fetch(`${url}/v1/segment?max_exits=2`, { method: 'POST', body: png })).json() as { error: { message: string } };
    expect(misspelt.error.message).toMatch(/unknown query parameter max_exits.*max_exit/);
    expect((await fetch(`${url}/v1/segment?max_exit=1`, { method: 'POST', body: png })).status).toBe(200);
  });

  it('answers messages that name the condition, not the decoder', async () => {
    for (const body of [new TextEncoder().encode('not an image'), png.slice(0, 200)]) {
      const res = await fetch(`${url}/v1/segment`, { method: 'POST', body });
      const { error } = await res.json() as { error: { message: string } };
      expect(error.message).not.toMatch(/vips|input buffer|libspng|premature/i);
    }
  });

  it('refuses an image with a side beyond the bound before decoding it', async () => {
    const thin = await flatPng(1, 20_000); // within the pixel bound; libvips took 6 s for 1x40,000,000
    const res = await fetch(`${url}/v1/segment?size=stride`, { method: 'POST', body: thin });
    expect(res.status).toBe(413);
    const { error } = await res.json() as { error: { code: string; message: string } };
    expect(error.code).toBe('IMAGE_TOO_LARGE');
    expect(error.message).toMatch(/16384/);
  });

  it('answers unknown routes and methods in the JSON error shape', async () => {
    const cases: [string, RequestInit, number, string][] = [
      ['/nowhere', {}, 404, 'NOT_FOUND'],
      ['/v1/segment', {}, 405, 'METHOD_NOT_ALLOWED'],
      ['/healthz', { method: 'DELETE' }, 405, 'METHOD_NOT_ALLOWED'],
      ['/v1/models', { method: 'PUT', body: 'x' }, 405, 'METHOD_NOT_ALLOWED'],
      ['/v1/stream', {}, 400, 'BAD_REQUEST'],
    ];
    for (const [path, init, status, code] of cases) {
      const res = await fetch(`${url}${path}`, init);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect((await res.json() as { error: { code: string } }).error.code, path).toBe(code);
    }
    expect((await fetch(`${url}/healthz`, { method: 'DELETE' })).headers.get('allow')).toBe('GET, HEAD');
  });

  it('decodes gzip bodies and answers bad or unknown encodings with 400 and 415', async () => {
    const ok = await fetch(`${url}/v1/segment?max_exit=1`, { method: "POST", body: new Uint8Array(gzipSync(png)), headers: { 'content-encoding': 'gzip' } });
    expect(ok.status).toBe(200);
    const cases: [string, Uint8Array<ArrayBuffer>, number, string][] = [
      ['gzip', png, 400, 'ENCODING_INVALID'],
      ['deflate', new TextEncoder().encode('not deflate'), 400, 'ENCODING_INVALID'],
      ['x-unknown', png, 415, 'ENCODING_UNSUPPORTED'],
    ];
    for (const [encoding, body, status, code] of cases) {
      const res = await fetch(`${url}/v1/segment`, { method: 'POST', body, headers: { 'content-encoding': encoding } });
      expect(res.status, encoding).toBe(status);
      expect((await res.json() as { error: { code: string } }).error.code, encoding).toBe(code);
    }
  });

  it('echoes a request id, or makes one', async () => {
    const given = await fetch(`${url}/healthz`, { headers: { 'x-request-id': 'cam-1:42' } });
    expect(given.headers.get('x-request-id')).toBe('cam-1:42');
    const made = await fetch(`${url}/nowhere`, { headers: { 'x-request-id': 'has spaces\tand tabs' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports readiness 503 while draining', async () => {
    state.draining = true;
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    const refused = await fetch(`${url}/v1/segment`, { method: 'POST', body: png });
    expect(refused.status).toBe(503);
    expect((await refused.json() as { error: { code: string } }).error.code).toBe('DRAINING');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    state.draining = false;
  });
});

describe('request limits', () => {
  it('answers 503 OVERLOADED with Retry-After beyond ADPC_MAX_REQUESTS, and logs one line for it', async () => {
    const gated = gatedEngine(engine);
    const t = await startTestServer(gated.engine, { ADPC_MAX_REQUESTS: '1' });
    const first = fetch(`${t.http}/v1/segment?max_exit=1`, { method: 'POST', body: png });
    await gated.started;
    const second = await fetch(`${t.http}/v1/segment?max_exit=1`, { method: 'POST', body: png, headers: { 'x-request-id': 'second' } });
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('1');
    expect((await second.json() as { error: { code: string } }).error.code).toBe('OVERLOADED');
    gated.open();
    expect((await first).status).toBe(200);
    expect((await fetch(`${t.http}/v1/segment?max_exit=1`, { method: 'POST', body: png })).status).toBe(200);
    const lines = t.logs.lines.filter((l) => l.code === 'OVERLOADED');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ route: 'POST /v1/segment', request_id: 'second', level: 40 });
    await t.close();
  });

  it('answers 503 DEADLINE_UNMET to a request that waited for the device until too late for exit 1', async () => {
    const held = deviceHoldingEngine(engine);
    const t = await startTestServer(held.engine);
    const post = (query: string, id: string) => fetch(`${t.http}/v1/segment?${query}`, { method: 'POST', body: png, headers: { 'x-request-id': id } });
    const holder = post('max_exit=1', 'holder');
    await held.holding;
    // it waits behind the holder alone (the stream test has others waiting behind it)
    const hurried = post('max_exit=1&deadline_ms=1', 'hurried');
    await held.queued(1);
    held.open();
    const refused = await hurried;
    expect(refused.status).toBe(503);
    expect((await refused.json() as { error: { code: string } }).error.code).toBe('DEADLINE_UNMET');
    expect((await holder).status).toBe(200);
    const text = await (await fetch(`${t.http}/metrics`)).text();
    expect(metricValue(text, 'adpc_frames_total{outcome="dropped"}')).toBe(1);
    expect(metricValue(text, 'adpc_budget_stops_total{reason="deadline"}')).toBe(1);
    // no answer came: neither late nor on time
    expect(metricValue(text, 'adpc_deadline_frames_total{late="true"}')).toBe(0);
    expect(t.logs.lines.filter((l) => l.code === 'DEADLINE_UNMET')).toMatchObject([{ request_id: 'hurried', level: 40 }]);
    await t.close();
  });

  it('logs every refused request once, with its code and route, and never the token', async () => {
    const t = await startTestServer(engine, { ADPC_TOKEN: TOKEN });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const requests: [string, RequestInit][] = [
      ['/v1/models', {}],
      ['/v1/segment?access_token=' + TOKEN, { method: 'POST', body: png, headers: auth }],
      ['/v1/segment?threshold=5', { method: 'POST', body: png, headers: auth }],
      ['/v1/segment', { method: 'POST', body: new Uint8Array(0), headers: auth }],
      ['/nowhere', { headers: auth }],
    ];
    for (const [path, init] of requests) await fetch(`${t.http}${path}`, init);
    const refused = t.logs.lines.filter((l) => typeof l.code === 'string');
    expect(refused.map((l) => l.code)).toEqual(['UNAUTHORISED', 'OPTION_INVALID', 'BUDGET_INVALID', 'IMAGE_EMPTY', 'NOT_FOUND']);
    for (const l of refused) expect(l.request_id).toBeTypeOf('string');
    expect(refused[3]).toMatchObject({ route: 'POST /v1/segment' });
    expect(JSON.stringify(t.logs.lines)).not.toContain(TOKEN);
    await t.close();
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
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }] as Record<string, string>[]) {
      const res = await fetch(`${url}/v1/models`, { headers });
      expect(res.status).toBe(401);
      expect((await res.json() as { error: { code: string } }).error.code).toBe('UNAUTHORISED');
    }
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    // RFC 7235: the scheme is case-insensitive
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      expect((await fetch(`${url}/v1/models`, { headers: { authorization: `${scheme} ${TOKEN}` } })).status, scheme).toBe(200);
    }
    expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    server.close();
  });

  it('counts what was sent, on a server of its own', async () => {
    const { url, server } = await start({});
    await fetch(`${url}/v1/segment?max_exit=2`, { method: 'POST', body: png });
    await fetch(`${url}/v1/segment`, { method: 'POST', body: png });
    await fetch(`${url}/v1/segment`, { method: 'POST', body: new TextEncoder().encode('junk') });
    await fetch(`${url}/v1/segment?max_exit=0x2`, { method: 'POST', body: png });
    // an hour's deadline is met; a microsecond's is missed (exit 1 always comes)
    await fetch(`${url}/v1/segment?deadline_ms=3600000&max_exit=1`, { method: 'POST', body: png });
    await fetch(`${url}/v1/segment?deadline_ms=0.001&max_exit=1`, { method: 'POST', body: png });
    await fetch(`${url}/nowhere`);
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = (sample: string) => metricValue(text, sample);
    expect(value('adpc_frames_total{outcome="completed"}')).toBe(4);
    expect(value('adpc_frames_total{outcome="rejected"}')).toBe(2);
    expect(value('adpc_budget_stops_total{reason="max_exit"}')).toBe(3);
    expect(value('adpc_budget_stops_total{reason="final_exit"}')).toBe(1);
    expect(value('adpc_deadline_frames_total{late="false"}')).toBe(1);
    expect(value('adpc_deadline_frames_total{late="true"}')).toBe(1);
    expect(value('adpc_time_to_exit_seconds_count{exit="1"}')).toBe(4);
    expect(value('adpc_time_to_exit_seconds_count{exit="4"}')).toBe(1);
    // stage 2 ran in whichever form the engine chose for it (native where the addon is built)
    const stage2 = text.split('\n').filter((l) => l.startsWith('adpc_stage_compute_seconds_count{stage="2"'));
    expect(stage2.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)).toBe(2);
    expect(value('adpc_errors_total{code="IMAGE_UNSUPPORTED"}')).toBe(1);
    expect(value('adpc_errors_total{code="BUDGET_INVALID"}')).toBe(1);
    expect(value('adpc_errors_total{code="NOT_FOUND"}')).toBe(1);
    expect(value('adpc_queue_wait_seconds_count{queue="decode"}')).toBe(5);
    expect(value('adpc_queue_wait_seconds_count{queue="device"}')).toBe(2 + 4 + 1 + 1);
    // prom-client's process and event-loop metrics under their standard names
    expect(value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(text).not.toContain('adpc_process_');
    expect(text).not.toContain('adpc_nodejs_');
    server.close();
  });
});

describe('configuration', () => {
  it('rejects bad values naming the variable', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ ADPC_PROVIDER: 'tpu' })).toThrow(/ADPC_PROVIDER/);
    expect(() => loadConfig({ ADPC_TOKEN: 'short' })).toThrow(/at least 16/);
    expect(() => loadConfig({ ADPC_PING_MS: '-1' })).toThrow(/ADPC_PING_MS/);
    expect(() => loadConfig({}, ['--nope', '1'])).toThrow(/unknown option/);
    expect(loadConfig({ PORT: '9000' }, ['--port', '9001']).port).toBe(9001);
    expect(loadConfig({ ADPC_MAX_FPS: '0.5' }).maxFps).toBe(0.5);
    expect(() => loadConfig({ ADPC_REUSE_MAX_SHARE: '1.5' })).toThrow(/ADPC_REUSE_MAX_SHARE/);
    expect(() => loadConfig({ ADPC_REUSE_LABEL_MARGIN: '-8' })).toThrow(/ADPC_REUSE_LABEL_MARGIN/);
    expect(loadConfig({}, ['--reuse-label-margin', '8', '--reuse-max-share', '0.3'])).toMatchObject({ reuseLabelMargin: 8, reuseMaxShare: 0.3 });
  });
});
