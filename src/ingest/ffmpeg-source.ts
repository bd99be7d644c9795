// Frames from a video file, a camera URL (RTSP, HTTP, ...) or a folder of images, decoded by
// ffmpeg into raw RGB at one size, read from its pipe one frame at a time (so a file is decoded
// no faster than frames are taken, and memory stays at a frame or two). URLs are live sources:
// read at their native rate, their frames taken as they come.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';

export type SourceKind = 'file' | 'folder' | 'url';

export interface SourceFrame {
  readonly index: number;
  /** RGB interleaved, width x height x 3. */
  readonly rgb: Uint8Array;
}

export interface SourceOptions {
  /** Frames per second taken from the source (ffmpeg's fps filter); 0: every frame. */
  readonly fps: number;
  /** Output width (height keeps the aspect ratio); default the source's, at most `maxSide`. */
  readonly width?: number;
  readonly maxSide?: number;
  /** Stop after this many frames. */
  readonly frames?: number;
}

export interface FrameSource {
  readonly kind: SourceKind;
  readonly width: number;
  readonly height: number;
  /** The source's own frame rate where ffprobe tells it, else null. */
  readonly sourceFps: number | null;
  frames(): AsyncGenerator<SourceFrame, void, undefined>;
  close(): Promise<void>;
}

const IMAGE_EXTENSIONS = /\.(png|jpe?g|webp|bmp|tiff?)$/i;
const URL_SCHEMES = /^(rtsps?|rtmps?|https?|udp|tcp|srt|rtp):\/\//i;
export const DEFAULT_MAX_SIDE = 1920;

export class SourceError extends Error {}

async function kindOf(source: string): Promise<SourceKind> {
  if (URL_SCHEMES.test(source)) return 'url';
  const info = await stat(source).catch(() => null);
  if (!info) throw new SourceError(`${source}: no such file or folder (nor a camera URL: rtsp://, http://, ...)`);
  return info.isDirectory() ? 'folder' : 'file';
}

/** Runs a tool to its end: its stdout, or a SourceError with its last stderr line. */
async function run(tool: string, args: string[]): Promise<string> {
  const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const [code] = await Promise.race([
    once(child, 'close') as Promise<[number | null]>,
    once(child, 'error').then(([e]) => {
      throw new SourceError((e as NodeJS.ErrnoException).code === 'ENOENT' ? `${tool} not found: install ffmpeg (Debian: apt-get install ffmpeg)` : String(e));
    }),
  ]);
  if (code !== 0) throw new SourceError(`${tool}: ${err.trim().split('\n').at(-1) ?? `exit ${code}`}`);
  return out;
}

async function probe(input: string): Promise<{ width: number; height: number; fps: number | null }> {
  const out = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,avg_frame_rate', '-of', 'json', input]);
  const stream = (JSON.parse(out) as { streams?: { width?: number; height?: number; avg_frame_rate?: string }[] }).streams?.[0];
  if (!stream?.width || !stream.height) throw new SourceError(`${input}: no video stream`);
  const [num, den] = (stream.avg_frame_rate ?? '0/0').split('/').map(Number);
  return { width: stream.width, height: stream.height, fps: num && den ? num / den : null };
}

/** Even sides (video encoders want them) at `width`, or the source's size within `maxSide`. */
export function outputSize(source: { width: number; height: number }, options: Pick<SourceOptions, 'width' | 'maxSide'>): { width: number; height: number } {
  const even = (v: number) => Math.max(2, 2 * Math.round(v / 2));
  const scale = options.width !== undefined ? options.width / source.width
    : Math.min(1, (options.maxSide ?? DEFAULT_MAX_SIDE) / Math.max(source.width, source.height));
  return { width: even(source.width * scale), height: even(source.height * scale) };
}

/** An ffconcat list of the folder's images in name order (numbers compared as numbers). */
async function folderList(folder: string, fps: number): Promise<{ list: string; first: string; dir: string }> {
  const names = (await readdir(folder)).filter((n) => IMAGE_EXTENSIONS.test(n)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (names.length === 0) throw new SourceError(`${folder}: no images (png, jpg, webp, bmp, tif)`);
  const dir = await mkdtemp(join(tmpdir(), 'adpc-frames-'));
  const quote = (p: string) => `'${p.replace(/'/g, "'\\''")}'`;
  const duration = 1 / (fps || 10);
  const lines = ['ffconcat version 1.0', ...names.flatMap((n) => [`file ${quote(resolve(folder, n))}`, `duration ${duration}`])];
  const list = join(dir, 'frames.ffconcat');
  await writeFile(list, `${lines.join('\n')}\n`);
  return { list, first: resolve(folder, names[0]!), dir };
}

/** Exactly `bytes` at a time from a stream, each in a buffer of its own; a short tail at the end is dropped. */
async function* chunks(stream: Readable, bytes: number): AsyncGenerator<Buffer, void, undefined> {
  let frame = Buffer.allocUnsafe(bytes);
  let filled = 0;
  // the stream's iterator reads no further while a frame waits to be taken: ffmpeg blocks on its pipe
  for await (const data of stream as AsyncIterable<Buffer>) {
    for (let offset = 0; offset < data.length;) {
      const n = Math.min(bytes - filled, data.length - offset);
      data.copy(frame, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled === bytes) {
        yield frame;
        frame = Buffer.allocUnsafe(bytes);
        filled = 0;
      }
    }
  }
}

export async function openSource(source: string, options: SourceOptions): Promise<FrameSource> {
  const kind = await kindOf(source);
  let input: string[];
  let probed: { width: number; height: number; fps: number | null };
  let cleanup = async (): Promise<void> => undefined;
  if (kind === 'folder') {
    const { list, first, dir } = await folderList(source, options.fps);
    cleanup = () => rm(dir, { recursive: true, force: true });
    probed = { ...(await probe(first)), fps: null };
    input = ['-f', 'concat', '-safe', '0', '-i', list];
  } else {
    probed = await probe(source);
    // a URL is read at its native rate (-re), so that one serving a file behaves as a camera would
    input = kind === 'url' ? ['-re', ...(/^rtsps?:/i.test(source) ? ['-rtsp_transport', 'tcp'] : []), '-i', source] : ['-i', source];
  }
  const { width, height } = outputSize(probed, options);
  const filters = [...(options.fps > 0 && kind !== 'folder' ? [`fps=${options.fps}`] : []), `scale=${width}:${height}:flags=bilinear`];
  const args = [
    '-hide_banner', '-nostdin', '-v', 'error', ...input, '-an', '-sn', '-vf', filters.join(','),
    ...(options.frames !== undefined ? ['-frames:v', String(options.frames)] : []),
    '-fps_mode', 'passthrough', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1',
  ];
  let child: ChildProcessByStdio<null, Readable, Readable> | null = null;
  let stderr = '';
  const frameBytes = width * height * 3;
  return {
    kind, width, height, sourceFps: probed.fps,
    async *frames() {
      child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d).slice(-4000)));
      child.on('error', (e) => (stderr += `\n${e.message}`));
      const exited = once(child, 'close') as Promise<[number | null, string | null]>;
      let index = 0;
      for await (const rgb of chunks(child.stdout, frameBytes)) yield { index: index++, rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length) };
      const [code, signal] = await exited;
      if (code !== 0 && signal === null) throw new SourceError(`ffmpeg: ${stderr.trim().split('\n').at(-1) ?? `exit ${code}`}`);
    },
    async close() {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'close');
        child.kill('SIGTERM');
        await exited;
      }
      await cleanup();
    },
  };
}
