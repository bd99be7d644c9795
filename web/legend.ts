// The classes present in the label map shown, largest first, with their share of the map.

import type { SegmentationClass } from '../src/classes.js';

export function renderLegend(list: HTMLElement, labels: Uint8Array, classes: readonly SegmentationClass[]): void {
  const counts = new Uint32Array(256);
  for (const id of labels) counts[id]!++;
  const present = classes.filter((c) => counts[c.id]! > 0).sort((a, b) => counts[b.id]! - counts[a.id]!);
  list.replaceChildren(...present.map((c) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.backgroundColor = `rgb(${c.color.join(',')})`;
    const share = document.createElement('span');
    share.className = 'share';
    const percent = (100 * counts[c.id]!) / labels.length;
    share.textContent = percent < 0.1 ? '<0.1%' : `${percent.toFixed(1)}%`;
    item.append(swatch, c.name, share);
    return item;
  }));
}
