// A client of WS /v1/stream for Node: connect (token, request id, stream options), send frames,
// read each frame's exits as an async iterator, and reconnect with backoff when the connection
// drops. It speaks the server's own codec (server/stream/frame-message.ts). Frames in flight when
// a connection drops fail (the server answers frames of the stream that received them only);
// the stream options are sent again on every new connection.

import WebSocket from 'ws';
import { decodeExitMessage, encodeFrameMessage } from '../server/stream/frame-message.js';
import type { Budget, CaptureTs, ConfigReply, Dropped, ExitMetadata, FrameStop, Hello, Notice, Stopped, StreamConfig } from './messages.js';

/** A refusal or failure: a server code (src/errors.ts), or one of the client's own below. */
export class AdpcClientError extends Error {
  constructor(
    /** Server codes as sent; the client's: CONNECTION_LOST, NOT_CONNECTED, CLIENT_CLOSED. */
    readonly code: string,
    message: string,
    readonly frameId: number | null = null,
  ) {
    super(message);
    this.name = 'AdpcClientError';
  }
}

/** Encoded bytes (JPEG, PNG or WebP), or raw pixels with their size. */
export type FrameImage = Uint8Array | { readonly format: 'rgb' | 'rgba'; readonly data: Uint8Array; readonly width: number; readonly height: number };

export interface ExitAnswer {
  readonly metadata: ExitMetadata;
  /** PNG bytes, or raw: class ids (1 byte per pixel) or palette colours (3 bytes). */
  readonly labels: Uint8Array;
  /** uint8 confidence at output stride (255 = 1.0), when the stream asks for it. */
  readonly confidence: Uint8Array | null;
}

/** How a frame ended: its last exit, or the notice that no (more) exits come. */
export type FrameOutcome =
  | { readonly kind: 'exit'; readonly stop: FrameStop; readonly last: ExitAnswer }
  | { readonly kind: 'dropped'; readonly notice: Dropped }
  | { readonly kind: 'stopped'; readonly notice: Stopped };

/** One frame's answers: iterate its exits (coarse to fine); the iteration ends with the frame, or throws its error. */
export class FrameAnswers implements AsyncIterable<ExitAnswer> {
  /** Resolves with how the frame ended; rejects with an AdpcClientError. */
  readonly outcome: Promise<FrameOutcome>;
  private readonly exits: ExitAnswer[] = [];
  private ended = false;
  private error: AdpcClientError | null = null;
  private wake: (() => void)[] = [];
  private settle!: { resolve: (o: FrameOutcome) => void; reject: (e: AdpcClientError) => void };

  constructor(readonly frameId: number, readonly captureTs?: CaptureTs) {
    this.outcome = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.outcome.catch(() => undefined); // a caller that only iterates gets the error there
  }

  get done(): boolean {
    return this.ended;
  }

  /** @internal */
  exit(answer: ExitAnswer): void {
    if (this.ended) return;
    this.exits.push(answer);
    if (answer.metadata.stop !== null) this.end({ kind: 'exit', stop: answer.metadata.stop, last: answer });
    else this.notify();
  }

  /** @internal */
  end(outcome: FrameOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.settle.resolve(outcome);
    this.notify();
  }

  /** @internal */
  fail(error: AdpcClientError): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.settle.reject(error);
    this.notify();
  }

  private notify(): void {
    for (const wake of this.wake.splice(0)) wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ExitAnswer> {
    for (let i = 0; ; i++) {
      while (i >= this.exits.length && !this.ended) await new Promise<void>((resolve) => this.wake.push(resolve));
      if (i < this.exits.length) {
        yield this.exits[i]!;
        continue;
      }
      if (this.error) throw this.error;
      return;
    }
  }
}

export interface ReconnectPolicy {
  /** Consecutive failed attempts before giving up (default 10). */
  readonly retries?: number;
  /** First wait, doubled after each failed attempt (default 250 ms). */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
}

export type ClientEvent =
  | { readonly type: 'open'; readonly hello: Hello }
  | { readonly type: 'close'; readonly code: number; readonly reason: string; readonly retryInMs: number | null }
  /** An error message that names no frame and answers no config (e.g. INTERNAL). */
  | { readonly type: 'error'; readonly error: AdpcClientError };

export interface ClientOptions {
  /** Bearer token (ADPC_TOKEN). */
  readonly token?: string;
  readonly requestId?: string;
  /** Stream options, sent on every connection before it counts as open. */
  readonly config?: StreamConfig;
  /** false: a dropped connection stays closed. */
  readonly reconnect?: ReconnectPolicy | false;
  /** Largest message accepted from the server (default 64 MiB). */
  readonly maxPayload?: number;
  readonly onEvent?: (event: ClientEvent) => void;
}

/** Upgrade refusals worth retrying: the server is loading, draining or full. */
const RETRYABLE_STATUS = new Set([502, 503, 504]);
const CONFIG_ERRORS = new Set(['OPTION_INVALID', 'BUDGET_INVALID', 'BAD_MESSAGE']);

export class AdpcStreamClient {
  private ws: WebSocket | null = null;
  private latestHello: Hello | null = null;
  private open = false;
  private closing = false;
  private failures = 0;
  private nextId = 1;
  private retryTimer: NodeJS.Timeout | null = null;
  private config: StreamConfig;
  private readonly frames = new Map<number, FrameAnswers>();
  private readonly configWaiters: { resolve: (reply: ConfigReply) => void; reject: (e: AdpcClientError) => void }[] = [];
  private readyWaiters: { resolve: () => void; reject: (e: AdpcClientError) => void }[] = [];
  private givenUp: AdpcClientError | null = null;

  private constructor(private readonly url: string, private readonly options: ClientOptions) {
    this.config = options.config ?? {};
  }

  /** Connects (retrying as the reconnect policy allows) and resolves once the stream is open. */
  static async connect(url: string, options: ClientOptions = {}): Promise<AdpcStreamClient> {
    const client = new AdpcStreamClient(url, options);
    client.dial();
    await client.ready();
    return client;
  }

  /** The server's hello on the current (or last) connection: protocol, ids and the model. */
  get hello(): Hello {
    return this.latestHello!;
  }

  get connected(): boolean {
    return this.open;
  }

  /** Resolves when the stream is open; rejects once the client gave up or was closed. */
  ready(): Promise<void> {
    if (this.open) return Promise.resolve();
    if (this.givenUp) return Promise.reject(this.givenUp);
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Sends one frame; its answers arrive on the returned FrameAnswers. */
  send(image: FrameImage, options: { budget?: Budget; captureTs?: CaptureTs } = {}): FrameAnswers {
    const frameId = this.allocateId();
    const answers = new FrameAnswers(frameId, options.captureTs);
    if (!this.open || !this.ws) {
      answers.fail(new AdpcClientError('NOT_CONNECTED', 'the stream is not open (reconnecting or closed)', frameId));
      return answers;
    }
    const raw = image instanceof Uint8Array ? null : image;
    const message = encodeFrameMessage({
      frameId,
      format: raw ? raw.format : 'encoded',
      width: raw?.width,
      height: raw?.height,
      ...(options.budget ? { budget: options.budget } : {}),
      ...(options.captureTs !== undefined ? { captureTs: options.captureTs } : {}),
      image: raw ? raw.data : (image as Uint8Array),
    });
    this.frames.set(frameId, answers);
    this.ws.send(message);
    return answers;
  }

  /** Changes the stream options (merged into those sent on every new connection); resolves with the settings in force. */
  configure(config: StreamConfig): Promise<ConfigReply> {
    this.config = { ...this.config, ...config };
    if (!this.open || !this.ws) return Promise.reject(new AdpcClientError('NOT_CONNECTED', 'the stream is not open'));
    return this.sendConfig(this.ws, config);
  }

  /** Closes the stream; frames still in flight fail with CLIENT_CLOSED. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.giveUp(new AdpcClientError('CLIENT_CLOSED', 'the client was closed'));
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.close(1000);
    await closed;
  }

  private allocateId(): number {
    let id = this.nextId;
    while (this.frames.has(id)) id = id >= 0xffff_ffff ? 1 : id + 1;
    this.nextId = id >= 0xffff_ffff ? 1 : id + 1;
    return id;
  }

  private sendConfig(ws: WebSocket, config: StreamConfig): Promise<ConfigReply> {
    return new Promise((resolve, reject) => {
      this.configWaiters.push({ resolve, reject });
      ws.send(JSON.stringify({ type: 'config', ...config }));
    });
  }

  private dial(): void {
    const headers: Record<string, string> = {};
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (this.options.requestId) headers['x-request-id'] = this.options.requestId;
    const ws = new WebSocket(this.url, { headers, maxPayload: this.options.maxPayload ?? 64 * 1024 * 1024, handshakeTimeout: 10_000 });
    this.ws = ws;
    let refusal: { error: AdpcClientError; retry: boolean } | null = null;
    ws.on('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let code = `HTTP_${res.statusCode}`;
        let message = `the server refused the stream with HTTP ${res.statusCode}`;
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { error?: { code?: string; message?: string } };
          if (body.error?.code) [code, message] = [body.error.code, body.error.message ?? message];
        } catch {
          // not our JSON shape: keep the status
        }
        refusal = { error: new AdpcClientError(code, message), retry: RETRYABLE_STATUS.has(res.statusCode ?? 0) };
        req.destroy();
        this.lost(ws, 1006, message, refusal);
      });
    });
    ws.on('error', () => undefined); // 'close' follows and decides
    ws.on('message', (data: Buffer, binary: boolean) => {
      try {
        this.onMessage(ws, data, binary);
      } catch (e) {
        // a message that is not the protocol's: reported, never thrown into the caller's process
        this.options.onEvent?.({ type: 'error', error: new AdpcClientError('BAD_MESSAGE', `unreadable message from the server: ${(e as Error).message}`) });
      }
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (!refusal) this.lost(ws, code, reason.toString());
    });
  }

  private onMessage(ws: WebSocket, data: Buffer, binary: boolean): void {
    if (binary) {
      const { metadata, payload } = decodeExitMessage(new Uint8Array(data));
      const m = metadata as unknown as ExitMetadata;
      const labels = payload.subarray(0, m.labels.bytes);
      const confidence = m.confidence ? payload.subarray(m.labels.bytes, m.labels.bytes + m.confidence.bytes) : null;
      const frame = this.frames.get(m.frame_id);
      if (m.stop !== null) this.frames.delete(m.frame_id);
      frame?.exit({ metadata: m, labels, confidence });
      return;
    }
    const message = JSON.parse(data.toString()) as Notice;
    switch (message.type) {
      case 'hello':
        this.latestHello = message;
        // the connection counts as open once the stream's options are in force
        void (Object.keys(this.config).length ? this.sendConfig(ws, this.config) : Promise.resolve(null))
          .then(() => this.opened(ws), (e: AdpcClientError) => this.lost(ws, 1000, e.message, { error: e, retry: false }));
        return;
      case 'config':
        this.configWaiters.shift()?.resolve(message);
        return;
      case 'dropped':
      case 'stopped': {
        const frame = this.frames.get(message.frame_id);
        this.frames.delete(message.frame_id);
        frame?.end(message.type === 'dropped' ? { kind: 'dropped', notice: message } : { kind: 'stopped', notice: message });
        return;
      }
      case 'error': {
        const error = new AdpcClientError(message.code, message.message, message.frame_id);
        if (message.frame_id !== null && this.frames.has(message.frame_id)) {
          const frame = this.frames.get(message.frame_id)!;
          this.frames.delete(message.frame_id);
          frame.fail(error);
        } else if (message.frame_id === null && CONFIG_ERRORS.has(message.code) && this.configWaiters.length > 0) {
          this.configWaiters.shift()!.reject(error);
        } else {
          this.options.onEvent?.({ type: 'error', error });
        }
      }
    }
  }

  private opened(ws: WebSocket): void {
    if (ws !== this.ws || this.closing) return;
    this.open = true;
    this.failures = 0;
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    this.options.onEvent?.({ type: 'open', hello: this.latestHello! });
  }

  /** A connection ended (or never opened): fail what it carried, then retry or give up. */
  private lost(ws: WebSocket, code: number, reason: string, refusal?: { error: AdpcClientError; retry: boolean }): void {
    if (ws !== this.ws) return;
    this.ws = null;
    const wasOpen = this.open;
    this.open = false;
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
    // a close the server starts carries the code as the start of its reason; 1001 is the drain
    const named = /^([A-Z][A-Z_]+):/.exec(reason)?.[1];
    const error = refusal?.error ?? new AdpcClientError(named ?? (code === 1001 ? 'DRAINING' : 'CONNECTION_LOST'),
      `the stream closed (${code}${reason ? `: ${reason}` : ''})`);
    this.failAll(error);
    if (this.closing) return;
    if (!wasOpen) this.failures++;
    const policy = this.options.reconnect === false ? null : this.options.reconnect ?? {};
    const retry = policy !== null && (refusal?.retry ?? true) && this.failures <= (policy.retries ?? 10);
    const delay = retry ? Math.min(policy!.maxDelayMs ?? 5000, (policy!.initialDelayMs ?? 250) * 2 ** Math.max(0, this.failures - 1)) : null;
    this.options.onEvent?.({ type: 'close', code, reason, retryInMs: delay });
    if (delay === null) {
      this.giveUp(error);
      return;
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closing) this.dial();
    }, delay);
  }

  private failAll(error: AdpcClientError): void {
    for (const [id, frame] of this.frames) frame.fail(new AdpcClientError(error.code, error.message, id));
    this.frames.clear();
    for (const w of this.configWaiters.splice(0)) w.reject(error);
  }

  private giveUp(error: AdpcClientError): void {
    this.givenUp = error;
    this.open = false;
    this.failAll(error);
    for (const w of this.readyWaiters.splice(0)) w.reject(error);
  }
}
