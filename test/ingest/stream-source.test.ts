// `adpc stream` and its ffmpeg frame source, over clips made from the synthetic sequences
// (src/synth/sequences.ts), against the real server.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { openSource, outputSize } from '../../src/ingest/ffmpeg-source.js';
import { generateStaticSequence } from '../../src/synth/sequences.js';
import { repoRoot } from '../helpers/python.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SIZE = { width: 256, height: 128 };
const FRAMES = 8;
let dir: string;
let clip: string;
let folder: string;
let frames: Uint8Array[];

/** Writes RGB frames into a lossless video (FFV1), so decoded frames compare exactly. */
async function writeClip(path: string, rgb: readonly Uint8Array[]): Promise<void> {
  const ff = spawn('ffmpeg', ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${SIZE.width}x${SIZE.height}`, '-r', '10', '-i', 'pipe:0', '-c:v', 'ffv1', '-pix_fmt', 'bgr0', path], { stdio: ['pipe', 'ignore', 'inherit'] });
  for (const f of rgb) ff.stdin.write(f);
  ff.stdin.end();
  const [code] = await once(ff, 'close');
  expect(code).toBe(0);
}

function adpc(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'bin', 'adpc.mjs'), ...args], { cwd: repoRoot }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const jsonLines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

function probeFrames(path: string): { frames: number; width: number; height: number } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'json', path], { encoding: 'utf8' });
  const s = (JSON.parse(out) as { streams: { nb_read_frames: string; width: number; height: number }[] }).streams[0]!;
  return { frames: Number(s.nb_read_frames), width: s.width, height: s.height };
}

beforeAll(async () => {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
  } catch {
    throw new Error('ffmpeg is missing: apt-get install ffmpeg (.ci/run installs it)');
  }
  dir = await mkdtemp(join(tmpdir(), 'adpc-ingest-'));
  frames = [...generateStaticSequence(2_000_003, FRAMES, SIZE)].map((f) => f.image);
  clip = join(dir, 'clip.mkv');
  await writeClip(clip, frames);
  folder = join(dir, 'frames');
  execFileSync('mkdir', [folder]);
  // names that sort wrongly as text (f10 before f2): the source orders them as numbers
  await Promise.all(frames.map((f, i) => sharp(f, { raw: { ...SIZE, channels: 3 } }).png().toFile(join(folder, `f${i + 1}.png`))));
}, 60_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ffmpeg frame sources', () => {
  it('decode a video file into the exact frames it holds, as many as asked', async () => {
    const source = await openSource(clip, { fps: 0 });
    expect([source.kind, source.width, source.height, source.sourceFps]).toEqual(['file', 256, 128, 10]);
    const got: Uint8Array[] = [];
    for await (const f of source.frames()) got.push(f.rgb);
    await source.close();
    expect(got).toHaveLength(FRAMES);
    got.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(frames[i]!)), `frame ${i}`).toBe(true));
    const three = await openSource(clip, { fps: 0, frames: 3 });
    let n = 0;
    for await (const _ of three.frames()) n++;
    await three.close();
    expect(n).toBe(3);
  });

  it('read a folder of images in numeric name order', async () => {
    const source = await openSource(folder, { fps: 0 });
    expect(source.kind).toBe('folder');
    const got: Uint8Array[] = [];
    for await (const f of source.frames()) got.push(f.rgb);
    await source.close();
    expect(got).toHaveLength(FRAMES);
    got.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(frames[i]!)), `image ${i + 1}`).toBe(true));
  });

  it('scale to even sides, keeping the aspect ratio', () => {
    expect(outputSize({ width: 1280, height: 720 }, { width: 641 })).toEqual({ width: 642, height: 360 });
    expect(outputSize({ width: 3840, height: 2160 }, {})).toEqual({ width: 1920, height: 1080 });
    expect(outputSize({ width: 255, height: 127 }, {})).toEqual({ width: 256, height: 128 });
  });

  it('stop a source mid-way without leaving ffmpeg behind', async () => {
    const source = await openSource(clip, { fps: 0 });
    for await (const f of source.frames()) if (f.index === 1) break;
    await source.close();
    const running = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('ffmpeg') && l.includes(clip));
    expect(running).toEqual([]);
  });
});

describe('adpc stream', () => {
  let engine: AnytimeEngine;
  let t: TestServer;
  let http: Server;
  let httpUrl: string;
  beforeAll(async () => {
    engine = await AnytimeEngine.load(DEFAULT_BUNDLE, { threads: 1 });
    t = await startTestServer(engine, { ADPC_TOKEN: 'ingest-token-0123456789' });
    // a camera-like HTTP source: the clip served as a progressive download
    http = createServer((_req, res) => {
      res.setHeader('content-type', 'video/x-matroska');
      createReadStream(clip).pipe(res);
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/clip.mkv`;
  }, 60_000);
  afterAll(async () => {
    http?.close();
    await t?.close();
    await engine?.close();
  });
  const server = () => ['--server', t.ws, '--token', 'ingest-token-0123456789'];

  it('sends a video frame by frame, prints every exit with its timing, and writes the overlay video', async () => {
    const overlay = join(dir, 'overlay.mkv');
    const { code, stdout, stderr } = await adpc(['stream', clip, ...server(), '--fps', '0', '--max-exit', '2', '--json', '--overlay', overlay]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = jsonLines(stdout);
    const exits = lines.filter((l) => l.type === 'exit');
    expect(exits.map((l) => [l.frame, l.exit])).toEqual(Array.from({ length: FRAMES }, (_, i) => [[i, 1], [i, 2]]).flat());
    for (const l of exits) {
      expect(l.client_ms).toBeGreaterThan(0);
      expect(Object.keys(l.timing_ms as object)).toEqual(['queue', 'decode', 'compute', 'encode']);
    }
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', kind: 'file', width: 256, height: 128, frames_sent: FRAMES, completed: FRAMES, failed: 0 });
    expect((summary.exits as { answers: number }[]).map((e) => e.answers)).toEqual([FRAMES, FRAMES]);
    expect(probeFrames(overlay)).toEqual({ frames: FRAMES, width: 256, height: 128 });
    // the overlay is the frame with colours over it, not the frame
    const first = execFileSync('ffmpeg', ['-v', 'error', '-i', overlay, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
    let differing = 0;
    for (let i = 0; i < first.length; i++) if (Math.abs(first[i]! - frames[0]![i]!) > 24) differing++;
    expect(differing / first.length).toBeGreaterThan(0.3);
  });

  it('reads a folder of images and an HTTP URL, and prints a table by default', async () => {
    const fromFolder = await adpc(['stream', folder, ...server(), '--fps', '0', '--frames', '3', '--max-exit', '1']);
    expect(fromFolder.code).toBe(0);
    expect(fromFolder.stdout).toMatch(/\(folder, 256x128\)/);
    expect(fromFolder.stdout.match(/^frame \d+: e1 [\d.]+ ms \(compute [\d.]+\) \| max_exit$/gm)).toHaveLength(3);
    expect(fromFolder.stdout).toMatch(/^3 frames sent in [\d.]+ s: 3 completed, 0 dropped, 0 stopped, 0 failed$/m);
    expect(fromFolder.stdout).toMatch(/^\| 1 \| 3 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/m);
    const fromUrl = await adpc(['stream', httpUrl, ...server(), '--fps', '0', '--frames', '3', '--encode', 'jpeg', '--json']);
    expect(fromUrl.code).toBe(0);
    const summary = jsonLines(fromUrl.stdout).at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', kind: 'url', frames_sent: 3, failed: 0 });
  });

  it('says in one line what is wrong with a source or a server', async () => {
    const missing = await adpc(['stream', join(dir, 'nope.mkv'), ...server()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^adpc: .*nope\.mkv: no such file or folder/);
    const refused = await adpc(['stream', clip, '--server', t.ws, '--token', 'wrong-token-0123456789']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^adpc: UNAUTHORISED: /);
  });
});
