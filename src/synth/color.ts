// Colours and the palettes objects draw from. Palettes deliberately overlap between classes
// (the same greys, whites and reds paint cars, trucks, buses and trams; the same concrete and
// brick tones build facades, walls and fences) so colour alone never tells the class.

import type { Rng } from './rng.js';

export type Rgb = readonly [number, number, number];

export function rgb(r: number, g: number, b: number): Rgb {
  return [r, g, b];
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function scale(c: Rgb, k: number): Rgb {
  return [c[0] * k, c[1] * k, c[2] * k];
}

/** Brightness and per-channel jitter around a base colour. */
export function jitter(rng: Rng, c: Rgb, brightness: number, channel: number): Rgb {
  const k = 1 + rng.range(-brightness, brightness);
  return [
    Math.max(0, c[0] * k + rng.range(-channel, channel)),
    Math.max(0, c[1] * k + rng.range(-channel, channel)),
    Math.max(0, c[2] * k + rng.range(-channel, channel)),
  ];
}

/** HSV (h in [0, 1), s and v in [0, 1]) to 0-255 RGB. */
export function hsv(h: number, s: number, v: number): Rgb {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const k = 255;
  switch (((i % 6) + 6) % 6) {
    case 0: return [v * k, t * k, p * k];
    case 1: return [q * k, v * k, p * k];
    case 2: return [p * k, v * k, t * k];
    case 3: return [p * k, q * k, v * k];
    case 4: return [t * k, p * k, v * k];
    default: return [v * k, p * k, q * k];
  }
}

const VEHICLE_PAINT: readonly Rgb[] = [
  [215, 217, 220], [235, 235, 232], [30, 31, 34], [55, 57, 62], [120, 123, 128], [160, 163, 168],
  [150, 25, 28], [200, 45, 35], [25, 50, 115], [40, 90, 160], [30, 75, 55], [200, 170, 40],
  [230, 200, 60], [100, 60, 35], [190, 110, 30], [90, 20, 40], [110, 130, 150],
];

/** Vehicle paint: shared by cars, trucks, buses, trams and two-wheelers. */
export function vehiclePaint(rng: Rng): Rgb {
  // a quarter of vehicles get any hue at all, so no class owns a colour
  if (rng.chance(0.25)) return hsv(rng.float(), rng.range(0.3, 0.85), rng.range(0.25, 0.9));
  return jitter(rng, rng.pick(VEHICLE_PAINT), 0.12, 6);
}

const MASONRY: readonly Rgb[] = [
  [178, 170, 158], [150, 146, 140], [200, 192, 178], [125, 120, 116], [168, 150, 126],
  [158, 98, 74], [135, 80, 62], [190, 160, 120], [110, 108, 110], [212, 205, 190],
  [175, 130, 100], [140, 135, 125], [196, 180, 150], [95, 92, 90], [180, 175, 170],
];

/** Concrete, brick, stone and plaster tones shared by buildings, walls and fences. */
export function masonry(rng: Rng): Rgb {
  return jitter(rng, rng.pick(MASONRY), 0.12, 7);
}

/** Painted plaster facades: pale tints of any hue, and the masonry tones. */
export function plaster(rng: Rng): Rgb {
  if (rng.chance(0.45)) return masonry(rng);
  return hsv(rng.float(), rng.range(0.08, 0.35), rng.range(0.6, 0.92));
}

export function clothing(rng: Rng): Rgb {
  if (rng.chance(0.45)) return jitter(rng, rng.pick<Rgb>([[25, 25, 28], [45, 48, 60], [80, 80, 85], [200, 200, 195], [30, 40, 75], [95, 75, 55], [130, 120, 105]]), 0.15, 8);
  return hsv(rng.float(), rng.range(0.25, 0.9), rng.range(0.2, 0.9));
}

export function skin(rng: Rng): Rgb {
  return jitter(rng, rng.pick<Rgb>([[232, 192, 165], [205, 160, 125], [170, 120, 85], [120, 82, 58], [85, 58, 42]]), 0.08, 5);
}

export function hair(rng: Rng): Rgb {
  return jitter(rng, rng.pick<Rgb>([[25, 20, 18], [60, 40, 28], [110, 80, 50], [170, 140, 90], [150, 150, 150]]), 0.1, 5);
}

/** Foliage greens; some autumn-ish and dark, overlapping the terrain palette on purpose. */
export function foliage(rng: Rng): Rgb {
  return jitter(rng, rng.pick<Rgb>([[62, 92, 38], [78, 108, 46], [48, 72, 36], [95, 110, 50], [70, 85, 45], [110, 105, 55], [55, 80, 50]]), 0.15, 6);
}

/** Grass, dry grass, dirt and gravel. */
export function terrainTone(rng: Rng): Rgb {
  return jitter(rng, rng.pick<Rgb>([[100, 125, 60], [120, 130, 70], [135, 125, 85], [115, 100, 75], [90, 115, 55], [140, 135, 110]]), 0.12, 6);
}
