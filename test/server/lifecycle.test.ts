// The real entry point as a process, started the way users start it (`npm start`): it loads,
// serves, and on SIGTERM to npm drains within ADPC_DRAIN_MS: the HTTP request in flight
// completes, every frame a stream sent gets exactly one final answer, a peer that never
// answers the close frame is dropped, and node itself exits 0.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeExitMessage, encodeFrameMessage } from '../../server/stream/frame-message.js';
import { repoRoot } from '../helpers/python.js';
import { encodedScene } from '../helpers/server.js';

type Message = { type: string; frame_id?: number | null; stop?: string | null; code?: string };
type LogLine = { msg: string; pid?: number; address?: { port: number }; ms?: number };

const DRAIN_MS = 3000;

function record(ws: WebSocket): { messages: Message[]; next: (pred: (m: Message) => boolean) => Promise<Message> } {
  const messages: Message[] = [];
  const waiters: { pred: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const m = (isBinary ? decodeExitMessage(new Uint8Array(data)).metadata : JSON.parse(data.toString())) as Message;
    messages.push(m);
    for (const w of [...waiters]) if (w.pred(m)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
  });
  const next = (pred: (m: Message) => boolean) => {
    const seen = messages.find(pred);
    return seen ? Promise.resolve(seen) : new Promise<Message>((resolve) => waiters.push({ pred, resolve }));
  };
  return { messages, next };
}

const isFinal = (m: Message) => (m.type === 'exit' && m.stop != null) || m.type === 'dropped' || m.type === 'stopped' || m.type === 'error';

describe('npm start', () => {
  it('drains on SIGTERM to npm: lossless, bounded, and node itself exits 0', async () => {
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: repoRoot,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ADPC_THREADS: '1', ADPC_SUPERSEDE: 'frame', ADPC_DRAIN_MS: String(DRAIN_MS) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const npmExited = once(npm, 'exit') as Promise<[number | null, string | null]>;
    const log: LogLine[] = [];
    const lines = createInterface({ input: npm.stdout });
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    lines.on('line', (text) => {
      if (!text.startsWith('{')) return;
      const entry = JSON.parse(text) as LogLine;
      log.push(entry);
      if (entry.msg.includes('ready')) ready();
    });
    await isReady;
    const port = log.find((l) => l.address)!.address!.port;
    const nodePid = log[0]!.pid!;
    expect(nodePid).not.toBe(npm.pid); // npm runs node itself, which is what the signal must reach

    const jpeg = await encodedScene(2_000_011, 512, 256, 'jpeg');
    const frame = (frameId: number) => encodeFrameMessage({ frameId, format: 'encoded', image: jpeg, budget: { threshold: 1 } });
    const a = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`);
    const b = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`);
    const ra = record(a);
    await Promise.all([once(a, 'open'), once(b, 'open')]);
    const aClosed = once(a, 'close') as Promise<[number, Buffer]>;
    b.on('error', () => undefined);
    const bClosed = once(b, 'close') as Promise<[number, Buffer]>;
    // b stops reading: it will never see, let alone answer, the server's close frame
    const bSocket = (b as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    bSocket.pause();

    const inFlight = fetch(`http://127.0.0.1:${port}/v1/segment`, { method: 'POST', body: jpeg });
    a.send(frame(1));
    await ra.next((m) => m.frame_id === 1 && m.type === 'exit');
    a.send(frame(2)); // waits behind frame 1 (supersede=frame)
    const signalled = performance.now();
    npm.kill('SIGTERM');

    const two = await ra.next((m) => m.frame_id === 2 && isFinal(m));
    expect(two).toMatchObject({ type: 'error', code: 'DRAINING' });
    a.send(frame(3)); // after the drain began: DRAINING, or unanswered if it crossed the close frame
    const [code] = await aClosed;
    expect(code).toBe(1001);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { exits: unknown[] }).exits).toHaveLength(4);

    const [exitCode] = await npmExited;
    const elapsed = performance.now() - signalled;
    expect(exitCode).toBe(0);
    expect(elapsed).toBeLessThan(DRAIN_MS + 1000); // the bound, plus process exit; ws alone waits 30 s for b
    expect(() => process.kill(nodePid, 0)).toThrow(); // node is gone, not reparented and serving
    bSocket.resume(); // only now can b read the close frame it never answered, and the dropped socket
    expect([1001, 1006]).toContain((await bClosed)[0]);

    // every frame a sent got exactly one final answer; the 1001 close answers a frame that
    // reached the server after its close frame (docs/PROTOCOL.md, "Drain")
    for (const id of [1, 2]) expect(ra.messages.filter((m) => m.frame_id === id && isFinal(m)), `frame ${id}`).toHaveLength(1);
    expect(ra.messages.find((m) => m.frame_id === 1 && isFinal(m))!.stop).toBe('final_exit');
    expect(ra.messages.filter((m) => m.frame_id === 3).every((m) => m.type === 'error' && m.code === 'DRAINING')).toBe(true);
    expect(ra.messages.filter((m) => m.frame_id === 3).length).toBeLessThanOrEqual(1);
    expect(log.find((l) => l.msg === 'drained')!.ms).toBeLessThanOrEqual(DRAIN_MS);
  }, 60_000);
});
