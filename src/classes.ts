// The 19 Cityscapes evaluation classes (trainIds 0-18) with their palette colours.
// Shared by the scene generator, the engine's outputs and the server's /v1/models.

export interface SegmentationClass {
  readonly id: number;
  readonly name: string;
  readonly color: readonly [number, number, number];
}

export const IGNORE_LABEL = 255;

export const CITYSCAPES_CLASSES: readonly SegmentationClass[] = Object.freeze([
  { id: 0, name: 'road', color: [128, 64, 128] },
  { id: 1, name: 'sidewalk', color: [244, 35, 232] },
  { id: 2, name: 'building', color: [70, 70, 70] },
  { id: 3, name: 'wall', color: [102, 102, 156] },
  { id: 4, name: 'fence', color: [190, 153, 153] },
  { id: 5, name: 'pole', color: [153, 153, 153] },
  { id: 6, name: 'traffic light', color: [250, 170, 30] },
  { id: 7, name: 'traffic sign', color: [220, 220, 0] },
  { id: 8, name: 'vegetation', color: [107, 142, 35] },
  { id: 9, name: 'terrain', color: [152, 251, 152] },
  { id: 10, name: 'sky', color: [70, 130, 180] },
  { id: 11, name: 'person', color: [220, 20, 60] },
  { id: 12, name: 'rider', color: [255, 0, 0] },
  { id: 13, name: 'car', color: [0, 0, 142] },
  { id: 14, name: 'truck', color: [0, 0, 70] },
  { id: 15, name: 'bus', color: [0, 60, 100] },
  { id: 16, name: 'train', color: [0, 80, 100] },
  { id: 17, name: 'motorcycle', color: [0, 0, 230] },
  { id: 18, name: 'bicycle', color: [119, 11, 32] },
] as const);

/** Class ids by name, for readable scene code. */
export const CLASS = Object.freeze({
  road: 0, sidewalk: 1, building: 2, wall: 3, fence: 4, pole: 5, trafficLight: 6,
  trafficSign: 7, vegetation: 8, terrain: 9, sky: 10, person: 11, rider: 12, car: 13,
  truck: 14, bus: 15, train: 16, motorcycle: 17, bicycle: 18,
} as const);

/** Palette colours of a label map: RGB interleaved, ignore painted black. */
export function colorizeLabels(labels: Uint8Array): Uint8Array {
  const out = new Uint8Array(labels.length * 3);
  for (let i = 0; i < labels.length; i++) {
    const cls = CITYSCAPES_CLASSES[labels[i]!];
    if (!cls) continue;
    out[i * 3] = cls.color[0];
    out[i * 3 + 1] = cls.color[1];
    out[i * 3 + 2] = cls.color[2];
  }
  return out;
}
