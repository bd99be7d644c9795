// Changed blocks -> the crops to run: the bounding box of each cluster of changed blocks is
// a centre whose labels will be replaced; its crop adds `margin` pixels of context on every side, snapped outward to the
// network's 32-pixel grid (aligned crops see the image as the full frame does, and at the
// frame's border a crop is padded exactly as the frame is). Crops merge while one crop costs
// less than two.

import { BLOCK, type BlockGrid } from './change-detector.js';

/** Crop sides and origins are multiples of this: the network's coarsest stride. */
export const CROP_GRID = 32;

/** Half-open pixel box at the engine's input size. */
export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

export interface Region {
  /** Where labels are replaced (multiples of BLOCK). */
  readonly centre: Box;
  /** What the network runs on (multiples of CROP_GRID). */
  readonly crop: Box;
}

export interface PlanSettings {
  /** Context in pixels around each centre. */
  readonly margin: number;
  /**
   * A crop's cost per unit of its area against a full frame's: above 1, as a crop runs its
   * borders, small low-resolution branches and exit heads less efficiently than a frame does.
   */
  readonly areaCost: number;
  /** Fixed cost of one crop as a share of a full frame: each runs every stage's calls and exits. */
  readonly cropOverhead: number;
  /** At most this many crops: the cheapest merges go first. */
  readonly maxRegions: number;
  /** A plan predicted to cost more than this share of a full frame is not worth making. */
  readonly maxCost: number;
}

export interface RegionPlan {
  readonly regions: readonly Region[];
  /** Predicted cost as a share of a full frame. */
  readonly cost: number;
  /** Share of the frame's pixels the crops cover. */
  readonly cropShare: number;
}

interface Pair {
  /** What merging the two saves (negative: what it costs). */
  readonly saving: number;
  readonly merged: Region;
}

const NO_PAIR: Pair = { saving: Number.NEGATIVE_INFINITY, merged: { centre: { x0: 0, y0: 0, x1: 0, y1: 0 }, crop: { x0: 0, y0: 0, x1: 0, y1: 0 } } };

/** Clusters the pairwise merge starts from, per crop allowed. */
const MERGE_CLUSTERS = 3;

export function boxArea(b: Box): number {
  return (b.x1 - b.x0) * (b.y1 - b.y0);
}

function union(a: Box, b: Box): Box {
  return { x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) };
}

function snapDown(v: number): number {
  return Math.max(0, Math.floor(v / CROP_GRID) * CROP_GRID);
}

function snapUp(v: number, max: number): number {
  return Math.min(max, Math.ceil(v / CROP_GRID) * CROP_GRID);
}

function cropOf(centre: Box, grid: BlockGrid, margin: number): Box {
  return {
    x0: snapDown(centre.x0 - margin), y0: snapDown(centre.y0 - margin),
    x1: snapUp(centre.x1 + margin, grid.width), y1: snapUp(centre.y1 + margin, grid.height),
  };
}

/** Bounding boxes (pixels) of the 8-connected clusters of marked blocks. */
function clusterBoxes(marked: Uint8Array, grid: BlockGrid): Box[] {
  const { rows, cols } = grid;
  const seen = new Uint8Array(rows * cols);
  const boxes: Box[] = [];
  const stack: number[] = [];
  for (let start = 0; start < rows * cols; start++) {
    if (!marked[start] || seen[start]) continue;
    let x0 = cols, y0 = rows, x1 = 0, y1 = 0;
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const i = stack.pop()!;
      const y = Math.floor(i / cols);
      const x = i % cols;
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= rows || xx < 0 || xx >= cols) continue;
          const j = yy * cols + xx;
          if (marked[j] && !seen[j]) {
            seen[j] = 1;
            stack.push(j);
          }
        }
      }
    }
    boxes.push({ x0: x0 * BLOCK, y0: y0 * BLOCK, x1: x1 * BLOCK, y1: y1 * BLOCK });
  }
  return boxes;
}

/** Marks every block next to a marked one. */
function dilate(marked: Uint8Array, grid: BlockGrid): Uint8Array {
  const { rows, cols } = grid;
  const out = new Uint8Array(marked.length);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      if (!marked[y * cols + x]) continue;
      for (let yy = Math.max(0, y - 1); yy <= Math.min(rows - 1, y + 1); yy++) out.fill(1, yy * cols + Math.max(0, x - 1), yy * cols + Math.min(cols, x + 2));
    }
  }
  return out;
}

/** The crops to run, or null where they would cost more than settings.maxCost. */
export function planRegions(changed: Uint8Array, grid: BlockGrid, settings: PlanSettings): RegionPlan | null {
  const frameArea = grid.height * grid.width;
  const cost = (crop: Box) => (settings.areaCost * boxArea(crop)) / frameArea + settings.cropOverhead;

  // a plan covering `share` of the frame costs at least this much: past the bound, no plan will do
  const pastBound = (share: number) => settings.areaCost * share + settings.cropOverhead > settings.maxCost;

  // every changed block ends in some crop with its margin: where that alone is past the bound
  // (a moving camera), the clustering and merging are not worth doing
  if (pastBound(marginShare(changed, grid, settings.margin))) return null;
  // the pairwise merge below is cubic in the clusters: scattered change is first coarsened
  let marked = changed;
  let centres = clusterBoxes(marked, grid);
  while (centres.length > MERGE_CLUSTERS * settings.maxRegions) {
    marked = dilate(marked, grid);
    centres = clusterBoxes(marked, grid);
  }

  const regions: Region[] = centres.map((centre) => ({ centre, crop: cropOf(centre, grid, settings.margin) }));
  if (pastBound(coveredShare(regions, grid))) return null;
  // greedy: merge the pair whose union saves most; past maxRegions, the pair it costs least to
  // merge. Each pair's merge is worked out once (pairs[i][j], j > i), and after a merge only
  // the new region's pairs: a scattered change has up to MERGE_CLUSTERS x maxRegions clusters.
  const pairOf = (a: Region, b: Region): Pair => {
    const centre = union(a.centre, b.centre);
    const merged = { centre, crop: cropOf(centre, grid, settings.margin) };
    return { saving: cost(a.crop) + cost(b.crop) - cost(merged.crop), merged };
  };
  const pairs: Pair[][] = regions.map((a, i) => regions.map((b, j) => (j > i ? pairOf(a, b) : NO_PAIR)));
  while (regions.length > 1) {
    let bi = 0;
    let bj = 1;
    for (let i = 0; i < regions.length; i++) {
      for (let j = i + 1; j < regions.length; j++) {
        if (pairs[i]![j]!.saving > pairs[bi]![bj]!.saving) {
          bi = i;
          bj = j;
        }
      }
    }
    const best = pairs[bi]![bj]!;
    if (best.saving < 0 && regions.length <= settings.maxRegions) break;
    for (const row of pairs) {
      row.splice(bj, 1);
      row.splice(bi, 1);
    }
    pairs.splice(bj, 1);
    pairs.splice(bi, 1);
    regions.splice(bj, 1);
    regions.splice(bi, 1);
    regions.forEach((r, k) => pairs[k]!.push(pairOf(r, best.merged)));
    regions.push(best.merged);
    pairs.push(regions.map(() => NO_PAIR));
    // merging never shrinks what the crops cover
    if (pastBound(coveredShare(regions, grid))) return null;
  }
  const cropArea = regions.reduce((sum, r) => sum + boxArea(r.crop), 0);
  const total = regions.reduce((sum, r) => sum + cost(r.crop), 0);
  return total > settings.maxCost ? null : { regions, cost: total, cropShare: cropArea / frameArea };
}

/** Share of the frame that at least one crop covers (crops lie on the CROP_GRID). */
function coveredShare(regions: readonly Region[], grid: BlockGrid): number {
  const cols = grid.width / CROP_GRID;
  const covered = new Uint8Array((grid.height / CROP_GRID) * cols);
  for (const { crop } of regions) {
    for (let y = crop.y0 / CROP_GRID; y < crop.y1 / CROP_GRID; y++) covered.fill(1, y * cols + crop.x0 / CROP_GRID, y * cols + crop.x1 / CROP_GRID);
  }
  return covered.reduce((a, b) => a + b, 0) / covered.length;
}

/**
 * The least share any plan's crops cover: each changed block with the margin around it,
 * snapped outward to the CROP_GRID. It runs on every changed frame, a moving camera's
 * included, so it allocates nothing per block.
 */
function marginShare(changed: Uint8Array, grid: BlockGrid, margin: number): number {
  const cols = grid.width / CROP_GRID;
  const rows = grid.height / CROP_GRID;
  const covered = new Uint8Array(rows * cols);
  let count = 0;
  for (let by = 0; by < grid.rows; by++) {
    const y0 = snapDown(by * BLOCK - margin) / CROP_GRID;
    const y1 = snapUp((by + 1) * BLOCK + margin, grid.height) / CROP_GRID;
    for (let bx = 0; bx < grid.cols; bx++) {
      if (!changed[by * grid.cols + bx]) continue;
      const x0 = snapDown(bx * BLOCK - margin) / CROP_GRID;
      const x1 = snapUp((bx + 1) * BLOCK + margin, grid.width) / CROP_GRID;
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          if (!covered[y * cols + x]) {
            covered[y * cols + x] = 1;
            count++;
          }
        }
      }
    }
  }
  return count / covered.length;
}
