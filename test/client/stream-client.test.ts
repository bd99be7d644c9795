// The TypeScript client against the real server on an ephemeral port.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { AdpcClientError, AdpcStreamClient, type ClientEvent, type ExitAnswer } from '../../client/index.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { encodedScene, startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'client-token-0123456789';
let engine: AnytimeEngine;
let jpeg: Uint8Array;

async function collect(answers: AsyncIterable<ExitAnswer>): Promise<ExitAnswer[]> {
  const out: ExitAnswer[] = [];
  for await (const a of answers) out.push(a);
  return out;
}

beforeAll(async () => {
  engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
  jpeg = await encodedScene(2_000_051, 256, 128, 'jpeg');
}, 60_000);
afterAll(async () => engine?.close());

describe('AdpcStreamClient', () => {
  let t: TestServer;
  beforeAll(async () => (t = await startTestServer(engine, { ADPC_TOKEN: TOKEN })));
  afterAll(() => t.close());

  it('connects with its options, and gives each frame its exits in order with its capture timestamp', async () => {
    const client = await AdpcStreamClient.connect(t.ws, { token: TOKEN, requestId: 'client-test', config: { labels: 'raw', size: 'frame', summary: 'classes' } });
    expect(client.hello).toMatchObject({ type: 'hello', protocol: 1, request_id: 'client-test', model: { bundle: 'default' } });
    for (let i = 0; i < 3; i++) {
      const frame = client.send(jpeg, { captureTs: 1000 + i, budget: { max_exit: 3 } });
      const exits = await collect(frame);
      expect(exits.map((e) => e.metadata.exit)).toEqual([1, 2, 3]);
      for (const e of exits) {
        expect(e.metadata).toMatchObject({ frame_id: frame.frameId, capture_ts: 1000 + i, width: 256, height: 128 });
        expect(e.labels.length).toBe(256 * 128);
        expect(e.metadata.summary!.classes.length).toBeGreaterThan(0);
      }
      expect(await frame.outcome).toMatchObject({ kind: 'exit', stop: 'max_exit' });
    }
    await client.close();
  });

  it('ends every frame of a fast sender with exactly one outcome (latest frame wins)', async () => {
    const client = await AdpcStreamClient.connect(t.ws, { token: TOKEN });
    const frames = Array.from({ length: 6 }, () => client.send(jpeg));
    const outcomes = await Promise.all(frames.map((f) => f.outcome));
    expect(outcomes.at(-1)).toMatchObject({ kind: 'exit', stop: 'final_exit' });
    expect(outcomes.some((o) => o.kind !== 'exit' || o.stop === 'superseded')).toBe(true);
    await client.close();
  });

  it("throws a frame's error from its iterator, and rejects a bad configuration", async () => {
    const client = await AdpcStreamClient.connect(t.ws, { token: TOKEN });
    const empty = client.send(new Uint8Array(0));
    const error = await collect(empty).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdpcClientError);
    expect(error).toMatchObject({ code: 'IMAGE_EMPTY', frameId: empty.frameId });
    await expect(client.configure({ size: 'huge' as 'frame' })).rejects.toMatchObject({ code: 'OPTION_INVALID' });
    expect(await client.configure({ encoding: 'palette', labels: 'raw' })).toMatchObject({ encoding: 'palette', labels: 'raw' });
    const [exit] = await collect(client.send({ format: 'rgb', data: new Uint8Array(64 * 32 * 3).fill(80), width: 64, height: 32 }, { budget: { max_exit: 1 } }));
    expect(exit!.metadata.labels).toMatchObject({ palette: true, bytes: 128 * 64 * 3 });
    await client.close();
  });

  it('reconnects after the connection drops, failing the frames it carried and keeping its options', async () => {
    const events: ClientEvent[] = [];
    const client = await AdpcStreamClient.connect(t.ws, { token: TOKEN, config: { labels: 'raw' }, reconnect: { initialDelayMs: 10 }, onEvent: (e) => events.push(e) });
    const first = client.hello.stream_id;
    const inFlight = client.send(jpeg);
    t.adpc.streams.terminateAll();
    await expect(inFlight.outcome).rejects.toMatchObject({ code: 'CONNECTION_LOST', frameId: inFlight.frameId });
    expect(client.connected).toBe(false);
    await expect(client.send(jpeg).outcome).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    await client.ready();
    expect(client.hello.stream_id).not.toBe(first);
    expect(events.map((e) => e.type)).toEqual(['open', 'close', 'open']);
    const exits = await collect(client.send(jpeg, { budget: { max_exit: 1 } }));
    expect(exits[0]!.metadata.labels.encoding).toBe('raw'); // the options were sent again
    await client.close();
  });

  it('gives up at once on a wrong token, and frames sent after close fail', async () => {
    const refusedBefore = t.logs.lines.filter((l) => l.code === 'UNAUTHORISED').length;
    await expect(AdpcStreamClient.connect(t.ws, { token: 'wrong-token-0123456789', reconnect: { initialDelayMs: 1 } })).rejects.toMatchObject({ code: 'UNAUTHORISED' });
    expect(t.logs.lines.filter((l) => l.code === 'UNAUTHORISED').length - refusedBefore).toBe(1);
    const client = await AdpcStreamClient.connect(t.ws, { token: TOKEN });
    await client.close();
    await expect(client.send(jpeg).outcome).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
  });
});

describe('AdpcStreamClient against a server still loading', () => {
  it('retries NOT_READY until the model is up', async () => {
    const t = await startTestServer(null);
    try {
      const connecting = AdpcStreamClient.connect(t.ws, { reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
      await t.logs.next((l) => l.code === 'NOT_READY');
      t.state.engine = engine;
      const client = await connecting;
      expect((await collect(client.send(jpeg, { budget: { max_exit: 2 } }))).map((e) => e.metadata.exit)).toEqual([1, 2]);
      await client.close();
    } finally {
      await t.close();
    }
  });
});

describe('AdpcStreamClient against a peer that breaks the protocol', () => {
  it('reports an unreadable message as an event and keeps running', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ type: 'hello', protocol: 1, request_id: 'x', stream_id: 1, model: {} }));
      ws.send(Buffer.from('not an exit message'));
      ws.send('{not json');
    });
    const events: ClientEvent[] = [];
    let twoErrors!: () => void;
    const reported = new Promise<void>((resolve) => (twoErrors = resolve));
    const client = await AdpcStreamClient.connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
      onEvent: (e) => {
        events.push(e);
        if (events.filter((x) => x.type === 'error').length === 2) twoErrors();
      },
    });
    await reported;
    expect(events.filter((e) => e.type === 'error').map((e) => (e as { error: AdpcClientError }).error.code)).toEqual(['BAD_MESSAGE', 'BAD_MESSAGE']);
    expect(client.connected).toBe(true);
    await client.close();
    wss.close();
  });
});

describe('the package export', () => {
  it('loads adpc-edge/client in plain Node (no tsx flag) and segments a frame', async () => {
    const t = await startTestServer(engine);
    try {
      const script = `
        import { AdpcStreamClient } from 'adpc-edge/client';
        const client = await AdpcStreamClient.connect(${JSON.stringify(t.ws)});
        const frame = client.send({ format: 'rgb', data: new Uint8Array(32 * 16 * 3).fill(120), width: 32, height: 16 }, { budget: { max_exit: 2 } });
        const exits = [];
        for await (const e of frame) exits.push(e.metadata.exit);
        console.log(JSON.stringify({ exits, model: client.hello.model.name }));
        await client.close();`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd() });
      expect(JSON.parse(stdout)).toEqual({ exits: [1, 2], model: 'default' });
    } finally {
      await t.close();
    }
  });
});
