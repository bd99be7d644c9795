// The served OpenAPI and AsyncAPI documents: valid against the published meta-schemas, and
// every real answer of the server (HTTP bodies, stream messages) valid against their schemas.
import { once } from 'node:events';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeExitMessage, encodeFrameMessage } from '../../server/stream/frame-message.js';
import type { FrameEngine } from '../../server/model-info.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine, type ExitResult, type RunOptions } from '../../src/engine/anytime-engine.js';
import type { StopReason } from '../../src/engine/budget.js';
import { asyncApiDocumentValidator, componentValidators, openApiDocumentValidator } from '../helpers/api-spec.js';
import { encodedScene, startTestServer, type TestServer } from '../helpers/server.js';

type Doc = { components: { schemas: Record<string, unknown> } } & Record<string, unknown>;

let engine: AnytimeEngine;
let jpeg: Uint8Array<ArrayBuffer>;

/**
 * Holds each run after every exit that does not end it, until `resume()` (one resume lets one
 * held run go on, whether it already waits or not): frames are superseded between stages at will.
 */
function pausingEngine(real: AnytimeEngine): { engine: FrameEngine; resume: () => void } {
  const waiting: (() => void)[] = [];
  let permits = 0;
  const hold = () => (permits > 0 ? (permits--, Promise.resolve()) : new Promise<void>((go) => waiting.push(go)));
  return {
    resume: () => {
      const go = waiting.shift();
      if (go) go();
      else permits++;
    },
    engine: {
      manifest: real.manifest,
      info: () => real.info(),
      run: (input: Float32Array, options?: RunOptions) => (async function* (): AsyncGenerator<ExitResult, StopReason> {
        const exits = real.run(input, options);
        for (;;) {
          const step = await exits.next();
          if (step.done) return step.value;
          yield step.value;
          if (step.value.stop === null) await hold();
        }
      })(),
    },
  };
}

function expectValid(validate: ValidateFunction, value: unknown, what: string): void {
  const ok = validate(value);
  expect(ok, `${what}: ${JSON.stringify(validate.errors)}`).toBe(true);
}

beforeAll(async () => {
  engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
  jpeg = await encodedScene(2_000_031, 256, 128, 'jpeg');
}, 60_000);
afterAll(async () => engine?.close());

describe('API descriptions', () => {
  let t: TestServer;
  let openapi: Doc;
  let asyncapi: Doc;
  beforeAll(async () => {
    t = await startTestServer(engine, { ADPC_TOKEN: 'spec-token-0123456789' });
    // the descriptions need no token
    openapi = await (await fetch(`${t.http}/v1/openapi.json`)).json() as Doc;
    asyncapi = await (await fetch(`${t.http}/v1/asyncapi.json`)).json() as Doc;
  });
  afterAll(() => t.close());
  const auth = { authorization: 'Bearer spec-token-0123456789' };

  it('are valid OpenAPI 3.1 and AsyncAPI 3.0 documents, and the validators catch a broken one', () => {
    const oas = openApiDocumentValidator();
    expectValid(oas, openapi, 'openapi');
    expect(oas({ ...openapi, paths: { '/x': { get: { responses: { 200: { content: 'no' } } } } } })).toBe(false);
    const aas = asyncApiDocumentValidator();
    expectValid(aas, asyncapi, 'asyncapi');
    expect(aas({ ...asyncapi, operations: { bad: { action: 'publish', channel: { $ref: '#/channels/stream' } } } })).toBe(false);
    expect(Object.keys(openapi.paths as object)).toEqual(expect.arrayContaining(['/v1/segment', '/v1/models', '/v1/stream', '/healthz', '/readyz', '/metrics']));
  });

  it('describe every HTTP answer: health, readiness, models, segment (JSON), errors', async () => {
    const schema = componentValidators(openapi, '2020-12');
    expectValid(schema('Health'), await (await fetch(`${t.http}/healthz`)).json(), 'healthz');
    expectValid(schema('Ready'), await (await fetch(`${t.http}/readyz`)).json(), 'readyz');
    expectValid(schema('Models'), await (await fetch(`${t.http}/v1/models`, { headers: auth })).json(), 'models');
    for (const query of ['', '?summary=regions&capture_ts=cam1-000042&encoding=palette&max_exit=2', '?size=stride&summary=classes&threshold=1']) {
      const res = await fetch(`${t.http}/v1/segment${query}`, { method: 'POST', body: jpeg, headers: auth });
      expect(res.status).toBe(200);
      const answer = await res.json() as Record<string, unknown>;
      expectValid(schema('SegmentAnswer'), answer, `segment${query}`);
      expect(schema('SegmentAnswer')({ ...answer, undocumented: 1 }), 'an undocumented field fails').toBe(false);
    }
    const refusals: [string, RequestInit][] = [
      ['/v1/segment?summary=all', { method: 'POST', body: jpeg, headers: auth }],
      ['/v1/segment', { method: 'POST', body: jpeg }],
      ['/v1/segment', { method: 'POST', body: 'text', headers: auth }],
      ['/v1/nothing', { headers: auth }],
      ['/v1/models', { method: 'DELETE', headers: auth }],
    ];
    for (const [path, init] of refusals) expectValid(schema('Error'), await (await fetch(`${t.http}${path}`, init)).json(), path);
  });

  it('describe every stream message: hello, config, exits, dropped, stopped, errors', async () => {
    const schema = componentValidators(asyncapi, 'draft-07');
    const paused = pausingEngine(engine);
    const p = await startTestServer(paused.engine);
    try {
      const ws = new WebSocket(p.ws);
      const messages: { binary: boolean; json: Record<string, unknown> }[] = [];
      const arrived: (() => void)[] = [];
      ws.on('message', (data: Buffer, binary: boolean) => {
        messages.push({ binary, json: binary ? decodeExitMessage(new Uint8Array(data)).metadata : JSON.parse(data.toString()) as Record<string, unknown> });
        arrived.splice(0).forEach((f) => f());
      });
      const until = async (pred: (m: Record<string, unknown>) => boolean) => {
        while (!messages.some((m) => pred(m.json))) await new Promise<void>((r) => arrived.push(r));
      };
      await once(ws, 'open');
      const config = { type: 'config', size: 'frame', labels: 'raw', encoding: 'palette', summary: 'regions', confidence: true, budget: { max_exit: 4 } };
      expectValid(schema('ConfigRequest'), config, 'config request');
      ws.send(JSON.stringify(config));
      await until((m) => m.type === 'config');
      // frame 1 stops between stages (stopped), frame 2 never starts (dropped), frame 3 runs to its end
      ws.send(encodeFrameMessage({ frameId: 1, format: 'encoded', image: jpeg, captureTs: 1_700_000_000_123 }));
      await until((m) => m.type === 'exit' && m.frame_id === 1);
      ws.send(encodeFrameMessage({ frameId: 2, format: 'encoded', image: jpeg, captureTs: 'cam-2' }));
      ws.send(encodeFrameMessage({ frameId: 3, format: 'encoded', image: jpeg, budget: { max_exit: 2 }, captureTs: 'cam-3' }));
      ws.send(encodeFrameMessage({ frameId: 3, format: 'encoded', image: jpeg, captureTs: 'reused' }));
      // the refusal of the reused id answers the last of these: the server has seen them all
      await until((m) => m.type === 'error');
      paused.resume();
      await until((m) => m.type === 'stopped' && m.frame_id === 1);
      for (let exit = 1; exit < 2; exit++) {
        await until((m) => m.frame_id === 3 && m.exit === exit);
        paused.resume();
      }
      await until((m) => m.frame_id === 3 && m.stop === 'max_exit');
      ws.close();
      await once(ws, 'close');

      const by = (type: string) => messages.filter((m) => m.json.type === type);
      const names: Record<string, string> = { hello: 'Hello', config: 'ConfigReply', exit: 'ExitMetadata', dropped: 'Dropped', stopped: 'Stopped', error: 'StreamError' };
      for (const [type, name] of Object.entries(names)) {
        expect(by(type).length, type).toBeGreaterThan(0);
        for (const m of by(type)) expectValid(schema(name), m.json, type);
      }
      expect(by('exit').every((m) => m.binary)).toBe(true);
      expect(by('dropped')[0]!.json).toMatchObject({ frame_id: 2, reason: 'superseded', capture_ts: 'cam-2' });
      expect(by('stopped')[0]!.json).toMatchObject({ frame_id: 1, reason: 'superseded', last_exit: 1, capture_ts: 1_700_000_000_123 });
      expect(by('error')[0]!.json).toMatchObject({ code: 'FRAME_ID_REUSED', frame_id: 3, capture_ts: 'reused' });
      expect(by('exit').filter((m) => m.json.frame_id === 3).map((m) => m.json.capture_ts)).toEqual(['cam-3', 'cam-3']);
    } finally {
      await p.close();
    }
  });
});
