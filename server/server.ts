// The HTTP server with the API and the stream endpoint on one port, sharing one stage scheduler.

import { createServer, type Server } from 'node:http';
import { buildApp, type AppState } from './app.js';
import type { ServerConfig } from './config.js';
import { StageScheduler } from './stage-scheduler.js';
import type { ServerMetrics } from './metrics.js';
import { StreamEndpoint } from './stream/stream-endpoint.js';

export interface AdpcServer {
  readonly server: Server;
  readonly streams: StreamEndpoint;
}

export function createAdpcServer(deps: { config: ServerConfig; metrics: ServerMetrics; state: AppState }): AdpcServer {
  const scheduler = new StageScheduler(deps.config.deviceConcurrency);
  const server = createServer(buildApp({ ...deps, scheduler }));
  const streams = new StreamEndpoint(server, { ...deps, scheduler });
  return { server, streams };
}
