// WS /v1/stream on the HTTP server: every upgrade request checked (target, auth, readiness,
// stream limit) and answered in the JSON error shape when refused, one StreamSession per
// socket, the ping heartbeat, and the steps of a drain.

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AdpcError, asAdpcError } from '../../src/errors.js';
import type { AppState } from '../app.js';
import { authorised, bearerToken } from '../auth.js';
import type { ServerConfig } from '../config.js';
import type { ErrorReporter, RequestContext } from '../error-report.js';
import type { FrameRunner } from '../frame-runner.js';
import { writeSocketError } from '../http-errors.js';
import type { ServerMetrics } from '../metrics.js';
import { requestId, REQUEST_ID_HEADER } from '../request-id.js';
import { DEFAULT_REUSE } from '../../src/reuse/region-reuse.js';
import { StreamSession, type StreamReuse } from './stream-session.js';

export const STREAM_PATH = '/v1/stream';

export interface StreamDeps {
  config: ServerConfig;
  metrics: ServerMetrics;
  state: AppState;
  runner: FrameRunner;
  reporter: ErrorReporter;
}

export class StreamEndpoint {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<WebSocket, StreamSession>();
  private readonly requestIds = new WeakMap<IncomingMessage, string>();
  private readonly heartbeat: NodeJS.Timeout | null;
  private nextStreamId = 1;
  private readonly reuse: StreamReuse;

  constructor(server: Server, private readonly deps: StreamDeps) {
    const { config } = deps;
    this.reuse = {
      byDefault: config.reuse,
      settings: {
        ...DEFAULT_REUSE, margin: config.reuseMargin, labelMargin: config.reuseLabelMargin, keyframeInterval: config.reuseKeyframeInterval,
        maxShare: config.reuseMaxShare,
      },
    };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.maxMessageBytes });
    // a handshake ws cannot accept (bad key, version, method) is answered here, in our shape
    this.wss.on('wsClientError', (e: Error, socket: Duplex, req: IncomingMessage) => {
      this.refuse(socket, new AdpcError('BAD_REQUEST', `not a valid WebSocket upgrade: ${e.message}`), this.context(req));
    });
    this.wss.on('headers', (headers: string[], req: IncomingMessage) => {
      const id = this.requestIds.get(req);
      if (id) headers.push(`X-Request-Id: ${id}`);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      try {
        this.upgrade(req, socket, head);
      } catch (e) {
        this.refuse(socket, asAdpcError(e), this.context(req));
      }
    });
    deps.metrics.watchUnsent(() => this.unsentBytes);
    this.heartbeat = config.pingMs > 0 ? setInterval(() => this.ping(), config.pingMs).unref() : null;
  }

  get streams(): number {
    return this.sessions.size;
  }

  /** What all streams hold unsent: the memory slow readers cost. */
  get unsentBytes(): number {
    let total = 0;
    for (const session of this.sessions.values()) total += session.unsentBytes;
    return total;
  }

  private context(req: IncomingMessage): RequestContext {
    let id = this.requestIds.get(req);
    if (!id) this.requestIds.set(req, (id = requestId(req.headers[REQUEST_ID_HEADER])));
    // the path only: the query may carry access_token
    const path = (req.url ?? '').split('?')[0]!.slice(0, 200);
    return { route: `${req.method ?? '?'} ${path}`, requestId: id };
  }

  private refuse(socket: Duplex, error: AdpcError, context: RequestContext): void {
    this.deps.reporter.report(error, context);
    writeSocketError(socket, error, context.requestId);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { config, state, metrics } = this.deps;
    const context = this.context(req);
    let url: URL;
    try {
      url = new URL(req.url ?? '', 'http://localhost');
    } catch {
      return this.refuse(socket, new AdpcError('BAD_REQUEST', 'the request target is not a valid URL'), context);
    }
    if (url.pathname !== STREAM_PATH) return this.refuse(socket, new AdpcError('NOT_FOUND', `no WebSocket endpoint at ${url.pathname.slice(0, 100)}`), context);
    // browsers cannot set headers on a WebSocket: the token may also come as ?access_token=
    const given = req.headers.authorization !== undefined ? bearerToken(req.headers.authorization) : url.searchParams.get('access_token') ?? undefined;
    if (!authorised(given, config.token)) return this.refuse(socket, new AdpcError('UNAUTHORISED', 'missing or wrong bearer token'), context);
    const engine = state.engine;
    if (state.draining) return this.refuse(socket, new AdpcError('DRAINING', 'the server is shutting down'), context);
    if (!engine) return this.refuse(socket, new AdpcError('NOT_READY', 'the model is still loading'), context);
    if (this.sessions.size >= config.maxStreams) return this.refuse(socket, new AdpcError('OVERLOADED', `already serving ${config.maxStreams} streams`), context);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      metrics.streams.inc();
      const streamId = this.nextStreamId++;
      this.sessions.set(ws, new StreamSession(ws, engine, {
        runner: this.deps.runner,
        reporter: this.deps.reporter,
        metrics,
        limits: {
          maxFramePixels: config.maxFramePixels,
          maxFrameSide: config.maxFrameSide,
          slowReaderBytes: config.slowReaderBytes,
          maxUnsentBytes: config.maxUnsentBytes,
          supersede: config.supersede,
          maxFps: config.maxFps,
          idleMs: config.idleMs,
        },
        reuse: this.reuse,
      }, { requestId: context.requestId, streamId }));
      const opened = performance.now();
      this.deps.reporter.log.debug({ stream_id: streamId, request_id: context.requestId }, 'stream opened');
      ws.on('close', (code: number) => {
        this.sessions.delete(ws);
        metrics.streams.dec();
        this.deps.reporter.log.debug({ stream_id: streamId, close_code: code, ms: Math.round(performance.now() - opened) }, 'stream closed');
      });
    });
  }

  private ping(): void {
    for (const session of this.sessions.values()) session.ping();
  }

  /** Drain, first step: waiting frames and every later one are answered DRAINING. */
  beginDrain(): void {
    for (const session of this.sessions.values()) session.drain();
  }

  /** Resolves once every stream has answered its last running frame. */
  settled(): Promise<void> {
    return Promise.all([...this.sessions.values()].map((s) => s.settled())).then(() => undefined);
  }

  /** Closes every stream with 1001; resolves once every socket is closed. */
  closeAll(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    const closed = [...this.sessions.keys()].map((ws) => new Promise<void>((resolve) => {
      if (ws.readyState === ws.CLOSED) return resolve();
      ws.once('close', () => resolve());
    }));
    for (const session of this.sessions.values()) session.close(1001, 'DRAINING: the server is shutting down');
    this.wss.close();
    return Promise.all(closed).then(() => undefined);
  }

  /** Drops every socket still open (peers that never answered the close frame). */
  terminateAll(): void {
    for (const session of this.sessions.values()) session.terminate();
  }
}
