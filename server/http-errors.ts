// The JSON error shape `{"error": {"code", "message"}}` on an express response or, where no
// express response exists (a refused upgrade, a request Node could not parse), on the raw socket.

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Response } from 'express';
import type { AdpcError } from '../src/errors.js';

/** Seconds a client is told to wait after OVERLOADED. */
export const RETRY_AFTER_S = 1;

function errorBody(error: AdpcError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message } });
}

export function sendError(res: Response, error: AdpcError): void {
  if (error.code === 'OVERLOADED') res.set('Retry-After', String(RETRY_AFTER_S));
  if (error.code === 'DRAINING') res.set('Connection', 'close');
  res.status(error.status).type('application/json').send(errorBody(error));
}

/** Writes the error as a whole HTTP response and destroys the socket once it is out. */
export function writeSocketError(socket: Duplex, error: AdpcError, requestId?: string): void {
  if (socket.destroyed) return;
  const body = errorBody(error);
  const headers = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...(requestId ? [`X-Request-Id: ${requestId}`] : []),
    ...(error.code === 'OVERLOADED' ? [`Retry-After: ${RETRY_AFTER_S}`] : []),
  ];
  socket.once('error', () => socket.destroy());
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}
