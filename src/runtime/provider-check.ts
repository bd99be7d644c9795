// Which execution providers onnxruntime-node can start on this machine, and what to install
// for the others: checked at start-up (one log line) and by scripts/gpu-check.sh. Each
// provider is probed in a child process on a one-convolution graph (provider-probe.ts);
// CUDA and TensorRT are not probed where their provider libraries are absent, which is
// said outright instead.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ConcreteProvider, ProbeOutcome } from './provider-probe.js';

export type { ConcreteProvider } from './provider-probe.js';

/** Probed in this order; the summary keeps it. */
export const CHECKED_PROVIDERS: readonly ConcreteProvider[] = Object.freeze(['cpu', 'webgpu', 'cuda', 'tensorrt']);

export interface ProviderStatus {
  readonly provider: ConcreteProvider;
  readonly live: boolean;
  /** Milliseconds the probe took (absent when it was not started). */
  readonly ms?: number;
  /** Why it is not live: what is missing here, or onnxruntime's message. */
  readonly reason?: string;
  /** The probe's stderr line naming what failed (a library that did not load, say). */
  readonly detail?: string;
  /** What would make it live here, where this machine says more than onnxruntime's message. */
  readonly hint?: string;
}

export interface ProviderReport {
  /** `linux-x64`, `linux-arm64`, ... */
  readonly platform: string;
  readonly onnxruntimeVersion: string;
  readonly providers: readonly ProviderStatus[];
}

export interface CheckOptions {
  providers?: readonly ConcreteProvider[];
  /** Per probe; a provider whose probe takes longer is reported not live. */
  timeoutMs?: number;
}

const require = createRequire(import.meta.url);
const ORT_DIR = join(dirname(require.resolve('onnxruntime-node')), '..');
const PROBE_SCRIPT = fileURLToPath(new URL('./provider-probe.ts', import.meta.url));
// tsx's ESM loader by absolute URL, so that the probe starts whatever the working directory.
const TSX = pathToFileURL(require.resolve('tsx')).href;
const PLATFORM = `${process.platform}-${process.arch}`;

/** Where onnxruntime-node loads its libraries from: the place for provider libraries too. */
export const ORT_BIN_DIR = join(ORT_DIR, 'bin', 'napi-v6', process.platform, process.arch);

const PROVIDER_LIBRARIES: Readonly<Partial<Record<ConcreteProvider, readonly string[]>>> = Object.freeze({
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'],
});

const CUDA_INSTALL = 'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install';

/** CUDA and TensorRT without their provider libraries: not probed, and said why. */
function notInstalled(provider: ConcreteProvider): ProviderStatus | null {
  if (process.platform !== 'linux') return null;
  const missing = (PROVIDER_LIBRARIES[provider] ?? []).filter((f) => !existsSync(join(ORT_BIN_DIR, f)));
  if (missing.length === 0) return null;
  const where = relative(process.cwd(), ORT_BIN_DIR) || ORT_BIN_DIR;
  if (process.arch === 'arm64') {
    return {
      provider, live: false,
      reason: `onnxruntime-node ships a CPU-only build for linux-arm64 (${missing.join(', ')} not in ${where})`,
      hint: 'build onnxruntime with CUDA/TensorRT for JetPack and install it with scripts/gpu/jetson-onnxruntime.sh (docs/GPU.md)',
    };
  }
  return {
    provider, live: false,
    reason: `not installed: ${missing.join(', ')} not in ${where}`,
    hint: `${CUDA_INSTALL} after npm ci (downloads from outside the npm registry)${provider === 'tensorrt' ? '; TensorRT 10 libraries on the library path' : ''}`,
  };
}

function probeHint(provider: ConcreteProvider): string | undefined {
  if (provider === 'webgpu' && process.platform === 'linux') {
    return 'WebGPU runs over Vulkan here: libvulkan1 and the GPU driver\'s Vulkan ICD must be visible (in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics)';
  }
  return undefined;
}

/** The stderr line most likely to say what failed (a library that did not load, an adapter not found). */
function telling(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim()).filter(Boolean);
  return lines.find((l) => /cannot open shared object|not found|No such file|Couldn't load/i.test(l)) ?? lines.find((l) => /error|fail/i.test(l));
}

function runProbe(provider: ConcreteProvider, timeoutMs: number): Promise<ProviderStatus> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, PROBE_SCRIPT, provider], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-16_384)));
    const started = performance.now();
    const finish = (why: string) => {
      const detail = telling(stderr);
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        const outcome = JSON.parse(line) as ProbeOutcome;
        const hint = outcome.live ? undefined : probeHint(provider);
        resolve({
          provider, live: outcome.live, ms: outcome.ms,
          ...(outcome.error ? { reason: outcome.error } : {}),
          ...(!outcome.live && detail ? { detail } : {}),
          ...(hint ? { hint } : {}),
        });
      } catch {
        resolve({ provider, live: false, ms: Math.round(performance.now() - started), reason: `the probe process ${why}`, ...(detail ? { detail } : {}) });
      }
    };
    child.on('error', (e) => finish(`could not start (${e.message})`));
    child.on('close', (code, signal) => finish(signal ? `was ended by ${signal}${signal === 'SIGKILL' ? ` (over ${timeoutMs} ms?)` : ''}` : `exited with code ${code}`));
  });
}

export async function checkProviders(options: CheckOptions = {}): Promise<ProviderReport> {
  const providers = options.providers ?? CHECKED_PROVIDERS;
  const timeoutMs = options.timeoutMs ?? 60_000;
  // One after another: two GPU providers initialising the same device at once prove nothing.
  const statuses: ProviderStatus[] = [];
  for (const provider of providers) statuses.push(notInstalled(provider) ?? await runProbe(provider, timeoutMs));
  const { version } = JSON.parse(readFileSync(join(ORT_DIR, 'package.json'), 'utf8')) as { version: string };
  return { platform: PLATFORM, onnxruntimeVersion: version, providers: statuses };
}

/** onnxruntime's own words from createSession's message, without its source location. */
function brief(reason: string): string {
  const core = /unavailable: (.*)\)\. /s.exec(reason)?.[1] ?? reason;
  return core.split('\n')[0]!.split(/\.\s+/).filter(Boolean).pop() ?? core;
}

/** One line for the start-up log: which providers are live, and why each other one is not. */
export function providerSummary(report: ProviderReport): string {
  const live = report.providers.filter((p) => p.live).map((p) => p.provider);
  const dead = report.providers.filter((p) => !p.live).map((p) => `${p.provider} (${brief(p.reason ?? 'not live')})`);
  return `execution providers on ${report.platform}, onnxruntime-node ${report.onnxruntimeVersion}: live ${live.join(', ') || 'none'}` +
    (dead.length ? `; not live ${dead.join('; ')}` : '');
}
