// The HTTP server with the API and the stream endpoint on one port, sharing one frame runner
// (and through it the device and decode slots), and the one ordered, bounded shutdown.

import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { AdpcError } from '../src/errors.js';
import { buildApp, type AppState } from './app.js';
import type { ServerConfig } from './config.js';
import { ErrorReporter } from './error-report.js';
import { FrameRunner } from './frame-runner.js';
import { writeSocketError } from './http-errors.js';
import type { ServerMetrics } from './metrics.js';
import { SlotScheduler } from './slot-scheduler.js';
import { StreamEndpoint } from './stream/stream-endpoint.js';

export interface AdpcServer {
  readonly server: Server;
  readonly streams: StreamEndpoint;
  readonly runner: FrameRunner;
  /**
   * Drains within `config.drainMs`: refuses new work, lets running frames finish, answers
   * every frame it received, closes every socket, and drops the peers that do not answer.
   * Resolves with whether every frame ended on its own (false: some were cut at the bound).
   */
  shutdown(): Promise<boolean>;
}

export interface ServerDeps {
  config: ServerConfig;
  metrics: ServerMetrics;
  state: AppState;
  log: Logger;
}

/** What Node's HTTP parser could not accept, answered in the JSON shape instead of Node's text. */
function answerClientError(e: Error & { code?: string }, socket: Duplex, reporter: ErrorReporter): void {
  if (e.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  const timeout = e.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const error = timeout
    ? new AdpcError('REQUEST_TIMEOUT', 'the request did not arrive in time')
    : new AdpcError('BAD_REQUEST', `the request cannot be parsed (${e.code ?? 'unknown'})`);
  reporter.report(error, { route: 'HTTP (unparsed)', requestId: '-' });
  writeSocketError(socket, error);
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());

export function createAdpcServer({ config, metrics, state, log }: ServerDeps): AdpcServer {
  const reporter = new ErrorReporter(log, metrics);
  const runner = new FrameRunner({
    metrics,
    reporter,
    device: new SlotScheduler(config.deviceConcurrency),
    decode: new SlotScheduler(config.decodeConcurrency),
    limits: { maxFramePixels: config.maxFramePixels, maxFrameSide: config.maxFrameSide, maxOutputPixels: config.maxOutputPixels },
  });
  const app = buildApp({ config, metrics, state, runner, reporter });
  const server = createServer(app);
  // an Expect other than 100-continue may be ignored (RFC 9110): served as usual, not Node's bare 417
  server.on('checkExpectation', app);
  server.on('clientError', (e: Error, socket: Duplex) => answerClientError(e, socket, reporter));
  const streams = new StreamEndpoint(server, { config, metrics, state, runner, reporter });

  let shuttingDown: Promise<boolean> | null = null;
  const shutdown = async (): Promise<boolean> => {
    const started = performance.now();
    const bound = config.drainMs;
    // the last part of the bound is for close handshakes, the part before it for cut frames to end
    const closeMs = Math.min(2000, bound / 2);
    const until = (at: number) => wait(started + at - performance.now());
    state.draining = true;
    const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    streams.beginDrain();
    const settled = () => Promise.all([runner.idle(), streams.settled()]).then(() => true);
    let clean = await Promise.race([settled(), until(bound - closeMs).then(() => false)]);
    if (!clean) {
      log.warn({ in_flight: runner.inFlight }, 'drain: cutting running frames short');
      runner.cancelAll();
      await Promise.race([settled(), until(bound - closeMs / 2)]);
    }
    server.closeIdleConnections();
    const closed = await Promise.race([
      Promise.all([streams.closeAll(), httpClosed]).then(() => true),
      until(bound).then(() => false),
    ]);
    if (!closed) {
      log.warn({ streams: streams.streams }, 'drain: dropping connections that did not close in time');
      streams.terminateAll();
      server.closeAllConnections();
      clean = false;
    }
    log.info({ ms: Math.round(performance.now() - started), clean }, 'drained');
    return clean;
  };

  return { server, streams, runner, shutdown: () => (shuttingDown ??= shutdown()) };
}
