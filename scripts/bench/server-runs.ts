// The server as a client sees it: a real server process (`node --import tsx server/main.ts`
// with the flags `npm start` gives it) on a loopback port, real WebSocket clients. One stream
// end to end (time to each exit and what the server adds to the engine's time), several
// streams at once (as fast as the protocol allows, and paced at 10 fps; with a deadline, how
// many answers come late), and a soak (the server's memory over many frames).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { decodeExitMessage, encodeFrameMessage } from '../../server/stream/frame-message.js';
import { SERVER_NODE_FLAGS } from '../../server/node-flags.js';
import type { Budget } from '../../src/engine/budget.js';
import { Progress } from '../../src/progress.js';
import { quantile, round } from './stats.js';

export interface ServerProcess {
  readonly url: string;
  readonly http: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

export async function startServer(root: string, env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, '--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    // info level: the start-up lines say the port and when the model is ready
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let port = 0;
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code} before it was ready`)));
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; address?: { port: number } };
      if (entry.address) port = entry.address.port;
      if (entry.msg?.includes('ready')) resolve();
    });
  });
  await ready;
  return {
    url: `ws://127.0.0.1:${port}/v1/stream`,
    http: `http://127.0.0.1:${port}`,
    child,
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** What the server reports it spent on an exit (timing_ms). */
interface ExitTiming {
  readonly queue: number;
  readonly decode: number;
  readonly compute: number;
  readonly encode: number;
}

interface Answer {
  readonly frameId: number;
  readonly exits: { exit: number; at: number; computeMs: number; timing: ExitTiming }[];
  sentAt: number;
  endedAt: number | null;
  dropped: boolean;
}

/** A stream client that sends raw RGB frames and records every answer per frame. */
class StreamClient {
  private readonly answers = new Map<number, Answer>();
  private waiters = new Map<number, () => void>();
  private constructor(private readonly ws: WebSocket, private readonly frame: { rgb: Uint8Array; width: number; height: number }) {
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
  }

  static async connect(url: string, frame: { rgb: Uint8Array; width: number; height: number }): Promise<StreamClient> {
    const ws = new WebSocket(url);
    const hello = new Promise<void>((resolve) => ws.once('message', () => resolve()));
    await once(ws, 'open');
    await hello;
    ws.send(JSON.stringify({ type: 'config', size: 'stride', labels: 'raw' }));
    const client = new StreamClient(ws, frame);
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    return client;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const now = performance.now();
    const m = (isBinary ? decodeExitMessage(new Uint8Array(data)).metadata : JSON.parse(data.toString())) as {
      type: string; frame_id?: number; exit?: number; stop?: string | null; timing_ms?: ExitTiming;
    };
    const answer = m.frame_id !== undefined && m.frame_id !== null ? this.answers.get(m.frame_id) : undefined;
    if (!answer) return;
    if (m.type === 'exit') answer.exits.push({ exit: m.exit!, at: now, computeMs: m.timing_ms!.compute, timing: m.timing_ms! });
    const final = (m.type === 'exit' && m.stop != null) || m.type === 'dropped' || m.type === 'stopped' || m.type === 'error';
    if (!final) return;
    // what the client has is its last exit: a stopped notice after it adds nothing to wait for
    answer.endedAt = m.type === 'stopped' && answer.exits.length > 0 ? answer.exits.at(-1)!.at : now;
    answer.dropped = m.type === 'dropped' || (m.type === 'stopped' && answer.exits.length === 0);
    this.waiters.get(answer.frameId)?.();
    this.waiters.delete(answer.frameId);
  }

  /** Sends a frame; resolves when its last answer arrives. */
  send(frameId: number, budget?: Budget): Promise<Answer> {
    const answer: Answer = { frameId, exits: [], sentAt: performance.now(), endedAt: null, dropped: false };
    this.answers.set(frameId, answer);
    const done = new Promise<Answer>((resolve) => this.waiters.set(frameId, () => resolve(answer)));
    this.ws.send(encodeFrameMessage({ frameId, format: 'rgb', width: this.frame.width, height: this.frame.height, image: this.frame.rgb, ...(budget ? { budget } : {}) }));
    return done;
  }

  all(): Answer[] {
    return [...this.answers.values()];
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * One stream's worth of frames, one at a time (each of `frames` on its own connection, in
 * turn): time to each exit, and the server's share over the engine's time (the stages' compute
 * the server reports). The share is split into what the server reports on the frame's path
 * (decode, waits for slots, the final exit's encoding; intermediate exits are encoded while
 * the next stage runs) and the rest: the frame and the exits through the sockets, parsing and
 * dispatch, and the event loop's turns between stages.
 */
export async function oneStream(url: string, frames: { rgb: Uint8Array; width: number; height: number }[], repeats: number) {
  const clients = await Promise.all(frames.map((f) => StreamClient.connect(url, f)));
  const exitTimes: number[][] = [[], [], [], []];
  let e2e = 0;
  let engine = 0;
  const path = { decode: 0, queue: 0, encode: 0 };
  let id = 1;
  // one untimed round first: the server's frame path is compiled by V8 on its first frames
  for (const client of clients) await client.send(id++);
  const progress = new Progress('bench server', frames.length * repeats);
  for (let r = 0; r < repeats; r++) {
    for (const client of clients) {
      const a = await client.send(id++);
      for (const x of a.exits) exitTimes[x.exit - 1]!.push(x.at - a.sentAt);
      e2e += a.endedAt! - a.sentAt;
      engine += a.exits.reduce((sum, x) => sum + x.computeMs, 0);
      const last = a.exits.at(-1)!.timing;
      path.decode += last.decode;
      path.queue += last.queue;
      path.encode += last.encode;
      progress.tick();
    }
  }
  for (const c of clients) c.close();
  const n = frames.length * repeats;
  const reported = path.decode + path.queue + path.encode;
  return {
    exit_p50_ms: exitTimes.map((t) => round(quantile(t, 0.5))),
    e2e_mean_ms: round(e2e / n),
    engine_mean_ms: round(engine / n),
    overhead_share: round((e2e - engine) / engine, 3),
    overhead_ms: {
      decode: round(path.decode / n), queue: round(path.queue / n), final_encode: round(path.encode / n), rest: round((e2e - engine - reported) / n),
    },
  };
}

/**
 * `streams` clients at once for `seconds`: 'max' sends each frame when the previous one has
 * its last answer; 'paced' sends at 10 fps whatever comes back (latest frame wins).
 */
export async function load(url: string, frame: { rgb: Uint8Array; width: number; height: number }, streams: number,
  mode: 'max' | 'paced', seconds: number, deadlineMs?: number) {
  const clients = await Promise.all(Array.from({ length: streams }, () => StreamClient.connect(url, frame)));
  const budget = deadlineMs ? { deadline_ms: deadlineMs } : undefined;
  const until = performance.now() + seconds * 1000;
  let next = 1;
  await Promise.all(clients.map(async (client) => {
    if (mode === 'max') {
      while (performance.now() < until) await client.send(next++, budget);
      return;
    }
    const pending: Promise<Answer>[] = [];
    for (let t = performance.now(); t < until; t += 100) {
      pending.push(client.send(next++, budget));
      await new Promise((r) => setTimeout(r, Math.max(0, t + 100 - performance.now())));
    }
    await Promise.all(pending);
  }));
  const answers = clients.flatMap((c) => c.all());
  for (const c of clients) c.close();
  const served = answers.filter((a) => !a.dropped && a.exits.length > 0);
  const firsts = served.map((a) => a.exits.find((x) => x.exit === 1)!.at - a.sentAt);
  const finals = served.map((a) => a.endedAt! - a.sentAt);
  return {
    streams,
    mode,
    deadline_ms: deadlineMs ?? null,
    fps: round(served.length / seconds, 1),
    dropped_share: round(1 - served.length / answers.length, 3),
    exit1_p95_ms: round(quantile(firsts, 0.95)),
    final_p95_ms: round(quantile(finals, 0.95)),
    late_share: deadlineMs ? round(served.filter((a) => a.endedAt! - a.sentAt > deadlineMs).length / Math.max(1, served.length), 3) : null,
  };
}

async function memory(http: string): Promise<{ rss: number; heap: number }> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const value = (name: string) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1]);
  return { rss: value('process_resident_memory_bytes') / 2 ** 20, heap: value('nodejs_heap_size_used_bytes') / 2 ** 20 };
}

/** RSS and heap of the server before and after `frames` frames on one stream. */
export async function soak(server: ServerProcess, frame: { rgb: Uint8Array; width: number; height: number }, frames: number) {
  const client = await StreamClient.connect(server.url, frame);
  // a first stretch warms every path and cache before the baseline is read
  for (let i = 1; i <= 50; i++) await client.send(i);
  const start = await memory(server.http);
  const progress = new Progress('bench soak', frames);
  for (let i = 0; i < frames; i++) {
    await client.send(1000 + i);
    progress.tick();
  }
  const end = await memory(server.http);
  client.close();
  return {
    frames,
    rss_start_mb: round(start.rss, 1),
    rss_end_mb: round(end.rss, 1),
    heap_start_mb: round(start.heap, 1),
    heap_end_mb: round(end.heap, 1),
    growth_mb_per_1000: round(((end.rss - start.rss) / frames) * 1000, 2),
  };
}
