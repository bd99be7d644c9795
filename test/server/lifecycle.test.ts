// The real entry point as a process: it loads, serves, and drains on SIGTERM without losing
// the request in flight.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { generateScene } from '../../src/synth/generate.js';
import { repoRoot } from '../helpers/python.js';

describe('server process', () => {
  it('becomes ready, then drains on SIGTERM: the in-flight request completes, exit 0', async () => {
    const child = spawn('node', ['--import', 'tsx', 'server/main.ts'], {
      cwd: repoRoot,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ADPC_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const lines = createInterface({ input: child.stdout });
    let port = 0;
    for await (const line of lines) {
      const entry = JSON.parse(line) as { msg: string; address?: { port: number } };
      if (entry.address) port = entry.address.port;
      if (entry.msg.includes('ready')) break;
    }
    expect(port).toBeGreaterThan(0);
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const scene = generateScene(2_000_011, { height: 256, width: 512 });
    const png = new Uint8Array(await sharp(scene.image, { raw: { width: 512, height: 256, channels: 3 } }).png().toBuffer());
    const inFlight = fetch(`${url}/v1/segment`, { method: 'POST', body: png });
    await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { exits: unknown[] }).exits).toHaveLength(4);
    expect(await exited).toBe(0);
  }, 60_000);
});
