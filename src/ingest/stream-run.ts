// `adpc stream SOURCE`: frames from ffmpeg sent to a server over the stream protocol at a chosen
// rate, each exit's time printed as it arrives (measured from the frame's send), a summary per
// exit at the end, and optionally the final labels of each frame blended over it into a video.
// A file or folder is paced by the clock (or, at fps 0, one frame at a time: the next is sent
// when the previous one ended); a camera paces itself, its frames taken as they come.

import sharp from 'sharp';
import { AdpcStreamClient, type ExitAnswer, type FrameAnswers } from '../../client/index.js';
import { paletteOf, type Palette } from '../classes.js';
import type { Budget } from '../engine/budget.js';
import { blendLabels, type LabelMap } from '../output/label-map.js';
import { openSource, type SourceFrame } from './ffmpeg-source.js';
import { OverlayVideo } from './overlay-video.js';

export interface StreamRunOptions {
  readonly server: string;
  readonly token?: string;
  /** Frames per second to send (0: a file's frames one at a time; every frame of a camera). */
  readonly fps: number;
  readonly frames?: number;
  readonly width?: number;
  readonly budget: Budget;
  readonly overlay?: string;
  /** Send raw RGB (exact, larger) or JPEG at `jpegQuality`. */
  readonly encode: 'raw' | 'jpeg';
  readonly jpegQuality?: number;
  readonly json: boolean;
  readonly print: (line: string) => void;
  /** Stops taking frames; those sent still end, then the summary is printed. */
  readonly signal?: AbortSignal;
}

interface Stats {
  readonly clientMs: number[];
  readonly computeMs: number[];
}

export interface StreamReport {
  readonly source: string;
  readonly kind: string;
  readonly width: number;
  readonly height: number;
  readonly frames_sent: number;
  readonly completed: number;
  readonly dropped: number;
  readonly stopped: number;
  readonly failed: number;
  readonly seconds: number;
  readonly exits: readonly { exit: number; answers: number; client_ms: Quantiles; compute_ms: Quantiles }[];
}

interface Quantiles {
  readonly median: number;
  readonly p90: number;
}

/** Frames queued for the overlay before reading the next one waits for the writer. */
const OVERLAY_QUEUE = 4;

const round1 = (v: number) => Math.round(v * 10) / 10;

function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { median: round1(at(0.5)), p90: round1(at(0.9)) };
}

const sleepUntil = (t: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, t - performance.now())));

async function decodeLabels(png: Uint8Array): Promise<LabelMap> {
  const { data, info } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  return { labels: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

export async function runStream(sourcePath: string, options: StreamRunOptions): Promise<StreamReport> {
  const { print, json } = options;
  const source = await openSource(sourcePath, { fps: options.fps, width: options.width, frames: options.frames });
  const { width, height } = source;
  let client: AdpcStreamClient | null = null;
  let overlay: OverlayVideo | null = null;
  const counts = { sent: 0, completed: 0, dropped: 0, stopped: 0, failed: 0 };
  const stats = new Map<number, Stats>();
  const started = performance.now();
  try {
    client = await AdpcStreamClient.connect(options.server, {
      token: options.token,
      // label maps at the frame's size only when they are drawn; PNG keeps them small
      config: { budget: options.budget, size: options.overlay ? 'frame' : 'stride', labels: 'png' },
    });
    const hello = client.hello;
    if (!json) print(`adpc stream: ${sourcePath} (${source.kind}, ${width}x${height}) -> ${options.server}, model ${hello.model.name} (${hello.model.arch}, ${hello.model.provider})`);
    const palette: Palette = paletteOf(hello.model.classes);
    overlay = options.overlay ? OverlayVideo.open(options.overlay, width, height, options.fps || source.sourceFps || 10) : null;

    const follow = async (answers: FrameAnswers, frame: SourceFrame, sentAt: number): Promise<ExitAnswer | null> => {
      const parts: string[] = [];
      let last: ExitAnswer | null = null;
      try {
        for await (const exit of answers) {
          const m = exit.metadata;
          const clientMs = performance.now() - sentAt;
          let s = stats.get(m.exit);
          if (!s) stats.set(m.exit, (s = { clientMs: [], computeMs: [] }));
          s.clientMs.push(clientMs);
          s.computeMs.push(m.timing_ms.compute);
          last = exit;
          if (json) {
            print(JSON.stringify({
              type: 'exit', frame: frame.index, frame_id: m.frame_id, exit: m.exit, client_ms: round1(clientMs), timing_ms: m.timing_ms,
              gflops: m.gflops, cumulative_gflops: m.cumulative_gflops, computed_share: m.computed_share, form: m.form, stop: m.stop,
            }));
          } else {
            parts.push(`e${m.exit} ${clientMs.toFixed(1)} ms (compute ${m.timing_ms.compute.toFixed(1)})`);
          }
        }
        const outcome = await answers.outcome;
        const end = outcome.kind === 'exit' ? outcome.stop : `${outcome.kind} (${outcome.notice.reason})`;
        // a frame superseded or cancelled on its last exit counts as stopped, as one stopped between stages
        if (outcome.kind === 'exit') counts[outcome.stop === 'superseded' || outcome.stop === 'cancelled' ? 'stopped' : 'completed']++;
        else counts[outcome.kind]++;
        if (json && outcome.kind !== 'exit') print(JSON.stringify({ type: outcome.kind, frame: frame.index, frame_id: answers.frameId, reason: outcome.notice.reason }));
        if (!json) print(`frame ${frame.index}: ${[...parts, end].join(' | ')}`);
      } catch (e) {
        counts.failed++;
        const { code, message } = e as { code?: string; message: string };
        print(json ? JSON.stringify({ type: 'error', frame: frame.index, frame_id: answers.frameId, code: code ?? 'INTERNAL', message })
          : `frame ${frame.index}: ${code ?? 'error'}: ${message}`);
      }
      return last;
    };

    // overlay frames are written in the order sent; a frame without labels keeps the latest ones
    let written: Promise<void> = Promise.resolve();
    let queued = 0;
    let latest: LabelMap | null = null;
    let previous: Promise<unknown> = Promise.resolve();
    const followed: Promise<unknown>[] = [];
    const paced = source.kind !== 'url' && options.fps > 0;
    for await (const frame of source.frames()) {
      if (options.signal?.aborted) break;
      if (paced) await sleepUntil(started + (frame.index * 1000) / options.fps);
      else if (source.kind !== 'url') await previous;
      const image = options.encode === 'jpeg'
        ? new Uint8Array(await sharp(frame.rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: options.jpegQuality ?? 90 }).toBuffer())
        : { format: 'rgb' as const, data: frame.rgb, width, height };
      const sentAt = performance.now();
      const answers = client.send(image, { captureTs: frame.index });
      counts.sent++;
      const handled = follow(answers, frame, sentAt);
      previous = handled;
      followed.push(handled);
      if (overlay) {
        const video = overlay;
        queued++;
        written = written.then(async () => {
          const last = await handled;
          if (last) latest = await decodeLabels(last.labels);
          await video.write(latest ? blendLabels(frame.rgb, width, height, latest, palette) : frame.rgb);
          queued--;
        });
        if (queued > OVERLAY_QUEUE) await written;
      }
    }
    await Promise.all(followed);
    await written;
  } finally {
    await source.close();
    await client?.close();
    await overlay?.close();
  }
  const report: StreamReport = {
    source: sourcePath, kind: source.kind, width, height,
    frames_sent: counts.sent, completed: counts.completed, dropped: counts.dropped, stopped: counts.stopped, failed: counts.failed,
    seconds: round1((performance.now() - started) / 1000),
    exits: [...stats.entries()].sort(([a], [b]) => a - b).map(([exit, s]) => ({
      exit, answers: s.clientMs.length, client_ms: quantiles(s.clientMs), compute_ms: quantiles(s.computeMs),
    })),
  };
  if (json) {
    print(JSON.stringify({ type: 'summary', ...report }));
  } else {
    print(`${report.frames_sent} frames sent in ${report.seconds} s: ${report.completed} completed, ${report.dropped} dropped, ${report.stopped} stopped, ${report.failed} failed`);
    print('| exit | answers | ms from send, median | p90 | compute ms, median | p90 |');
    print('|---|---|---|---|---|---|');
    for (const e of report.exits) print(`| ${e.exit} | ${e.answers} | ${e.client_ms.median} | ${e.client_ms.p90} | ${e.compute_ms.median} | ${e.compute_ms.p90} |`);
  }
  return report;
}
