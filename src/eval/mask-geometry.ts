// How a CA mask is laid out, which decides what form can turn it into time: region forms
// (bands, boxes, tiles) pay only when the computed positions gather in few large regions.

export interface MaskGeometry {
  /** Share of positions computed. */
  computed: number;
  /** Share of rows with at least one computed position. */
  rows: number;
  /** Area of the computed positions' bounding box, as a share of the map (0 if none). */
  bbox: number;
  /** Share of 8x8 and 16x16 tiles holding at least one computed position. */
  tiles8: number;
  tiles16: number;
}

/** Geometry of the mask `confidence <= threshold` over an h x w map (row-major). */
export function maskGeometry(confidence: Float32Array, height: number, width: number, threshold: number): MaskGeometry {
  if (confidence.length !== height * width) throw new RangeError(`${confidence.length} values for a ${height}x${width} map`);
  // the graphs compare in float32: 0.97 as a double is below 0.97 as a float32
  const limit = Math.fround(threshold);
  const tiles = (size: number) => new Uint8Array(Math.ceil(height / size) * Math.ceil(width / size));
  const t8 = tiles(8);
  const t16 = tiles(16);
  const w8 = Math.ceil(width / 8);
  const w16 = Math.ceil(width / 16);
  let computed = 0;
  let rows = 0;
  let top = height;
  let bottom = -1;
  let left = width;
  let right = -1;
  for (let y = 0; y < height; y++) {
    let inRow = false;
    for (let x = 0; x < width; x++) {
      if (!(confidence[y * width + x]! <= limit)) continue;
      computed++;
      inRow = true;
      if (x < left) left = x;
      if (x > right) right = x;
      t8[(y >> 3) * w8 + (x >> 3)] = 1;
      t16[(y >> 4) * w16 + (x >> 4)] = 1;
    }
    if (inRow) {
      rows++;
      if (y < top) top = y;
      bottom = y;
    }
  }
  const area = height * width;
  const share = (t: Uint8Array) => t.reduce((n, v) => n + v, 0) / t.length;
  return {
    computed: computed / area,
    rows: rows / height,
    bbox: computed ? ((bottom - top + 1) * (right - left + 1)) / area : 0,
    tiles8: share(t8),
    tiles16: share(t16),
  };
}

/** Mean of each field over several masks. */
export function meanGeometry(all: readonly MaskGeometry[]): MaskGeometry {
  const mean = (pick: (g: MaskGeometry) => number) => (all.length ? all.reduce((s, g) => s + pick(g), 0) / all.length : 0);
  return {
    computed: mean((g) => g.computed),
    rows: mean((g) => g.rows),
    bbox: mean((g) => g.bbox),
    tiles8: mean((g) => g.tiles8),
    tiles16: mean((g) => g.tiles16),
  };
}
