// What clients learn about the loaded model: the one model description (src/model-description.ts)
// without the server's file system (the bundle is named by its folder, never by its path).

import { basename } from 'node:path';
import type { AnytimeEngine } from '../src/engine/anytime-engine.js';
import { describeModel, type ModelDescription } from '../src/model-description.js';

/** The part of the engine the server uses; tests put fakes in its place. */
export type FrameEngine = Pick<AnytimeEngine, 'manifest' | 'info' | 'run'> & Partial<Pick<AnytimeEngine, 'regionsSupported'>>;

export function modelInfo(engine: FrameEngine): ModelDescription {
  return describeModel(engine, basename(engine.info().bundle));
}
