// The one description of a loaded model that every surface shows (/v1/models, the stream's
// hello, `adpc info`): snake_case like every other answer, with classes, colours and the card.

import type { EngineInfo } from './engine/anytime-engine.js';
import type { BundleManifest } from './bundle/manifest.js';
import { modelCard, type ModelCard } from './model-card.js';

export interface ModelDescription {
  /** The bundle as the caller names it (the server: its folder name, never its path). */
  readonly bundle: string;
  readonly name: string;
  /** The bundle format version. */
  readonly version: number;
  readonly arch: string;
  readonly provider: string;
  readonly input: { readonly height: number; readonly width: number };
  readonly output: { readonly height: number; readonly width: number; readonly stride: number };
  /** The default CA threshold. */
  readonly threshold: number;
  /** The plain HRNet without exits: what a user would otherwise run. */
  readonly baseline_gflops: number;
  /** Per exit with every position computed: the stage's GFLOPs and the sum up to it. */
  readonly exits: readonly { readonly exit: number; readonly gflops: number; readonly cumulative_gflops: number }[];
  readonly classes: readonly { readonly id: number; readonly name: string; readonly color: readonly [number, number, number] }[];
  /** The native executor: its instruction set and threads, or why it does not run. */
  readonly native: { readonly isa: string; readonly threads: number } | { readonly unavailable: string };
  readonly card: ModelCard;
}

export function describeModel(engine: { readonly manifest: BundleManifest; info(): EngineInfo }, bundle: string): ModelDescription {
  const m = engine.manifest;
  const info = engine.info();
  let total = 0;
  return {
    bundle,
    name: m.name,
    version: m.version,
    arch: m.arch,
    provider: info.provider,
    input: { height: m.input.height, width: m.input.width },
    output: { height: m.output.height, width: m.output.width, stride: m.output.stride },
    threshold: m.threshold,
    baseline_gflops: m.dense_gflops,
    exits: m.stages.map((s) => ({ exit: s.index, gflops: s.dense_gflops, cumulative_gflops: (total += s.dense_gflops) })),
    classes: m.classes,
    native: info.native,
    card: modelCard(m),
  };
}
