// The single-file Python client (client/adpc_client.py, websockets) against the real server.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { repoRoot } from '../helpers/python.js';
import { encodedScene, startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'python-token-0123456789';

/** Runs the client through scripts/py.sh (the interpreter npm test set up, with websockets). */
function client(args: string[]): Promise<{ code: number; lines: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [join(repoRoot, 'scripts', 'py.sh'), join(repoRoot, 'client', 'adpc_client.py'), ...args], { cwd: repoRoot }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, lines: stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), stderr });
    });
  });
}

let engine: AnytimeEngine;
let t: TestServer;
let dir: string;

beforeAll(async () => {
  engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
  t = await startTestServer(engine, { ADPC_TOKEN: TOKEN });
  dir = await mkdtemp(join(tmpdir(), 'adpc-py-'));
  await writeFile(join(dir, 'a.png'), await encodedScene(2_000_061, 256, 128, 'png'));
  await writeFile(join(dir, 'b.jpg'), await encodedScene(2_000_062, 200, 100, 'jpeg'));
  await writeFile(join(dir, 'not-an-image.txt'), 'hello');
}, 60_000);
afterAll(async () => {
  await t?.close();
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the Python client', () => {
  it('sends each image as a frame and prints every exit with timing, summary and capture timestamp', async () => {
    const { code, lines, stderr } = await client([t.ws, join(dir, 'a.png'), join(dir, 'b.jpg'), '--token', TOKEN, '--max-exit', '3', '--summary', 'classes', '--capture-ts', 'cam-7']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(lines[0]).toMatchObject({ type: 'hello', model: 'default' });
    const exits = lines.slice(1);
    expect(exits.map((l) => [l.frame_id, l.exit, l.stop])).toEqual([
      [1, 1, null], [1, 2, null], [1, 3, 'max_exit'],
      [2, 1, null], [2, 2, null], [2, 3, 'max_exit'],
    ]);
    for (const l of exits) {
      expect(l.capture_ts).toBe('cam-7');
      expect(Object.keys(l.timing_ms as object)).toEqual(['queue', 'decode', 'compute', 'encode']);
      expect((l.classes as unknown[]).length).toBeGreaterThan(0);
      expect(l.labels_bytes).toBe(engine.manifest.output.width * engine.manifest.output.height);
    }
  });

  it("reports a frame's error with the server's code and goes on with the next", async () => {
    const { code, lines } = await client([t.ws, join(dir, 'not-an-image.txt'), join(dir, 'b.jpg'), '--token', TOKEN, '--max-exit', '1']);
    expect(code).toBe(1);
    expect(lines[1]).toMatchObject({ frame_id: 1, error: 'IMAGE_UNSUPPORTED' });
    expect(lines[2]).toMatchObject({ frame_id: 2, exit: 1, stop: 'max_exit' });
  });

  it('names a refused connection by its code', async () => {
    const { code, stderr } = await client([t.ws, join(dir, 'a.png'), '--token', 'wrong-token-0123456789']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^adpc_client: UNAUTHORISED: /);
  });
});
