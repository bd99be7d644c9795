// Reads the PyTorch reference tensors an export writes into <bundle>/reference/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

interface ReferenceEntry {
  name: string;
  dtype: 'float32' | 'uint8' | 'int64';
  shape: number[];
  file: string;
}

export type ReferenceIndex = Record<string, ReferenceEntry>;

export function readReferenceIndex(bundleDir: string): ReferenceIndex {
  return JSON.parse(readFileSync(join(bundleDir, 'reference', 'index.json'), 'utf8')) as ReferenceIndex;
}

export function readReference(bundleDir: string, index: ReferenceIndex, name: string): ort.Tensor {
  const entry = index[name];
  if (!entry) throw new Error(`no reference tensor ${name}`);
  const bytes = readFileSync(join(bundleDir, 'reference', entry.file));
  // Copy into a fresh, aligned buffer: typed-array views need aligned offsets.
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  switch (entry.dtype) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(buffer), entry.shape);
    case 'uint8':
      return new ort.Tensor('uint8', new Uint8Array(buffer), entry.shape);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(buffer), entry.shape);
  }
}

export function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  if (x.length !== y.length) throw new Error(`length ${x.length} != ${y.length}`);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  return worst;
}

/**
 * 1e-4, or 1e-5 of the reference's largest magnitude when that is coarser. The tiny model's
 * random weights drive the plain HRNet's logits above 100, and float32 rounding accumulated
 * over its layers (in an order that differs between CPUs) reached 1.0e-6 of that on one CPU
 * (1.2e-4 at logits up to 117), beyond a fixed 1e-4.
 */
export function logitTolerance(reference: ort.Tensor): number {
  const values = reference.data as Float32Array;
  let largest = 0;
  for (let i = 0; i < values.length; i++) largest = Math.max(largest, Math.abs(values[i]!));
  return Math.max(1e-4, 1e-5 * largest);
}

export function equalShare(a: ort.Tensor, b: ort.Tensor): number {
  const x = a.data as Uint8Array;
  const y = b.data as Uint8Array;
  if (x.length !== y.length) throw new Error(`length ${x.length} != ${y.length}`);
  let same = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === y[i]) same++;
  return same / x.length;
}
