// The 19 Cityscapes evaluation classes (trainIds 0-18) with their palette colours, read from
// models/cityscapes-classes.json: the one list the scene generator, the export (which copies
// it into each bundle's manifest) and the outputs share. Colouring takes a bundle's own
// classes, so a bundle trained on other classes is drawn in its colours.

import { readFileSync } from 'node:fs';
import { z } from 'zod';

export interface SegmentationClass {
  readonly id: number;
  readonly name: string;
  readonly color: readonly [number, number, number];
}

export const IGNORE_LABEL = 255;

const ClassList = z.array(z.object({
  id: z.number().int().min(0).max(254),
  name: z.string().min(1),
  color: z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]),
}));

export const CITYSCAPES_CLASSES: readonly SegmentationClass[] = Object.freeze(
  ClassList.parse(JSON.parse(readFileSync(new URL('../models/cityscapes-classes.json', import.meta.url), 'utf8'))),
);

/** Class ids by name, for readable scene code. */
export const CLASS = Object.freeze({
  road: 0, sidewalk: 1, building: 2, wall: 3, fence: 4, pole: 5, trafficLight: 6,
  trafficSign: 7, vegetation: 8, terrain: 9, sky: 10, person: 11, rider: 12, car: 13,
  truck: 14, bus: 15, train: 16, motorcycle: 17, bicycle: 18,
} as const);

/** Colours by class id: `rgb` holds 3 bytes per id, `known[id]` is 1 where a class has that id. */
export interface Palette {
  readonly rgb: Uint8Array;
  readonly known: Uint8Array;
}

/** The palette of a class list (a bundle's manifest.classes); ids without a class stay black. */
export function paletteOf(classes: readonly { id: number; color: readonly number[] }[]): Palette {
  const rgb = new Uint8Array(256 * 3);
  const known = new Uint8Array(256);
  for (const cls of classes) {
    rgb.set(cls.color.slice(0, 3), cls.id * 3);
    known[cls.id] = 1;
  }
  return { rgb, known };
}

export const CITYSCAPES_PALETTE: Palette = paletteOf(CITYSCAPES_CLASSES);

/** Palette colours of a label map: RGB interleaved. */
export function colorizeLabels(labels: Uint8Array, palette: Palette = CITYSCAPES_PALETTE): Uint8Array {
  const out = new Uint8Array(labels.length * 3);
  const { rgb } = palette;
  for (let i = 0; i < labels.length; i++) {
    const p = labels[i]! * 3;
    out[i * 3] = rgb[p]!;
    out[i * 3 + 1] = rgb[p + 1]!;
    out[i * 3 + 2] = rgb[p + 2]!;
  }
  return out;
}
