// What a label map holds, per class: the share of the map each class present covers and,
// when asked, the bounding boxes of its connected regions (8-connected), largest first.
// Pure; coordinates are those of the map it is given.

import type { LabelMap } from './label-map.js';

export const SUMMARY_LEVELS = ['none', 'classes', 'regions'] as const;
export type SummaryLevel = (typeof SUMMARY_LEVELS)[number];

/** Boxes listed per class (the largest regions); `regions` still counts them all. */
export const MAX_BOXES_PER_CLASS = 32;

export interface RegionBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly pixels: number;
}

export interface ClassShare {
  readonly id: number;
  /** null for an id the bundle's class list does not name. */
  readonly name: string | null;
  readonly pixels: number;
  /** pixels / (width x height), rounded to 6 decimals. */
  readonly share: number;
  /** With 'regions': how many connected regions the class has, and the largest ones' boxes. */
  readonly regions?: number;
  readonly boxes?: readonly RegionBox[];
}

export interface ClassSummary {
  readonly width: number;
  readonly height: number;
  /** Classes present, most pixels first (ties: lower id first). */
  readonly classes: readonly ClassShare[];
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** The summary of `map`; `names` maps class ids to names (a bundle's classes). */
export function summarizeClasses(map: LabelMap, names: readonly { id: number; name: string }[], level: Exclude<SummaryLevel, 'none'>): ClassSummary {
  const { labels, width, height } = map;
  if (labels.length !== width * height) throw new RangeError(`label map of ${labels.length} bytes is not ${width}x${height}`);
  const counts = new Float64Array(256);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  const byId = new Map(names.map((c) => [c.id, c.name]));
  const boxes = level === 'regions' ? regionBoxes(map) : null;
  const total = width * height;
  const classes: ClassShare[] = [];
  for (let id = 0; id < 256; id++) {
    const pixels = counts[id]!;
    if (pixels === 0) continue;
    const own = boxes?.get(id);
    classes.push({
      id, name: byId.get(id) ?? null, pixels, share: round6(pixels / total),
      ...(own ? { regions: own.length, boxes: own.slice(0, MAX_BOXES_PER_CLASS) } : {}),
    });
  }
  classes.sort((a, b) => b.pixels - a.pixels || a.id - b.id);
  return { width, height, classes };
}

/**
 * Connected regions of equal labels, 8-connected, by class, largest first: a union-find over
 * the runs of each row (a run joins the previous row's runs of its class that touch it,
 * diagonals included), so the work follows the number of runs rather than of pixels.
 */
function regionBoxes(map: LabelMap): Map<number, RegionBox[]> {
  const { labels, width, height } = map;
  let capacity = Math.max(16, height * 4);
  let start = new Int32Array(capacity);
  let end = new Int32Array(capacity); // inclusive
  let row = new Int32Array(capacity);
  let parent = new Int32Array(capacity);
  let runs = 0;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  const grow = () => {
    capacity *= 2;
    const bigger = (a: Int32Array) => {
      const b = new Int32Array(capacity);
      b.set(a);
      return b;
    };
    start = bigger(start);
    end = bigger(end);
    row = bigger(row);
    parent = bigger(parent);
  };

  let previousFirst = 0;
  for (let y = 0; y < height; y++) {
    const first = runs;
    const base = y * width;
    let p = previousFirst; // the previous row's runs, scanned once left to right
    for (let x = 0; x < width;) {
      const label = labels[base + x]!;
      let x1 = x;
      while (x1 + 1 < width && labels[base + x1 + 1] === label) x1++;
      if (runs === capacity) grow();
      const r = runs++;
      start[r] = x;
      end[r] = x1;
      row[r] = y;
      parent[r] = r;
      // previous-row runs touching [x - 1, x1 + 1]
      while (p < first && end[p]! < x - 1) p++;
      for (let q = p; q < first && start[q]! <= x1 + 1; q++) {
        if (labels[(y - 1) * width + start[q]!] !== label) continue;
        const a = find(q);
        const b = find(r);
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
      x = x1 + 1;
    }
    previousFirst = first;
  }

  interface Box { x0: number; y0: number; x1: number; y1: number; pixels: number; label: number }
  const roots = new Map<number, Box>();
  for (let r = 0; r < runs; r++) {
    const root = find(r);
    let box = roots.get(root);
    if (!box) roots.set(root, (box = { x0: start[r]!, y0: row[r]!, x1: end[r]!, y1: row[r]!, pixels: 0, label: labels[row[r]! * width + start[r]!]! }));
    box.x0 = Math.min(box.x0, start[r]!);
    box.x1 = Math.max(box.x1, end[r]!);
    box.y0 = Math.min(box.y0, row[r]!);
    box.y1 = Math.max(box.y1, row[r]!);
    box.pixels += end[r]! - start[r]! + 1;
  }
  const out = new Map<number, RegionBox[]>();
  for (const b of roots.values()) {
    let list = out.get(b.label);
    if (!list) out.set(b.label, (list = []));
    list.push({ x: b.x0, y: b.y0, width: b.x1 - b.x0 + 1, height: b.y1 - b.y0 + 1, pixels: b.pixels });
  }
  for (const list of out.values()) list.sort((a, b) => b.pixels - a.pixels || a.y - b.y || a.x - b.x);
  return out;
}
