// A real server on an ephemeral loopback port over a given engine, and test images.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { AppState } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { ServerMetrics } from '../../server/metrics.js';
import { createAdpcServer, type AdpcServer } from '../../server/server.js';
import type { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { generateScene } from '../../src/synth/generate.js';

export interface TestServer {
  readonly http: string;
  readonly ws: string;
  readonly adpc: AdpcServer;
  readonly state: AppState;
  readonly metrics: ServerMetrics;
}

export async function startTestServer(engine: AnytimeEngine | null, env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({ PORT: '0', ...env });
  const metrics = new ServerMetrics();
  const state: AppState = { engine, draining: false };
  const adpc = createAdpcServer({ config, metrics, state });
  adpc.server.listen(0, '127.0.0.1');
  await once(adpc.server, 'listening');
  const port = (adpc.server.address() as AddressInfo).port;
  return { http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/v1/stream`, adpc, state, metrics };
}

/** A synthetic test scene encoded as PNG or JPEG bytes. */
export async function encodedScene(seed: number, width: number, height: number, format: 'png' | 'jpeg'): Promise<Uint8Array<ArrayBuffer>> {
  const scene = generateScene(seed, { height, width });
  return new Uint8Array(await sharp(scene.image, { raw: { width, height, channels: 3 } })[format]().toBuffer());
}
