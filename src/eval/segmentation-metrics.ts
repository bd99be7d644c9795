// Confusion matrices and mean IoU, as models/adpc/evaluate.py computes them: over the
// classes present in the labels or the predictions, ignore label excluded.

import { IGNORE_LABEL } from '../classes.js';

export class Confusion {
  readonly counts: Float64Array;

  constructor(readonly classes: number) {
    this.counts = new Float64Array(classes * classes);
  }

  add(truth: Uint8Array, predicted: Uint8Array): void {
    if (truth.length !== predicted.length) throw new RangeError(`${truth.length} labels vs ${predicted.length} predictions`);
    for (let i = 0; i < truth.length; i++) {
      const t = truth[i]!;
      if (t === IGNORE_LABEL || t >= this.classes) continue;
      const p = predicted[i]!;
      if (p < this.classes) this.counts[t * this.classes + p]! += 1;
    }
  }

  /** IoU per class in [0, 1], null where the class is neither labelled nor predicted. */
  iou(): (number | null)[] {
    const n = this.classes;
    return Array.from({ length: n }, (_, c) => {
      let row = 0;
      let col = 0;
      for (let k = 0; k < n; k++) {
        row += this.counts[c * n + k]!;
        col += this.counts[k * n + c]!;
      }
      const tp = this.counts[c * n + c]!;
      const union = row + col - tp;
      return union > 0 ? tp / union : null;
    });
  }

  meanIou(): number {
    const values = this.iou().filter((v): v is number => v !== null);
    return values.length ? (100 * values.reduce((a, b) => a + b, 0)) / values.length : 0;
  }
}
