// npm start: load the bundle, listen, and drain on SIGTERM/SIGINT.

import { pino } from 'pino';
import { AnytimeEngine } from '../src/engine/anytime-engine.js';
import type { AppState } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { ServerMetrics } from './metrics.js';
import { createAdpcServer } from './server.js';

const DRAIN_MS = 10_000;

let config;
try {
  config = loadConfig(process.env, process.argv.slice(2));
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.error(`adpc-edge: ${e.message}`);
  process.exit(2);
}
const log = pino({ level: config.logLevel });
const metrics = new ServerMetrics();
const state: AppState = { engine: null, draining: false };
const { server, streams } = createAdpcServer({ config, metrics, state });

server.listen(config.port, config.host, () => {
  const address = server.address();
  log.info({ address }, 'listening; loading the model');
});

try {
  const started = performance.now();
  const engine = await AnytimeEngine.load(config.bundle, {
    provider: config.provider,
    threads: config.threads,
    log: (line) => log.info(line),
  });
  state.engine = engine;
  metrics.setModel(engine.manifest.name, engine.manifest.version, engine.provider, engine.manifest.arch);
  log.info({ bundle: config.bundle, model: engine.manifest.name, arch: engine.manifest.arch, provider: engine.provider, ms: Math.round(performance.now() - started) }, 'model loaded and warmed up: ready');
} catch (e) {
  log.fatal({ err: e }, 'cannot load the model');
  server.close();
  process.exit(1);
}

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  state.draining = true;
  log.info({ signal }, 'draining: readyz now 503, no new work');
  // streams first: running frames finish, then every socket closes with 1001
  await streams.drain(DRAIN_MS);
  const timer = setTimeout(() => {
    log.warn('drain timed out; closing connections');
    server.closeAllConnections();
  }, DRAIN_MS);
  server.close(async () => {
    clearTimeout(timer);
    await state.engine?.close();
    log.info('stopped');
    process.exit(0);
  });
  server.closeIdleConnections();
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
