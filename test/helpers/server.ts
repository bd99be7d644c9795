// A real server on an ephemeral loopback port over a given engine, its log lines as events,
// and test images.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import sharp from 'sharp';
import type { AppState } from '../../server/app.js';
import { loadConfig, type ServerConfig } from '../../server/config.js';
import { ServerMetrics } from '../../server/metrics.js';
import type { FrameEngine } from '../../server/model-info.js';
import { createAdpcServer, type AdpcServer } from '../../server/server.js';
import { generateScene } from '../../src/synth/generate.js';

export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** Every line the server logs (debug and up), with a way to wait for one. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  write(text: string): void {
    const line = JSON.parse(text) as LogLine;
    this.lines.push(line);
    for (const w of [...this.waiters]) {
      if (w.pred(line)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  /** The first line (already logged or still to come) that matches. */
  next(pred: (l: LogLine) => boolean): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /** Resolves once `count` lines match. */
  async count(pred: (l: LogLine) => boolean, count: number): Promise<LogLine[]> {
    for (;;) {
      const matching = this.lines.filter(pred);
      if (matching.length >= count) return matching;
      await new Promise<LogLine>((resolve) => this.waiters.push({ pred: (l) => pred(l), resolve }));
    }
  }
}

export interface TestServer {
  readonly http: string;
  readonly ws: string;
  readonly port: number;
  readonly adpc: AdpcServer;
  readonly state: AppState;
  readonly metrics: ServerMetrics;
  readonly config: ServerConfig;
  readonly logs: LogCapture;
  close(): Promise<void>;
}

export async function startTestServer(engine: FrameEngine | null, env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({ PORT: '0', ...env });
  const metrics = new ServerMetrics();
  const state: AppState = { engine, draining: false };
  const logs = new LogCapture();
  const adpc = createAdpcServer({ config, metrics, state, log: pino({ level: 'debug' }, logs) });
  adpc.server.listen(0, '127.0.0.1');
  await once(adpc.server, 'listening');
  const port = (adpc.server.address() as AddressInfo).port;
  return {
    http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/v1/stream`, port, adpc, state, metrics, config, logs,
    close: async () => {
      adpc.server.closeAllConnections();
      await adpc.shutdown();
    },
  };
}

/** The value of one sample in Prometheus text, or undefined. */
export function metricValue(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/** A synthetic test scene encoded as PNG or JPEG bytes. */
export async function encodedScene(seed: number, width: number, height: number, format: 'png' | 'jpeg'): Promise<Uint8Array<ArrayBuffer>> {
  const scene = generateScene(seed, { height, width });
  return new Uint8Array(await sharp(scene.image, { raw: { width, height, channels: 3 } })[format]().toBuffer());
}

/** A flat-coloured PNG: tiny to send, `width` x `height` pixels once decoded. */
export async function flatPng(width: number, height: number): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await sharp({ create: { width, height, channels: 3, background: { r: 128, g: 64, b: 32 } }, limitInputPixels: false }).png().toBuffer());
}
