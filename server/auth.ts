// Bearer tokens: the scheme is matched case-insensitively (RFC 7235), the token in constant time.

import { timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^bearer +(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

/** Whether `given` is the configured token (always true when none is configured). */
export function authorised(given: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
