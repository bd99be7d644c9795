// One JSON log line and one errors_total count for every refused or failed request, frame
// or stream, at a level that says whose problem it is. Contexts carry ids, never tokens.

import type { Logger } from 'pino';
import { ERROR_CATALOGUE, type AdpcError } from '../src/errors.js';
import type { ServerMetrics } from './metrics.js';

export interface RequestContext {
  /** Method and path, never the query (it may hold access_token). */
  readonly route: string;
  readonly requestId: string;
  readonly streamId?: number;
  readonly frameId?: number | null;
}

export class ErrorReporter {
  constructor(readonly log: Logger, private readonly metrics: ServerMetrics) {}

  report(error: AdpcError, context: RequestContext, ms?: number): void {
    this.metrics.error(error.code);
    const spec = ERROR_CATALOGUE[error.code];
    // the server's fault: error; the server protecting itself: warn; the client's mistake: info
    const level = error.code === 'INTERNAL' ? 'error'
      : spec.status === 503 || spec.stream === 'close' || spec.stream === 'terminate' ? 'warn' : 'info';
    this.log[level]({
      code: error.code,
      route: context.route,
      request_id: context.requestId,
      ...(context.streamId !== undefined ? { stream_id: context.streamId } : {}),
      ...(context.frameId != null ? { frame_id: context.frameId } : {}),
      ...(ms !== undefined ? { ms: Math.round(ms * 10) / 10 } : {}),
      ...(error.code === 'INTERNAL' ? { err: error.cause ?? error } : {}),
    }, error.message);
  }
}
