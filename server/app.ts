// The HTTP face of the engine: health, readiness, model description, metrics and one-shot
// segmentation. buildApp() wires it without listening; main.ts listens and handles signals.

import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AnytimeEngine, ExitResult } from '../src/engine/anytime-engine.js';
import { parseBudget } from '../src/engine/budget.js';
import { AdpcError, isAdpcError } from '../src/errors.js';
import { prepareFrame, type FrameInput } from '../src/image/preprocess.js';
import { encodeLabelPng, resizeLabels, type LabelEncoding } from '../src/output/label-map.js';
import type { ServerConfig } from './config.js';
import { StageScheduler } from './stage-scheduler.js';
import type { ServerMetrics } from './metrics.js';

export interface AppState {
  engine: AnytimeEngine | null;
  draining: boolean;
}

export interface AppDeps {
  config: ServerConfig;
  metrics: ServerMetrics;
  state: AppState;
  scheduler?: StageScheduler;
}

/** Constant-time check of `Authorization: Bearer <token>`. */
export function authorised(header: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function sendError(res: Response, e: unknown): void {
  if (isAdpcError(e)) {
    res.status(e.status).json({ error: { code: e.code, message: e.message } });
    return;
  }
  res.status(500).json({ error: { code: 'INTERNAL', message: (e as Error).message } });
}

function queryNumber(req: Request, name: string): number | undefined {
  const value = req.query[name] ?? req.header(`x-budget-${name.replace(/_/g, '-')}`);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n)) {
    throw new AdpcError('BUDGET_INVALID', `${name} must be a number, got ${JSON.stringify(value)}`);
  }
  return n;
}

function frameFromRequest(req: Request): FrameInput {
  const body = req.body as unknown;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  const type = (req.header('content-type') ?? '').split(';')[0]!.trim();
  if (type === 'application/x-raw-rgb' || type === 'application/x-raw-rgba') {
    const width = Number(req.query.width);
    const height = Number(req.query.height);
    return { kind: 'raw', bytes, width, height, channels: type.endsWith('rgba') ? 4 : 3 };
  }
  return { kind: 'encoded', bytes };
}

export function buildApp({ config, metrics, state, scheduler = new StageScheduler() }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  const requireAuth = (req: Request, res: Response, next: NextFunction) => {
    if (authorised(req.header('authorization'), config.token)) return next();
    sendError(res, new AdpcError('UNAUTHORISED', 'missing or wrong bearer token'));
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', (_req, res) => {
    const ready = state.engine !== null && !state.draining;
    res.status(ready ? 200 : 503).json({ ready, draining: state.draining });
  });

  app.get('/metrics', config.metricsAuth ? requireAuth : (_req, _res, next) => next(), async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/v1/models', requireAuth, (_req, res) => {
    const engine = state.engine;
    if (!engine) return sendError(res, new AdpcError('NOT_READY', 'the model is still loading'));
    const m = engine.manifest;
    res.json({
      models: [{
        ...engine.info(),
        version: m.version,
        classes: m.classes,
        exits: engine.info().exitGflops.map((gflops, i) => ({ exit: i + 1, dense_gflops: gflops })),
      }],
    });
  });

  app.post('/v1/segment', requireAuth,
    express.raw({ type: () => true, limit: config.maxMessageBytes }),
    async (req, res) => {
      const engine = state.engine;
      if (!engine || state.draining) return sendError(res, new AdpcError('NOT_READY', 'the server is not ready'));
      const arrivedAt = performance.now();
      metrics.inFlight.inc();
      try {
        const budget = parseBudget({
          max_exit: queryNumber(req, 'max_exit'),
          gflops: queryNumber(req, 'gflops'),
          deadline_ms: queryNumber(req, 'deadline_ms'),
          threshold: queryNumber(req, 'threshold'),
        });
        const size = req.query.size === 'stride' ? 'stride' : 'frame';
        const encoding: LabelEncoding = req.query.encoding === 'palette' ? 'palette' : 'grayscale';
        const decodeStarted = performance.now();
        let frame;
        try {
          frame = await prepareFrame(frameFromRequest(req), engine.manifest.input, { maxPixels: config.maxFramePixels });
        } catch (e) {
          metrics.frame('rejected');
          throw e;
        }
        metrics.decode((performance.now() - decodeStarted) / 1000);
        const dense = engine.manifest.stages.map((s) => s.dense_gflops);
        const deadline = arrivedAt + (budget.deadline_ms ?? Infinity);
        const results: ExitResult[] = [];
        for await (const r of engine.run(frame.data, { budget, arrivedAt, acquire: () => scheduler.acquire(deadline) })) {
          metrics.exit(r, dense[r.exit - 1]!, (performance.now() - arrivedAt) / 1000);
          results.push(r);
        }
        const last = results.at(-1)!;
        if (last.stop) metrics.stop(last.stop);
        const encodeStarted = performance.now();
        const encodeMap = (r: ExitResult) => encodeLabelPng(size === 'frame' ? resizeLabels(r, frame.frameWidth, frame.frameHeight) : r, encoding);
        if (req.accepts(['application/json', 'image/png']) === 'image/png') {
          const png = await encodeMap(last);
          metrics.encode((performance.now() - encodeStarted) / 1000);
          metrics.frame('completed');
          res.type('image/png').set('X-Exit', String(last.exit)).set('X-Stop-Reason', last.stop ?? '').send(png);
          return;
        }
        const exits = await Promise.all(results.map(async (r) => ({
          exit: r.exit,
          exits: r.exits,
          form: r.form,
          gflops: r.gflops,
          cumulative_gflops: r.cumulativeGflops,
          computed_share: r.computedShare,
          compute_ms: r.computeMs,
          stop: r.stop,
          labels_png: (await encodeMap(r)).toString('base64'),
        })));
        metrics.encode((performance.now() - encodeStarted) / 1000);
        metrics.frame('completed');
        res.json({
          width: size === 'frame' ? frame.frameWidth : last.width,
          height: size === 'frame' ? frame.frameHeight : last.height,
          encoding,
          exits,
        });
      } catch (e) {
        if (!isAdpcError(e)) metrics.frame('failed');
        else if (e.code === 'BUDGET_INVALID') metrics.frame('rejected');
        sendError(res, e);
      } finally {
        metrics.inFlight.dec();
      }
    });

  // Body too large and other middleware errors, in the same error shape as everything else.
  app.use((err: Error & { type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    if (err.type === 'entity.too.large') {
      metrics.frame('rejected');
      return sendError(res, new AdpcError('MESSAGE_TOO_LARGE', `body is larger than ${config.maxMessageBytes} bytes`));
    }
    sendError(res, err);
  });

  return app;
}
