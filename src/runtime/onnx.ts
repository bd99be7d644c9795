// The one module that imports onnxruntime-node: sessions, execution providers, tensors.

import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { AdpcError } from '../errors.js';

export type Tensor = ort.Tensor;
export type Feeds = Record<string, ort.Tensor>;
export type InferenceSessionMetadata = ort.InferenceSession['inputMetadata'];

export const PROVIDER_NAMES = ['cpu', 'cuda', 'tensorrt', 'webgpu', 'auto'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];
type ConcreteProvider = Exclude<ProviderName, 'auto'>;

/** What `auto` tries, in order: the first provider whose session starts wins. */
const AUTO_ORDER: readonly ConcreteProvider[] = Object.freeze(['cuda', 'webgpu', 'cpu']);

const INSTALL_HINT: Readonly<Record<ConcreteProvider, string>> = Object.freeze({
  cpu: 'the CPU provider is built in; reinstall onnxruntime-node',
  cuda: 'install the CUDA provider with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install` (needs CUDA 12 and cuDNN 9 on the machine)',
  tensorrt: 'install the CUDA provider as for cuda, plus TensorRT 10 libraries on LD_LIBRARY_PATH',
  webgpu: 'needs a GPU with a Vulkan driver (libvulkan1) visible to the process',
});

export interface SessionOptions {
  provider: ProviderName;
  /** Threads for one operator; 0 = all cores. */
  threads?: number;
  /** Told which providers failed to start and which one runs (for `auto`). */
  log?: (line: string) => void;
}

export interface LoadedSession {
  readonly session: ort.InferenceSession;
  readonly provider: ConcreteProvider;
}

export function checkProviderName(name: string): ProviderName {
  if (!(PROVIDER_NAMES as readonly string[]).includes(name)) {
    throw new AdpcError('PROVIDER_UNKNOWN', `unknown execution provider "${name}"; choose one of ${PROVIDER_NAMES.join(', ')}`);
  }
  return name as ProviderName;
}

function ortOptions(provider: ConcreteProvider, threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    // Stages run one after another and each is a chain of convolutions: parallelism is
    // inside operators, not between them.
    executionMode: 'sequential',
    interOpNumThreads: 1,
    intraOpNumThreads: threads > 0 ? threads : availableParallelism(),
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    // Every stage graph has its own session and thread pool; pools that spin-wait after a
    // run steal the cores from the next stage's session (measured: 2x slower, erratic).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

export async function createSession(path: string, options: SessionOptions): Promise<LoadedSession> {
  const threads = options.threads ?? 0;
  const requested = checkProviderName(options.provider);
  const order = requested === 'auto' ? AUTO_ORDER : [requested];
  const failures: string[] = [];
  for (const provider of order) {
    try {
      const session = await ort.InferenceSession.create(path, ortOptions(provider, threads));
      if (requested === 'auto') options.log?.(`execution provider auto: using ${provider}${failures.length ? ` (${failures.join('; ')})` : ''}`);
      return { session, provider };
    } catch (e) {
      const message = (e as Error).message;
      failures.push(`${provider} unavailable: ${message.split('\n')[0]}`);
    }
  }
  const hints = order.map((p) => `${p}: ${INSTALL_HINT[p]}`).join('; ');
  throw new AdpcError('PROVIDER_UNAVAILABLE',
    `no execution provider could start for ${path} (${failures.join(' | ')}). ${hints}`);
}

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export async function releaseSession(s: LoadedSession): Promise<void> {
  await s.session.release();
}
