// WS /v1/stream on the HTTP server: auth and stream limits before the upgrade, one
// StreamSession per socket, and an ordered drain that closes every socket with 1001.

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { authorised, type AppState } from '../app.js';
import type { ServerConfig } from '../config.js';
import type { StageScheduler } from '../stage-scheduler.js';
import type { ServerMetrics } from '../metrics.js';
import { StreamSession } from './stream-session.js';

export const STREAM_PATH = '/v1/stream';

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export class StreamEndpoint {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<WebSocket, StreamSession>();

  constructor(server: Server, private readonly deps: { config: ServerConfig; metrics: ServerMetrics; state: AppState; scheduler: StageScheduler }) {
    const { config } = deps;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.maxMessageBytes });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  get streams(): number {
    return this.sessions.size;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { config, state, metrics, scheduler } = this.deps;
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== STREAM_PATH) return refuse(socket, 404, 'NOT_FOUND', `no WebSocket endpoint at ${url.pathname}`);
    // browsers cannot set headers on a WebSocket: the token may also come as ?access_token=
    const header = req.headers.authorization ?? (url.searchParams.has('access_token') ? `Bearer ${url.searchParams.get('access_token')}` : undefined);
    if (!authorised(header, config.token)) return refuse(socket, 401, 'UNAUTHORISED', 'missing or wrong bearer token');
    const engine = state.engine;
    if (!engine || state.draining) return refuse(socket, 503, 'NOT_READY', 'the server is not ready');
    if (this.sessions.size >= config.maxStreams) return refuse(socket, 503, 'OVERLOADED', `already serving ${config.maxStreams} streams`);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      metrics.streams.inc();
      this.sessions.set(ws, new StreamSession(ws, engine, scheduler, metrics, {
        maxMessageBytes: config.maxMessageBytes,
        maxFramePixels: config.maxFramePixels,
        slowReaderBytes: config.slowReaderBytes,
        supersede: config.supersede,
        maxFps: config.maxFps,
      }));
      ws.on('close', () => {
        this.sessions.delete(ws);
        metrics.streams.dec();
      });
    });
  }

  /** Lets running frames finish (up to `ms`), then closes every stream with 1001. */
  async drain(ms: number): Promise<void> {
    const settled = Promise.all([...this.sessions.values()].map((s) => s.settled()));
    await Promise.race([settled, new Promise((r) => setTimeout(r, ms).unref())]);
    for (const ws of this.sessions.keys()) ws.close(1001, 'server shutting down');
    this.wss.close();
  }
}
