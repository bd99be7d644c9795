// Server configuration from the environment (and `--flag value` on the command line), with
// defaults; validated once at start so a bad value stops the server with a clear message.

import { z } from 'zod';
import { DEFAULT_BUNDLE } from '../src/bundle/default-bundle.js';
import { DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE } from '../src/image/frame-bounds.js';
import { DEFAULT_REUSE } from '../src/reuse/region-reuse.js';
import { PROVIDER_NAMES } from '../src/runtime/onnx.js';

const Config = z.object({
  host: z.string().min(1).default('0.0.0.0'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  bundle: z.string().min(1).default(DEFAULT_BUNDLE),
  provider: z.enum(PROVIDER_NAMES).default('cpu'),
  threads: z.coerce.number().int().min(0).max(256).default(0),
  token: z.string().min(16, 'token must be at least 16 characters').optional(),
  metricsAuth: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  maxMessageBytes: z.coerce.number().int().min(1024).default(16 * 1024 * 1024),
  maxFramePixels: z.coerce.number().int().min(1).default(DEFAULT_MAX_PIXELS),
  maxFrameSide: z.coerce.number().int().min(1).default(DEFAULT_MAX_SIDE),
  maxOutputPixels: z.coerce.number().int().min(1).default(8_388_608),
  decodeConcurrency: z.coerce.number().int().min(1).max(64).default(2),
  maxRequests: z.coerce.number().int().min(1).default(8),
  maxStreams: z.coerce.number().int().min(1).default(16),
  slowReaderBytes: z.coerce.number().int().min(0).default(4 * 1024 * 1024),
  maxUnsentBytes: z.coerce.number().int().min(1).default(24 * 1024 * 1024),
  supersede: z.enum(['stage', 'frame']).default('stage'),
  maxFps: z.coerce.number().min(0).default(0),
  pingMs: z.coerce.number().int().min(0).default(15_000),
  idleMs: z.coerce.number().int().min(0).default(60_000),
  drainMs: z.coerce.number().int().min(100).default(10_000),
  deviceConcurrency: z.coerce.number().int().min(1).max(64).default(1),
  reuse: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  reuseMargin: z.coerce.number().int().min(0).max(256).default(DEFAULT_REUSE.margin),
  reuseLabelMargin: z.coerce.number().int().min(0).max(256).default(DEFAULT_REUSE.labelMargin),
  reuseKeyframeInterval: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_REUSE.keyframeInterval),
  /** README "Performance", static cameras: `npm run bench:stream` fits what a regions frame costs on a machine. */
  reuseMaxShare: z.coerce.number().min(0).max(1).default(DEFAULT_REUSE.maxShare),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type ServerConfig = z.infer<typeof Config>;

/** Environment variable for each setting (flags use the kebab-case of the key). */
export const ENV_NAMES: Readonly<Record<keyof ServerConfig, string>> = Object.freeze({
  host: 'HOST',
  port: 'PORT',
  bundle: 'ADPC_BUNDLE',
  provider: 'ADPC_PROVIDER',
  threads: 'ADPC_THREADS',
  token: 'ADPC_TOKEN',
  metricsAuth: 'ADPC_METRICS_AUTH',
  maxMessageBytes: 'ADPC_MAX_MESSAGE_BYTES',
  maxFramePixels: 'ADPC_MAX_FRAME_PIXELS',
  maxFrameSide: 'ADPC_MAX_FRAME_SIDE',
  maxOutputPixels: 'ADPC_MAX_OUTPUT_PIXELS',
  decodeConcurrency: 'ADPC_DECODE_CONCURRENCY',
  maxRequests: 'ADPC_MAX_REQUESTS',
  maxStreams: 'ADPC_MAX_STREAMS',
  slowReaderBytes: 'ADPC_SLOW_READER_BYTES',
  maxUnsentBytes: 'ADPC_MAX_UNSENT_BYTES',
  supersede: 'ADPC_SUPERSEDE',
  maxFps: 'ADPC_MAX_FPS',
  pingMs: 'ADPC_PING_MS',
  idleMs: 'ADPC_IDLE_MS',
  drainMs: 'ADPC_DRAIN_MS',
  deviceConcurrency: 'ADPC_DEVICE_CONCURRENCY',
  reuse: 'ADPC_REUSE',
  reuseMargin: 'ADPC_REUSE_MARGIN',
  reuseLabelMargin: 'ADPC_REUSE_LABEL_MARGIN',
  reuseKeyframeInterval: 'ADPC_REUSE_KEYFRAME_INTERVAL',
  reuseMaxShare: 'ADPC_REUSE_MAX_SHARE',
  logLevel: 'LOG_LEVEL',
});

export class ConfigError extends Error {}

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): ServerConfig {
  const raw: Record<string, string> = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  for (let i = 0; i < argv.length; i++) {
    const key = Object.keys(ENV_NAMES).find((k) => flagName(k) === argv[i]);
    if (!key) throw new ConfigError(`unknown option ${argv[i]}; options: ${Object.keys(ENV_NAMES).map(flagName).join(' ')}`);
    const value = argv[++i];
    if (value === undefined) throw new ConfigError(`${flagName(key)} needs a value`);
    raw[key] = value;
  }
  const parsed = Config.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => {
      const key = String(i.path[0]) as keyof ServerConfig;
      return `${ENV_NAMES[key] ?? key} / ${flagName(key)}: ${i.message}`;
    }).join('; '));
  }
  return parsed.data;
}
