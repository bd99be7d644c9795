// GET / : the demo page, a live stream segmented exit by exit (web/). Built on its first
// request (server/web-bundle.ts) and then served from memory: index.html revalidated on every
// load, the hashed scripts and style kept for a year. The page needs no token; what it calls
// under /v1 does. The security policy lets it reach its own origin only.

import type { NextFunction, Request, Response } from 'express';
import { ASSET_PREFIX, buildWebBundle, type WebBundle, type WebFile } from './web-bundle.js';

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

function send(req: Request, res: Response, file: WebFile, cacheControl: string): void {
  res.set(SECURITY_HEADERS).set('Cache-Control', cacheControl).set('ETag', file.etag);
  if (req.header('if-none-match')?.split(',').some((tag) => tag.trim() === file.etag)) {
    res.status(304).end();
    return;
  }
  res.type(file.type).send(file.body);
}

/** Middleware for GET and HEAD of `/` and the page's assets; every other request passes on. */
export function demoPage() {
  let bundle: Promise<WebBundle> | null = null;
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || (req.path !== '/' && !req.path.startsWith(ASSET_PREFIX))) return next();
    let files: WebBundle;
    try {
      files = await (bundle ??= buildWebBundle());
    } catch (e) {
      bundle = null; // the next request tries again
      return next(e);
    }
    if (req.path === '/') return send(req, res, files.index, 'no-cache');
    const asset = files.assets.get(req.path);
    if (!asset) return next();
    send(req, res, asset, 'public, max-age=31536000, immutable');
  };
}
