// What a hostile peer can send on a raw socket: malformed request lines, targets, headers and
// upgrades, then a seeded fuzz of the HTTP face. The server must answer each in the JSON error
// shape (or drop the socket) and stay up.
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { ERROR_CATALOGUE } from '../../src/errors.js';
import { encodedScene, startTestServer, type TestServer } from '../helpers/server.js';

interface RawAnswer {
  /** 0 when the server closed the socket without an answer. */
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Writes `request` on a fresh socket and reads until the server closes it. */
function raw(port: number, request: Uint8Array | string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => undefined); // a reset counts as closed
    socket.on('close', () => {
      // an interim 100 Continue comes before the answer
      const text = Buffer.concat(chunks).toString('latin1').replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
      const head = text.split('\r\n\r\n', 1)[0]!;
      const [statusLine, ...lines] = head.split('\r\n');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: match ? Number(match[1]) : 0, headers, body: text.slice(head.length + 4) });
    });
    socket.setTimeout(10_000, () => reject(new Error(`no answer and no close for ${JSON.stringify(String(request).slice(0, 80))}`)));
    socket.end(request);
  });
}

/** The body is the catalogue's JSON error shape with the code the status says. */
function expectErrorShape(answer: RawAnswer, what: string): void {
  expect(answer.headers['content-type'], what).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as { error: { code: keyof typeof ERROR_CATALOGUE; message: string } };
  expect(Object.keys(body), what).toEqual(['error']);
  expect(typeof body.error.message, what).toBe('string');
  expect(ERROR_CATALOGUE[body.error.code]?.status, what).toBe(answer.status);
}

let engine: AnytimeEngine;
let png: Uint8Array;
let t: TestServer;

beforeAll(async () => {
  engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
  png = await encodedScene(2_000_031, 128, 64, 'png');
  t = await startTestServer(engine, { ADPC_TOKEN: 'hostile-token-0123456789' });
}, 60_000);
afterAll(async () => {
  await t?.close();
  await engine?.close();
});

describe('malformed requests on a raw socket', () => {
  it('answers an upgrade with an unparsable target with 400 and destroys the socket', async () => {
    const answer = await raw(t.port, 'GET //[ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect(answer.status).toBe(400);
    expectErrorShape(answer, 'GET //[');
    expect(JSON.parse(answer.body).error.code).toBe('BAD_REQUEST');
    expect((await fetch(`${t.http}/healthz`)).status).toBe(200); // still serving
  });

  it('answers every other malformed upgrade and request line in the JSON shape', async () => {
    const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\n';
    const cases: [string, number][] = [
      [`GET /v1/stream HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`, 401], // the token comes before the handshake check
      [`GET /v1/stream?access_token=hostile-token-0123456789 HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`, 400], // no key, no version
      [`POST /v1/stream?access_token=hostile-token-0123456789 HTTP/1.1\r\nHost: x\r\n${upgrade}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`, 400],
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`, 404],
      [`GET http://[::1 HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`, 400],
      [`GET /%zz%00 HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`, 404],
      ['GARBAGE\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n', 400],
      ['POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ];
    for (const [request, status] of cases) {
      const answer = await raw(t.port, request);
      expect(answer.status, request).toBe(status);
      expectErrorShape(answer, request);
    }
  });
});

describe('fuzzing the HTTP face', () => {
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'BREW', 'get', 'M-SEARCH'];
  const paths = ['/', '/healthz', '/readyz', '/metrics', '/v1/models', '/v1/segment', '/v1/stream', '/v1/', '//', '/..', '/v1/segment/../models'];
  const queryKey = fc.constantFrom('max_exit', 'gflops', 'deadline_ms', 'threshold', 'size', 'encoding', 'width', 'height', 'access_token', 'x', '');
  const queryValue = fc.oneof(fc.constantFrom('1', '4', '0', '-1', '0x2', '1e400', 'NaN', 'stride', 'frame', 'palette', '%', '%ff', '[]'), fc.string({ maxLength: 8 }));
  const headerName = fc.constantFrom('Content-Type', 'Content-Encoding', 'Accept', 'Authorization', 'X-Request-Id', 'X-Budget-Max-Exit', 'X-Budget-Threshold', 'Connection', 'Upgrade', 'Expect', 'Range');
  const headerValue = fc.oneof(
    fc.constantFrom('gzip', 'br', 'zstd', 'identity, gzip', 'image/png', 'application/x-raw-rgb', 'application/json', 'Bearer x', 'bearer hostile-token-0123456789', 'Upgrade', 'websocket', '100-continue', 'bytes=0-1'),
    fc.stringMatching(/^[\x21-\x7e ]{0,20}$/),
  );
  // the scene PNG exists only once beforeAll ran
  const body = fc.oneof(fc.constant('empty'), fc.uint8Array({ maxLength: 300 }), fc.constant('png'), fc.constant('cut png'))
    .map((b) => (b === 'empty' ? new Uint8Array(0) : b === 'png' ? png : b === 'cut png' ? png.slice(0, 100) : b));
  const request = fc.record({
    method: fc.constantFrom(...methods),
    path: fc.oneof(fc.constantFrom(...paths), fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/)),
    query: fc.array(fc.tuple(queryKey, queryValue), { maxLength: 4 }),
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 5 }),
    body,
  });

  it('answers every request with 2xx or 4xx in the JSON shape, and survives (seeded)', async () => {
    await fc.assert(fc.asyncProperty(request, async (r) => {
      const query = r.query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
      const target = `${r.path}${query ? `?${query}` : ''}`;
      const head = [`${r.method} ${target} HTTP/1.1`, 'Host: fuzz', ...r.headers.map(([n, v]) => `${n}: ${v}`),
        `Content-Length: ${r.body.length}`, 'Connection: close', '', ''].join('\r\n');
      const answer = await raw(t.port, Buffer.concat([Buffer.from(head, 'latin1'), r.body]));
      const what = `${r.method} ${target} ${JSON.stringify(r.headers)}`;
      if (answer.status === 0) return; // dropped: allowed for requests Node cannot frame
      expect(answer.status >= 200 && answer.status < 500, `${what}: ${answer.status} ${answer.body.slice(0, 200)}`).toBe(true);
      if (answer.status >= 400 && r.method !== 'HEAD') expectErrorShape(answer, what);
    }), { seed: 20_240_611, numRuns: 1000 });
    expect((await fetch(`${t.http}/healthz`)).status).toBe(200);
  }, 120_000);
});
