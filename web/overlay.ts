// The colour overlay of a label map and, on top, the positions the stage that made it skipped.
// Both canvases hold the map at output stride; CSS stretches them over the frame, which is the
// geometry the server used (it stretches every frame to the model's input).

import type { SegmentationClass } from '../src/classes.js';

/** Drawn over a skipped position: a light veil, so the colours under it still read. */
const SKIPPED_RGBA = [255, 255, 255, 150] as const;

/**
 * Positions stage k skipped: those where exit k-1 was confident, its max softmax probability
 * above the threshold (ADP-C's rule, at the 1/4-resolution branch). From the 8-bit confidence
 * the stream sends, so a position within 1/510 of the threshold may fall on the wrong side.
 */
export function skippedPositions(previousConfidence: Uint8Array, threshold: number): Uint8Array {
  const out = new Uint8Array(previousConfidence.length);
  for (let i = 0; i < out.length; i++) out[i] = previousConfidence[i]! / 255 > threshold ? 1 : 0;
  return out;
}

export class Overlay {
  /** RGBA per class id; ids without a class (255, ignore) stay transparent. */
  private readonly palette = new Uint8ClampedArray(256 * 4);

  constructor(private readonly labelsCanvas: HTMLCanvasElement, private readonly skippedCanvas: HTMLCanvasElement, classes: readonly SegmentationClass[]) {
    for (const c of classes) this.palette.set([...c.color, 255], c.id * 4);
  }

  draw(labels: Uint8Array, width: number, height: number, skipped: Uint8Array | null): void {
    const colours = new ImageData(width, height);
    for (let i = 0; i < labels.length; i++) colours.data.set(this.palette.subarray(labels[i]! * 4, labels[i]! * 4 + 4), i * 4);
    put(this.labelsCanvas, colours);
    const veil = new ImageData(width, height);
    if (skipped) for (let i = 0; i < skipped.length; i++) if (skipped[i]) veil.data.set(SKIPPED_RGBA, i * 4);
    put(this.skippedCanvas, veil);
  }
}

function put(canvas: HTMLCanvasElement, image: ImageData): void {
  if (canvas.width !== image.width || canvas.height !== image.height) {
    canvas.width = image.width;
    canvas.height = image.height;
  }
  canvas.getContext('2d')!.putImageData(image, 0, 0);
}
