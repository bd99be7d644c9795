// Writes RGB frames into a video file through ffmpeg (codec from the file's extension, yuv420p
// so that players take it), waiting for the pipe to drain so memory stays at a frame.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { SourceError } from './ffmpeg-source.js';

export class OverlayVideo {
  private stderr = '';

  private constructor(private readonly child: ChildProcessByStdio<Writable, null, Readable>, private readonly frameBytes: number) {
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d).slice(-4000)));
    child.stdin.on('error', () => undefined); // ffmpeg gone: close() reports why
    child.on('error', (e) => (this.stderr += `\n${e.message}`));
  }

  static open(path: string, width: number, height: number, fps: number): OverlayVideo {
    const child = spawn('ffmpeg', [
      '-hide_banner', '-nostdin', '-v', 'error', '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
      '-pix_fmt', 'yuv420p', path,
    ], { stdio: ['pipe', 'ignore', 'pipe'] });
    return new OverlayVideo(child, width * height * 3);
  }

  async write(rgb: Uint8Array): Promise<void> {
    if (rgb.length !== this.frameBytes) throw new RangeError(`frame of ${rgb.length} bytes, expected ${this.frameBytes}`);
    if (!this.child.stdin.write(rgb)) await Promise.race([once(this.child.stdin, 'drain'), once(this.child, 'close')]);
  }

  async close(): Promise<void> {
    const exited = this.child.exitCode !== null ? Promise.resolve([this.child.exitCode]) : once(this.child, 'close');
    this.child.stdin.end();
    const [code] = (await exited) as [number | null];
    if (code !== 0) throw new SourceError(`ffmpeg (overlay): ${this.stderr.trim().split('\n').at(-1) ?? `exit ${code}`}`);
  }
}
