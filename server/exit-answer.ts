// One exit as both faces answer it: the label map at the size asked, its bytes (PNG or raw,
// class ids or palette colours), the class summary, and the JSON fields an exit carries on
// POST /v1/segment and WS /v1/stream alike. The faces add only their own framing.

import { colorizeLabels, paletteOf, type Palette } from '../src/classes.js';
import { summarizeClasses, type ClassSummary, type SummaryLevel } from '../src/output/class-summary.js';
import { encodeLabelPng, frameLabels, type LabelEncoding, type LabelMap } from '../src/output/label-map.js';
import type { KeyframeReason, ReuseMode, ReuseReport } from '../src/reuse/region-reuse.js';
import type { FrameExit, FrameStop } from './frame-runner.js';
import type { ServerMetrics } from './metrics.js';
import type { FrameEngine } from './model-info.js';

export type LabelSize = 'stride' | 'frame';

export interface ExitFormat {
  readonly size: LabelSize;
  /** PNG, or the bare bytes (1 per pixel for class ids, 3 for palette colours). */
  readonly container: 'png' | 'raw';
  readonly encoding: LabelEncoding;
  readonly summary: SummaryLevel;
}

/** The fields of an exit common to both faces (snake_case, like every answer). */
export interface ExitFields {
  readonly exit: number;
  readonly exits: number;
  readonly form: string;
  readonly gflops: number;
  readonly cumulative_gflops: number;
  readonly computed_share: number;
  readonly timing_ms: { readonly queue: number; readonly decode: number; readonly compute: number; readonly encode: number };
  readonly stop: FrameStop | null;
  readonly summary: ClassSummary | null;
  /** What region reuse computed for this frame; null on a stream without it (and over HTTP). */
  readonly reuse: ReuseFields | null;
}

export interface ReuseFields {
  readonly mode: ReuseMode;
  readonly keyframe: KeyframeReason | null;
  /** Where labels were recomputed, in the frame's pixels. */
  readonly regions: readonly { readonly x: number; readonly y: number; readonly width: number; readonly height: number }[];
  readonly recomputed_share: number;
}

export interface RenderedExit {
  readonly width: number;
  readonly height: number;
  readonly bytes: Uint8Array;
  readonly fields: ExitFields;
}

/**
 * The label map at the size asked. At the frame's size it comes from the engine's
 * input-size map (argmax of bilinearly upsampled logits, the paper's protocol), which the
 * runner asks for, scaled to the frame by nearest; from the 1/4 map by nearest only where a
 * result has none.
 */
export function exitLabelMap(x: FrameExit, size: LabelSize): LabelMap {
  if (size === 'stride') return x.result;
  return frameLabels(x.result, x.frameWidth, x.frameHeight);
}

const palettes = new WeakMap<object, Palette>();

/** The bundle's colours, made once per manifest. */
export function paletteFor(engine: FrameEngine): Palette {
  let palette = palettes.get(engine.manifest);
  if (!palette) palettes.set(engine.manifest, (palette = paletteOf(engine.manifest.classes)));
  return palette;
}

export async function renderExit(x: FrameExit, format: ExitFormat, engine: FrameEngine, metrics: ServerMetrics): Promise<RenderedExit> {
  const r = x.result;
  const started = performance.now();
  const map = exitLabelMap(x, format.size);
  const palette = paletteFor(engine);
  const bytes = format.container === 'png' ? new Uint8Array(await encodeLabelPng(map, format.encoding, palette))
    : format.encoding === 'palette' ? colorizeLabels(map.labels, palette) : map.labels;
  const summary = format.summary === 'none' ? null : summarizeClasses(map, engine.manifest.classes, format.summary);
  const encodeMs = performance.now() - started;
  metrics.encode(encodeMs / 1000);
  return {
    width: map.width,
    height: map.height,
    bytes,
    fields: {
      exit: r.exit,
      exits: r.exits,
      form: r.form,
      gflops: r.gflops,
      cumulative_gflops: r.cumulativeGflops,
      computed_share: r.computedShare,
      timing_ms: { queue: x.queueMs, decode: x.decodeMs, compute: r.computeMs, encode: encodeMs },
      stop: x.stop,
      summary,
      reuse: x.result.reuse ? reuseFields(x.result.reuse, engine, x.frameWidth, x.frameHeight) : null,
    },
  };
}

/** A reuse report with its regions scaled from the engine's input to the frame. */
function reuseFields(report: ReuseReport, engine: FrameEngine, frameWidth: number, frameHeight: number): ReuseFields {
  const sx = frameWidth / engine.manifest.input.width;
  const sy = frameHeight / engine.manifest.input.height;
  return {
    mode: report.mode,
    keyframe: report.keyframe,
    regions: report.regions.map((b) => {
      const x = Math.round(b.x0 * sx);
      const y = Math.round(b.y0 * sy);
      return { x, y, width: Math.round(b.x1 * sx) - x, height: Math.round(b.y1 * sy) - y };
    }),
    recomputed_share: Math.round(report.recomputedShare * 1e4) / 1e4,
  };
}
