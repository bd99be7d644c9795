// What clients learn about the loaded model: the engine's description without the server's
// file system (the bundle is named by its folder, never by its absolute path).

import { basename } from 'node:path';
import type { AnytimeEngine, EngineInfo } from '../src/engine/anytime-engine.js';

/** The part of the engine the server uses; tests put fakes in its place. */
export type FrameEngine = Pick<AnytimeEngine, 'manifest' | 'info' | 'run'>;

export function modelInfo(engine: FrameEngine): EngineInfo {
  const info = engine.info();
  return { ...info, bundle: basename(info.bundle) };
}
