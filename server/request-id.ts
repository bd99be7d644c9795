// Request ids: a client's X-Request-Id is kept when it is safe to echo and log, else one is made.

import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';
const SAFE = /^[\w.:@/+=-]{1,128}$/;

export function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && SAFE.test(header) ? header : randomUUID();
}
