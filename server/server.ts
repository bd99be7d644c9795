// The HTTP server with the API and the stream endpoint on one port, sharing one device queue.

import { createServer, type Server } from 'node:http';
import { buildApp, type AppState } from './app.js';
import type { ServerConfig } from './config.js';
import { DeviceQueue } from './device-queue.js';
import type { ServerMetrics } from './metrics.js';
import { StreamEndpoint } from './stream/stream-endpoint.js';

export interface AdpcServer {
  readonly server: Server;
  readonly streams: StreamEndpoint;
}

export function createAdpcServer(deps: { config: ServerConfig; metrics: ServerMetrics; state: AppState }): AdpcServer {
  const queue = new DeviceQueue();
  const server = createServer(buildApp({ ...deps, queue }));
  const streams = new StreamEndpoint(server, { ...deps, queue });
  return { server, streams };
}
