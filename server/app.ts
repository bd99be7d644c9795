// The HTTP face of the engine: health, readiness, model description, metrics and one-shot
// segmentation. buildApp() wires it without listening; main.ts listens and handles signals.
// Every answer that is not a success is the JSON error shape with a catalogue code, and every
// refused or failed request leaves one log line.

import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { parseBudget, type Budget } from '../src/engine/budget.js';
import { AdpcError, asAdpcError, type ErrorCode } from '../src/errors.js';
import type { FrameInput } from '../src/image/preprocess.js';
import { SUMMARY_LEVELS } from '../src/output/class-summary.js';
import type { LabelEncoding } from '../src/output/label-map.js';
import { API_SPECS } from './api-spec/specs.js';
import { authorised, bearerToken } from './auth.js';
import type { ServerConfig } from './config.js';
import { demoPage } from './demo-page.js';
import type { ErrorReporter, RequestContext } from './error-report.js';
import { renderExit, type ExitFormat, type RenderedExit } from './exit-answer.js';
import type { FrameExit, FrameRunner } from './frame-runner.js';
import { sendError } from './http-errors.js';
import type { ServerMetrics } from './metrics.js';
import { modelInfo, type FrameEngine } from './model-info.js';
import { REQUEST_ID_HEADER, requestId } from './request-id.js';

export interface AppState {
  engine: FrameEngine | null;
  draining: boolean;
}

export interface AppDeps {
  config: ServerConfig;
  metrics: ServerMetrics;
  state: AppState;
  runner: FrameRunner;
  reporter: ErrorReporter;
}

const BUDGET_FIELDS = ['max_exit', 'gflops', 'deadline_ms', 'threshold'] as const;
/** A plain decimal number: no hex, no blanks, no Infinity (Number() takes all of those). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** A capture timestamp on HTTP: echoed in the JSON and the X-Capture-Ts header, so header-safe. */
const CAPTURE_TS = /^[\x21-\x7e]{1,64}$/;

const SegmentQuery = z.object({
  max_exit: z.string().optional(),
  gflops: z.string().optional(),
  deadline_ms: z.string().optional(),
  threshold: z.string().optional(),
  size: z.enum(['stride', 'frame']).optional(),
  encoding: z.enum(['grayscale', 'palette']).optional(),
  summary: z.enum(SUMMARY_LEVELS).optional(),
  capture_ts: z.string().regex(CAPTURE_TS, 'must be 1-64 printable ASCII characters without blanks').optional(),
  width: z.string().regex(/^\d{1,5}$/, 'must be a whole number of pixels').optional(),
  height: z.string().regex(/^\d{1,5}$/, 'must be a whole number of pixels').optional(),
}).strict();

type SegmentOptions = z.infer<typeof SegmentQuery>;

const RAW_TYPES: Readonly<Record<string, 3 | 4>> = { 'application/x-raw-rgb': 3, 'application/x-raw-rgba': 4 };

/** Body-parser failures by their `type`, as catalogue codes. */
const BODY_ERRORS: Readonly<Record<string, ErrorCode>> = {
  'entity.too.large': 'MESSAGE_TOO_LARGE',
  'encoding.unsupported': 'ENCODING_UNSUPPORTED',
  'charset.unsupported': 'ENCODING_UNSUPPORTED',
  'request.aborted': 'BAD_REQUEST',
  'request.size.invalid': 'BAD_REQUEST',
};

function contextOf(res: Response): RequestContext {
  return res.locals.context as RequestContext;
}

/** Query parameters of /v1/segment, each given once, with nothing unknown. */
function segmentOptions(req: Request): SegmentOptions {
  const query = req.query as Record<string, unknown>;
  for (const [name, value] of Object.entries(query)) {
    if (typeof value !== 'string') throw new AdpcError('OPTION_INVALID', `query parameter ${name.slice(0, 40)} must be given once`);
  }
  const parsed = SegmentQuery.safeParse(query);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => i.code === 'unrecognized_keys'
      ? `unknown query parameter ${i.keys.map((k) => k.slice(0, 40)).join(', ')}; known: ${Object.keys(SegmentQuery.shape).join(', ')}`
      : `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new AdpcError('OPTION_INVALID', detail);
  }
  return parsed.data;
}

/** The budget from the query, or from X-Budget-* headers (the query wins). */
function budgetOf(req: Request, options: SegmentOptions): Budget {
  const fields: Record<string, number> = {};
  for (const name of BUDGET_FIELDS) {
    const value = options[name] ?? req.header(`x-budget-${name.replace(/_/g, '-')}`);
    if (value === undefined) continue;
    if (!DECIMAL.test(value)) throw new AdpcError('BUDGET_INVALID', `${name} must be a decimal number, got ${JSON.stringify(value.slice(0, 40))}`);
    fields[name] = Number(value);
  }
  return parseBudget(fields);
}

function frameInput(req: Request, options: SegmentOptions): FrameInput {
  const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const type = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const channels = RAW_TYPES[type];
  if (channels === undefined) {
    if (options.width !== undefined || options.height !== undefined) {
      throw new AdpcError('OPTION_INVALID', `width and height are for raw bodies (${Object.keys(RAW_TYPES).join(', ')}) only`);
    }
    return { kind: 'encoded', bytes };
  }
  return { kind: 'raw', bytes, width: Number(options.width ?? NaN), height: Number(options.height ?? NaN), channels };
}

export function buildApp({ config, metrics, state, runner, reporter }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const fail = (res: Response, e: unknown) => {
    const error = asAdpcError(e);
    reporter.report(error, contextOf(res));
    sendError(res, error);
  };

  app.use((req, res, next) => {
    const id = requestId(req.header(REQUEST_ID_HEADER));
    res.set('X-Request-Id', id);
    // the path only: the query is never logged
    res.locals.context = { route: `${req.method} ${req.path.slice(0, 200)}`, requestId: id } satisfies RequestContext;
    next();
  });

  const requireAuth = (req: Request, res: Response, next: NextFunction) => {
    if (authorised(bearerToken(req.header('authorization')), config.token)) return next();
    fail(res, new AdpcError('UNAUTHORISED', 'missing or wrong bearer token'));
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
    if (!engine) return fail(res, new AdpcError('NOT_READY', 'the model is still loading'));
    res.json({ models: [modelInfo(engine)] });
  });

  // the API's own descriptions: public like /healthz, so that clients can be generated from them
  for (const [path, spec] of Object.entries(API_SPECS)) {
    app.get(path, (_req, res) => {
      res.json(spec);
    });
  }

  // Refusals that need no body come before it is read: readiness and the request cap.
  let segmenting = 0;
  const admit = (_req: Request, res: Response, next: NextFunction) => {
    if (state.draining) return fail(res, new AdpcError('DRAINING', 'the server is shutting down'));
    if (!state.engine) return fail(res, new AdpcError('NOT_READY', 'the model is still loading'));
    if (segmenting >= config.maxRequests) return fail(res, new AdpcError('OVERLOADED', `already serving ${config.maxRequests} segment requests`));
    segmenting++;
    res.once('close', () => segmenting--);
    next();
  };

  app.post('/v1/segment', requireAuth, admit,
    express.raw({ type: () => true, limit: config.maxMessageBytes }),
    async (req, res) => {
      const engine = state.engine!;
      const arrivedAt = performance.now();
      let options: SegmentOptions;
      let budget: Budget;
      let input: FrameInput;
      try {
        options = segmentOptions(req);
        budget = budgetOf(req, options);
        input = frameInput(req, options);
      } catch (e) {
        metrics.frame('rejected');
        return fail(res, e);
      }
      if (options.capture_ts !== undefined) res.set('X-Capture-Ts', options.capture_ts);
      const encoding: LabelEncoding = options.encoding ?? 'grayscale';
      const format: ExitFormat = { size: options.size ?? 'frame', container: 'png', encoding, summary: options.summary ?? 'none' };
      const asPng = req.accepts(['application/json', 'image/png']) === 'image/png';
      const render = (x: FrameExit) => renderExit(x, format, engine, metrics);
      try {
        const exits: { exit: FrameExit; rendered?: RenderedExit }[] = [];
        const end = await runner.run({
          engine, input, budget, arrivedAt,
          frameSize: format.size === 'frame',
          context: contextOf(res),
          // JSON carries every exit; the PNG answer only the last one
          onExit: async (x) => {
            exits.push({ exit: x, ...(!asPng || x.stop !== null ? { rendered: await render(x) } : {}) });
          },
        });
        if ('error' in end) return sendError(res, end.error); // the runner logged it
        const last = exits.at(-1);
        if (!last) {
          // the only run without an exit: it waited for the device past its deadline (RunOptions.waiting)
          return fail(res, new AdpcError('DEADLINE_UNMET', `waiting for the device left too little of deadline_ms ${budget.deadline_ms} for the first exit`));
        }
        if (asPng) {
          const rendered = last.rendered ?? await render(last.exit);
          res.type('image/png').set('X-Exit', String(last.exit.result.exit)).set('X-Stop-Reason', end.stop).send(Buffer.from(rendered.bytes));
          return;
        }
        const final = last.rendered!;
        res.json({
          width: final.width,
          height: final.height,
          encoding,
          ...(options.capture_ts !== undefined ? { capture_ts: options.capture_ts } : {}),
          exits: exits.map(({ exit: x, rendered }) => ({
            ...rendered!.fields,
            // a run cancelled between stages (drain) says so on its last exit
            stop: x.stop ?? (x === last.exit ? end.stop : null),
            labels_png: Buffer.from(rendered!.bytes).toString('base64'),
          })),
        });
      } catch (e) {
        fail(res, e);
      }
    });

  app.get('/v1/stream', (_req, res) => {
    fail(res, new AdpcError('BAD_REQUEST', 'WS /v1/stream takes a WebSocket upgrade only'));
  });

  app.use(demoPage());

  // Known paths with another method, then unknown paths: the JSON shape, never express's HTML.
  const routes: Record<string, string> = {
    '/': 'GET, HEAD', '/healthz': 'GET, HEAD', '/readyz': 'GET, HEAD', '/metrics': 'GET, HEAD', '/v1/models': 'GET, HEAD', '/v1/segment': 'POST', '/v1/stream': 'GET',
    ...Object.fromEntries(Object.keys(API_SPECS).map((path) => [path, 'GET, HEAD'])),
  };
  for (const [path, allow] of Object.entries(routes)) {
    app.all(path, (req, res) => {
      res.set('Allow', allow);
      fail(res, new AdpcError('METHOD_NOT_ALLOWED', `${req.method.slice(0, 20)} is not allowed on ${path}; allowed: ${allow}`));
    });
  }
  app.use((req, res) => {
    fail(res, new AdpcError('NOT_FOUND', `no route at ${req.path.slice(0, 100)}`));
  });

  // Body-parser and any other middleware errors, in the same shape as everything else.
  app.use((err: Error & { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const code = err.type ? BODY_ERRORS[err.type] : undefined;
    if (code === 'MESSAGE_TOO_LARGE') return fail(res, new AdpcError(code, `the body is larger than ${config.maxMessageBytes} bytes`));
    if (code) return fail(res, new AdpcError(code, code === 'BAD_REQUEST' ? 'the body did not arrive whole' : 'the body has an unsupported Content-Encoding'));
    // a decompression stream that failed: the body is not what its Content-Encoding says
    if (err.status === 400) return fail(res, new AdpcError('ENCODING_INVALID', 'the body does not decode with its Content-Encoding'));
    fail(res, err);
  });

  return app;
}
