// The demo page: frames from a source go to WS /v1/stream with the budget of the controls; each
// exit that comes back is drawn over the frame it belongs to, coarse to fine, with the figures.
// After drawing an exit the page dispatches `adpc-exit` on window (detail: frame id, exit,
// exits, stop, computed share, reuse mode), for whoever watches the page (its browser test does).

import type { ModelDescription } from '../src/model-description.js';
import { ExitTimeChart } from './chart.js';
import { Controls, type SourceChoice } from './controls.js';
import { Figures, pct } from './figures.js';
import { renderLegend } from './legend.js';
import { Overlay, skippedPositions } from './overlay.js';
import { cameraSource, synthSource, videoFileSource, type FrameSource } from './sources.js';
import { StreamClient, type ExitMetadata, type FrameOutcome, type StreamExit } from './stream-client.js';

type Model = ModelDescription;

/** Cumulative GFLOPs of each exit with nothing skipped. */
const denseGflops = (m: Model) => m.exits.map((e) => e.cumulative_gflops);

interface SentFrame {
  readonly sentAt: number;
  readonly image: ImageData;
  readonly threshold: number;
  readonly describe: string;
  /** ms from sending to each exit that arrived. */
  readonly times: number[];
  /** The confidence of the last exit drawn, and which exit that was. */
  confidence: Uint8Array | null;
  confidenceExit: number;
}

/** Above this many bytes waiting in the page's socket, no new frame is sent. */
const MAX_BUFFERED_BYTES = 4 << 20;
const RECONNECT_MS = 2000;
const FIGURES_MS = 250;

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const controls = new Controls();
const frameCanvas = el<HTMLCanvasElement>('frame');
const overlayCanvas = el<HTMLCanvasElement>('overlay');
const skippedCanvas = el<HTMLCanvasElement>('skipped');
const regionsCanvas = el<HTMLCanvasElement>('regions');
const stage = el<HTMLDivElement>('stage');
const video = el<HTMLVideoElement>('video');
const capture = document.createElement('canvas');
const captureCtx = capture.getContext('2d', { willReadFrequently: true })!;

let token = '';
let model: Model | null = null;
let view: { overlay: Overlay; figures: Figures; chart: ExitTimeChart } | null = null;
let client: StreamClient | null = null;
let source: FrameSource | null = null;
let running = true;
let sending = false;
let lastSentAt = -Infinity;
let shownFrame = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
const frames = new Map<number, SentFrame>();

function setStatus(state: 'connecting' | 'open' | 'closed' | 'token', text: string): void {
  document.body.dataset.stream = state;
  el('status').textContent = text;
}

function showError(text: string | null): void {
  const p = el('last-error');
  p.hidden = text === null;
  p.textContent = text ?? '';
}

async function fetchModel(): Promise<Model | 'unauthorised' | 'loading'> {
  const res = await fetch('/v1/models', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (res.status === 401) return 'unauthorised';
  if (res.status === 503) return 'loading';
  if (!res.ok) throw new Error(`GET /v1/models answered ${res.status}`);
  const body = (await res.json()) as { models: Model[] };
  return body.models[0]!;
}

async function connect(): Promise<void> {
  setStatus('connecting', 'connecting…');
  let found: Awaited<ReturnType<typeof fetchModel>>;
  try {
    found = await fetchModel();
  } catch (e) {
    setStatus('closed', `server unreachable (${e instanceof Error ? e.message : String(e)}); retrying`);
    return void setTimeout(connect, RECONNECT_MS);
  }
  if (found === 'unauthorised') {
    controls.tokenBox.hidden = false;
    return setStatus('token', token ? 'wrong token' : 'this server needs a token');
  }
  if (found === 'loading') {
    setStatus('connecting', 'model loading…');
    return void setTimeout(connect, 1000);
  }
  controls.tokenBox.hidden = !token;
  const first = model === null;
  model = found;
  if (first) start(found);
  const query = token ? `?access_token=${encodeURIComponent(token)}` : '';
  client = new StreamClient(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/stream${query}`, {
    open: () => {
      setStatus('open', running ? 'streaming' : 'paused');
      tick();
    },
    exit: onExit,
    end: onEnd,
    error: (code, message, frameId) => showError(`${code}: ${message}${frameId !== null ? ` (frame ${frameId})` : ''}`),
    unreadable: (message) => showError(`unreadable answer: ${message}`),
    close: (code, reason) => {
      client = null;
      setStatus('closed', `stream closed (${code}${reason ? ` ${reason}` : ''}); reconnecting`);
      setTimeout(connect, RECONNECT_MS);
    },
  }, { reuse: controls.reuse.checked });
}

/** Once the model is known: the views that depend on it, and the first source. */
function start(m: Model): void {
  el('model').textContent = `${m.name} · ${m.arch} · ${m.provider} · ${m.input.width}×${m.input.height}`;
  controls.setThreshold(m.threshold);
  view = {
    overlay: new Overlay(overlayCanvas, skippedCanvas, m.classes),
    figures: new Figures({ exits: el('exits'), fps: el('fps'), counts: el('counts') }, denseGflops(m)),
    chart: new ExitTimeChart(el('chart'), m.exits.length),
  };
  // rates decay while nothing arrives
  setInterval(() => view!.figures.render(performance.now()), FIGURES_MS);
  void useSource(controls.source.value as SourceChoice);
}

async function useSource(choice: SourceChoice, file?: Blob): Promise<void> {
  source?.stop();
  source = null;
  showError(null);
  try {
    if (choice === 'camera') source = await cameraSource(video);
    else if (choice === 'file') {
      if (!file) return controls.file.click();
      source = await videoFileSource(video, file);
    } else {
      const { width } = controls.send();
      const height = Math.round((width * model!.input.height) / model!.input.width);
      source = synthSource(choice === 'synth-static' ? 'static' : 'moving', width, height, (message) => showError(`synthetic clip: ${message}`));
    }
  } catch (e) {
    showError(`${choice}: ${e instanceof Error ? e.message : String(e)}`);
  }
  tick();
}

function schedule(ms: number): void {
  clearTimeout(timer);
  timer = setTimeout(tick, Math.max(0, ms));
}

/** Sends the next frame when the rate, the pacing and the socket allow; otherwise waits. */
function tick(): void {
  if (!running || sending || !client?.ready || !source || !model) return;
  const settings = controls.send();
  if (settings.paced && client.framesInFlight > 0) return; // the frame's end calls again
  if (client.buffered > MAX_BUFFERED_BYTES) return schedule(20);
  const now = performance.now();
  const due = lastSentAt + 1000 / settings.fps - now;
  if (due > 0) return schedule(due);
  const aspect = source.aspect();
  if (aspect === null) return schedule(30);
  const width = settings.width;
  const height = Math.max(16, Math.round(width / aspect));
  if (capture.width !== width || capture.height !== height) {
    capture.width = width;
    capture.height = height;
  }
  if (!source.draw(captureCtx, width, height)) return schedule(10);
  const image = captureCtx.getImageData(0, 0, width, height);
  const budget = controls.budget();
  sending = true;
  void encode(settings.format, image).then((bytes) => {
    sending = false;
    // paused or disconnected while the frame was encoded: it is not sent
    if (!running || !client?.ready) return;
    const frameId = settings.format === 'raw'
      ? client.send('rgba', bytes, width, height, budget)
      : client.send('encoded', bytes, 0, 0, budget);
    lastSentAt = performance.now();
    frames.set(frameId, {
      sentAt: lastSentAt, image, threshold: budget.threshold ?? model!.threshold, times: [],
      describe: `${width}×${height} ${settings.format === 'raw' ? 'raw' : 'JPEG'} ${(bytes.length / 1024).toFixed(0)} KiB`,
      confidence: null, confidenceExit: 0,
    });
    view!.figures.sent(lastSentAt);
    schedule(1000 / settings.fps);
  }, (e: unknown) => {
    sending = false;
    showError(`encoding the frame: ${e instanceof Error ? e.message : String(e)}`);
    schedule(1000);
  });
}

async function encode(format: 'jpeg' | 'raw', image: ImageData): Promise<Uint8Array> {
  if (format === 'raw') return new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const blob = await new Promise<Blob | null>((resolve) => capture.toBlob(resolve, 'image/jpeg', 0.9));
  if (!blob) throw new Error('the browser made no JPEG');
  return new Uint8Array(await blob.arrayBuffer());
}

function onExit(x: StreamExit): void {
  const f = frames.get(x.meta.frame_id);
  if (!f || !view) return;
  const m = x.meta;
  f.times[m.exit - 1] = x.receivedAt - f.sentAt;
  view.figures.exit(x, f.sentAt);
  if (shownFrame !== m.frame_id) {
    shownFrame = m.frame_id;
    if (frameCanvas.width !== f.image.width || frameCanvas.height !== f.image.height) {
      frameCanvas.width = f.image.width;
      frameCanvas.height = f.image.height;
      stage.style.aspectRatio = `${f.image.width} / ${f.image.height}`;
    }
    frameCanvas.getContext('2d')!.putImageData(f.image, 0, 0);
  }
  // what stage k skipped follows from exit k-1's confidence; unknown if that exit was not sent
  const skipped = m.exit > 1 && f.confidence && f.confidenceExit === m.exit - 1 ? skippedPositions(f.confidence, f.threshold) : null;
  view.overlay.draw(x.labels, m.width, m.height, skipped);
  f.confidence = x.confidence;
  f.confidenceExit = m.exit;
  renderLegend(el('legend'), x.labels, model!.classes);
  const dense = model!.exits[m.exit - 1]!.cumulative_gflops;
  el('exit-shown').textContent = `exit ${m.exit} of ${m.exits}`;
  el('share').textContent = `computed share ${pct(m.computed_share)}`;
  el('gflops-used').textContent = `${m.cumulative_gflops.toFixed(2)} GFLOPs of ${dense.toFixed(2)} dense (${pct(m.cumulative_gflops / dense)})`;
  el('frame-info').textContent = `frame ${m.frame_id} · ${f.describe}${m.stop ? ` · stop: ${m.stop}` : ''}${reuseText(m.reuse)}`;
  drawRegions(m.reuse, f.image.width, f.image.height);
  view.figures.render(x.receivedAt);
  window.dispatchEvent(new CustomEvent('adpc-exit', {
    detail: { frameId: m.frame_id, exit: m.exit, exits: m.exits, stop: m.stop, computedShare: m.computed_share, reuse: m.reuse?.mode ?? null },
  }));
}

/** What region reuse did for the frame, for the caption. */
function reuseText(reuse: ExitMetadata['reuse']): string {
  if (!reuse) return '';
  if (reuse.mode === 'reused') return ' · nothing changed: labels reused';
  if (reuse.mode === 'full') return ` · keyframe (${(reuse.keyframe ?? '').replace('_', ' ')})`;
  return ` · ${reuse.regions.length} region${reuse.regions.length === 1 ? '' : 's'} recomputed, ${pct(reuse.recomputed_share)} of the frame`;
}

/** Outlines where labels were recomputed (the frame's pixels, which are the canvas's). */
function drawRegions(reuse: ExitMetadata['reuse'], width: number, height: number): void {
  if (regionsCanvas.width !== width || regionsCanvas.height !== height) {
    regionsCanvas.width = width;
    regionsCanvas.height = height;
  }
  const ctx = regionsCanvas.getContext('2d')!;
  ctx.clearRect(0, 0, width, height);
  if (reuse?.mode !== 'regions') return;
  ctx.strokeStyle = '#ffd43b';
  ctx.lineWidth = Math.max(1, width / 256);
  for (const r of reuse.regions) ctx.strokeRect(r.x, r.y, r.width, r.height);
}

function onEnd(frameId: number, outcome: FrameOutcome): void {
  const f = frames.get(frameId);
  frames.delete(frameId);
  view?.figures.ended(frameId, outcome, performance.now());
  if (f) {
    view?.chart.push(f.times);
    view?.chart.render();
  }
  tick();
}

controls.source.addEventListener('change', () => void useSource(controls.source.value as SourceChoice));
controls.file.addEventListener('change', () => {
  const file = controls.file.files?.[0];
  if (file) void useSource('file', file);
});
controls.onSendChange(() => {
  if (controls.source.value.startsWith('synth')) void useSource(controls.source.value as SourceChoice);
});
controls.reuse.addEventListener('change', () => client?.setReuse(controls.reuse.checked));
controls.run.addEventListener('click', () => {
  running = !running;
  controls.run.textContent = running ? 'pause' : 'resume';
  if (client?.ready) setStatus('open', running ? 'streaming' : 'paused');
  tick();
});
controls.opacity.addEventListener('input', () => (overlayCanvas.style.opacity = controls.opacity.value));
controls.showSkipped.addEventListener('change', () => (skippedCanvas.hidden = !controls.showSkipped.checked));
controls.tokenBox.addEventListener('submit', (e) => {
  e.preventDefault();
  token = controls.token.value.trim();
  client?.close();
  if (!client) void connect();
});
stage.addEventListener('dragover', (e) => {
  e.preventDefault();
  stage.classList.add('dragging');
});
stage.addEventListener('dragleave', () => stage.classList.remove('dragging'));
stage.addEventListener('drop', (e) => {
  e.preventDefault();
  stage.classList.remove('dragging');
  const file = [...(e.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('video/'));
  if (!file) return showError('drop a video file');
  controls.source.value = 'file';
  void useSource('file', file);
});
overlayCanvas.style.opacity = controls.opacity.value;

void connect();
