// A YUV4MPEG2 clip (4:2:0, full-range BT.601) of a synthetic street sequence: the file
// Chromium's fake camera plays (--use-file-for-fake-video-capture).
import { writeFile } from 'node:fs/promises';
import { SEQUENCE_FPS, SEQUENCE_GENERATORS, type SequenceKind } from '../../src/synth/sequences.js';

export async function writeSynthY4m(path: string, kind: SequenceKind, seed: number, frames: number, width: number, height: number): Promise<void> {
  if (width % 2 || height % 2) throw new Error('4:2:0 needs even sides');
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F${SEQUENCE_FPS}:1 Ip A1:1 C420jpeg\n`);
  const frameHeader = Buffer.from('FRAME\n');
  const chroma = (width / 2) * (height / 2);
  const parts: Buffer[] = [header];
  for (const frame of SEQUENCE_GENERATORS[kind](seed, frames, { width, height })) {
    const rgb = frame.image;
    const yuv = Buffer.alloc(width * height + 2 * chroma);
    for (let i = 0; i < width * height; i++) {
      yuv[i] = Math.round(0.299 * rgb[i * 3]! + 0.587 * rgb[i * 3 + 1]! + 0.114 * rgb[i * 3 + 2]!);
    }
    for (let y = 0; y < height / 2; y++) {
      for (let x = 0; x < width / 2; x++) {
        let r = 0, g = 0, b = 0;
        for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
          const p = ((2 * y + dy) * width + 2 * x + dx) * 3;
          r += rgb[p]!; g += rgb[p + 1]!; b += rgb[p + 2]!;
        }
        r /= 4; g /= 4; b /= 4;
        const c = y * (width / 2) + x;
        yuv[width * height + c] = Math.round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
        yuv[width * height + chroma + c] = Math.round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
      }
    }
    parts.push(frameHeader, yuv);
  }
  await writeFile(path, Buffer.concat(parts));
}
