// Where frames come from: the browser camera, a video file, or the built-in synthetic street
// clips painted by a worker (web/synth-worker.ts). Each draws its newest picture, scaled to the
// size the page sends.

import type { SequenceKind } from '../src/synth/sequences.js';
import type { SynthReply, SynthRequest } from './synth-messages.js';

declare const __SYNTH_WORKER_URL__: string;

export interface FrameSource {
  /** Width over height of its pictures, once known. */
  aspect(): number | null;
  /** Draws its newest picture into `ctx` at `width` x `height`; false while it has none (new). */
  draw(ctx: CanvasRenderingContext2D, width: number, height: number): boolean;
  stop(): void;
}

function videoSource(video: HTMLVideoElement, release: () => void): FrameSource {
  return {
    aspect: () => (video.videoWidth > 0 ? video.videoWidth / video.videoHeight : null),
    draw(ctx, width, height) {
      if (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || video.videoWidth === 0) return false;
      ctx.drawImage(video, 0, 0, width, height);
      return true;
    },
    stop() {
      video.pause();
      video.removeAttribute('src');
      video.srcObject = null;
      release();
    },
  };
}

export async function cameraSource(video: HTMLVideoElement): Promise<FrameSource> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error('no camera here: browsers allow one on https:// or http://localhost pages only');
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
  video.srcObject = stream;
  await video.play();
  return videoSource(video, () => stream.getTracks().forEach((t) => t.stop()));
}

export async function videoFileSource(video: HTMLVideoElement, file: Blob): Promise<FrameSource> {
  const url = URL.createObjectURL(file);
  video.src = url;
  video.loop = true;
  video.muted = true;
  try {
    await video.play();
  } catch (e) {
    URL.revokeObjectURL(url);
    throw new Error(`this browser cannot play the file (${e instanceof Error ? e.message : String(e)})`);
  }
  return videoSource(video, () => URL.revokeObjectURL(url));
}

/** The synthetic clips, painted at `width` x `height`; `onError` hears a worker that failed. */
export function synthSource(kind: SequenceKind, width: number, height: number, onError: (message: string) => void): FrameSource {
  const worker = new Worker(__SYNTH_WORKER_URL__, { type: 'module' });
  const post = (m: SynthRequest) => worker.postMessage(m);
  const staging = document.createElement('canvas');
  let fresh = false;
  worker.onmessage = ({ data }: MessageEvent<SynthReply>) => {
    if (data.type === 'error') return onError(data.message);
    staging.width = data.width;
    staging.height = data.height;
    staging.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(data.rgba), data.width, data.height), 0, 0);
    fresh = true;
  };
  worker.onerror = (e) => onError(e.message || 'the synthetic clip worker failed to start');
  post({ type: 'start', kind, width, height });
  post({ type: 'next' });
  return {
    aspect: () => width / height,
    draw(ctx, w, h) {
      if (!fresh) return false;
      ctx.drawImage(staging, 0, 0, w, h);
      fresh = false;
      // the worker paints the next frame while this one is on its way
      post({ type: 'next' });
      return true;
    },
    stop: () => worker.terminate(),
  };
}
