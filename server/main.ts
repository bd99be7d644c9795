// npm start: load the bundle, listen, and drain on SIGTERM/SIGINT. `npm start` runs this file
// with `exec node --import tsx`, so that node itself is the process a signal reaches.

import { pino } from 'pino';
import { AnytimeEngine } from '../src/engine/anytime-engine.js';
import { checkProviders, providerSummary } from '../src/runtime/provider-check.js';
import type { AppState } from './app.js';
import { ConfigError, loadConfig, type ServerConfig } from './config.js';
import { ServerMetrics } from './metrics.js';
import { createAdpcServer } from './server.js';

let config: ServerConfig;
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
const adpc = createAdpcServer({ config, metrics, state, log });

adpc.server.listen(config.port, config.host, () => {
  log.info({ address: adpc.server.address() }, 'listening; loading the model');
});

let engine: AnytimeEngine | null = null;
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal, drain_ms: config.drainMs }, 'draining: readyz now 503, no new work');
  const clean = await adpc.shutdown();
  // a session still running on the device must not lose its graphs under it
  if (clean) await engine?.close();
  log.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  const started = performance.now();
  // which execution providers can start here, each probed apart, so that a wrong install
  // shows in the first lines of the log rather than as a slow CPU fallback
  const providers = await checkProviders();
  const wanted = providers.providers.find((p) => p.provider === config.provider);
  log[wanted && !wanted.live ? 'warn' : 'info']({ providers: providers.providers }, providerSummary(providers));
  engine = await AnytimeEngine.load(config.bundle, {
    provider: config.provider,
    threads: config.threads,
    log: (line) => log.info(line),
  });
  if (!stopping) state.engine = engine;
  metrics.setModel(engine.manifest.name, engine.manifest.version, engine.provider, engine.manifest.arch);
  log.info({ bundle: config.bundle, model: engine.manifest.name, arch: engine.manifest.arch, provider: engine.provider, ms: Math.round(performance.now() - started) }, 'model loaded and warmed up: ready');
} catch (e) {
  log.fatal({ err: e }, 'cannot load the model');
  adpc.server.close();
  process.exit(1);
}
