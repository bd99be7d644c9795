// Every error code the engine and the server report: the one catalogue both faces send from.
// Each code names one condition, with the HTTP status a client sees for it (on POST
// /v1/segment and on a refused stream upgrade) and what an open stream does with it.
// README.md and docs/PROTOCOL.md document exactly these codes (test/errors.test.ts checks).

/**
 * What WS /v1/stream does when the condition arises on an open stream:
 * - 'message': an `{"type": "error"}` message (with the frame id when known); the stream stays open
 * - 'close': the stream closes with `closeCode`, the code as the close reason
 * - 'terminate': the socket is dropped without a close frame (the peer is gone)
 */
export type StreamBehaviour = 'message' | 'close' | 'terminate';

export interface ErrorSpec {
  /** HTTP status of the answer; null where no HTTP answer ever carries the code. */
  readonly status: number | null;
  /** null where an open stream never reports the code. */
  readonly stream: StreamBehaviour | null;
  readonly closeCode?: number;
  readonly summary: string;
}

export const ERROR_CATALOGUE = Object.freeze({
  // loading a bundle (server start, CLI): never sent to a client
  BUNDLE_NOT_FOUND: { status: null, stream: null, summary: 'the model bundle folder or one of its files is missing' },
  BUNDLE_INVALID: { status: null, stream: null, summary: 'the bundle manifest is not valid JSON or breaks the format' },
  BUNDLE_VERSION: { status: null, stream: null, summary: 'the bundle was written in a format version this engine cannot read' },
  BUNDLE_MISMATCH: { status: null, stream: null, summary: 'a graph in the bundle does not match what its manifest says' },
  PROVIDER_UNKNOWN: { status: null, stream: null, summary: 'the execution provider name is not one of cpu, cuda, tensorrt, webgpu, auto' },
  PROVIDER_UNAVAILABLE: { status: null, stream: null, summary: 'the execution provider cannot start on this machine' },

  // a frame's content
  IMAGE_EMPTY: { status: 400, stream: 'message', summary: 'the image has no bytes' },
  IMAGE_UNSUPPORTED: { status: 415, stream: 'message', summary: 'the image is not JPEG, PNG or WebP, or the frame format byte is not encoded, raw RGB or raw RGBA' },
  IMAGE_CORRUPT: { status: 400, stream: 'message', summary: 'the image bytes cannot be decoded (corrupt or truncated)' },
  IMAGE_TOO_LARGE: { status: 413, stream: 'message', summary: 'the image has more pixels than ADPC_MAX_FRAME_PIXELS or a side longer than ADPC_MAX_FRAME_SIDE' },
  IMAGE_RAW_SIZE: { status: 400, stream: 'message', summary: 'raw pixels do not match the given width, height and channels' },
  OUTPUT_TOO_LARGE: { status: 413, stream: 'message', summary: 'label maps at the frame size would have more pixels than ADPC_MAX_OUTPUT_PIXELS (ask for size=stride)' },
  BUDGET_INVALID: { status: 400, stream: 'message', summary: 'a budget field is not a number or out of range' },
  OPTION_INVALID: { status: 400, stream: 'message', summary: 'an unknown option, or an option value that is not allowed (query parameter or stream config field)' },

  // the stream protocol
  BAD_HEADER: { status: null, stream: 'message', summary: 'the binary frame header is short, has a wrong magic or version, non-zero flags, or a budget running past the end' },
  BAD_MESSAGE: { status: null, stream: 'message', summary: 'a text message that is not JSON or not a config message' },
  FRAME_ID_REUSED: { status: null, stream: 'message', summary: 'the frame id belongs to a frame of this stream that is still waiting or running; the new frame is refused, the old one goes on' },
  RATE_LIMITED: { status: null, stream: 'message', summary: 'the stream sends more frames per second than ADPC_MAX_FPS' },
  STREAM_BACKLOG: { status: null, stream: 'close', closeCode: 1008, summary: 'the reader left more than ADPC_MAX_UNSENT_BYTES unsent' },
  STREAM_IDLE: { status: null, stream: 'close', closeCode: 1008, summary: 'no message from the client for ADPC_IDLE_MS while no frame was in flight' },
  PING_TIMEOUT: { status: null, stream: 'terminate', summary: 'the peer did not answer a ping within ADPC_PING_MS' },

  // the request itself
  BAD_REQUEST: { status: 400, stream: null, summary: 'the HTTP request cannot be parsed (request line, target or headers), or a stream upgrade is malformed' },
  REQUEST_TIMEOUT: { status: 408, stream: null, summary: 'the request headers or body did not arrive in time' },
  NOT_FOUND: { status: 404, stream: null, summary: 'no route at this path' },
  METHOD_NOT_ALLOWED: { status: 405, stream: null, summary: 'the route exists but not for this method (the Allow header lists those it takes)' },
  MESSAGE_TOO_LARGE: { status: 413, stream: 'close', closeCode: 1009, summary: 'the request body or stream message is larger than ADPC_MAX_MESSAGE_BYTES' },
  ENCODING_UNSUPPORTED: { status: 415, stream: null, summary: 'the body has a Content-Encoding other than identity, gzip, deflate or br' },
  ENCODING_INVALID: { status: 400, stream: null, summary: 'the body does not decode with its Content-Encoding' },
  UNAUTHORISED: { status: 401, stream: null, summary: 'missing or wrong bearer token' },

  // the server's state
  NOT_READY: { status: 503, stream: null, summary: 'the model is still loading' },
  DRAINING: { status: 503, stream: 'message', summary: 'the server is shutting down: no new requests, streams or frames' },
  OVERLOADED: { status: 503, stream: null, summary: 'ADPC_MAX_REQUESTS segment requests or ADPC_MAX_STREAMS streams are already being served (Retry-After says when to retry)' },
  DEADLINE_UNMET: { status: 503, stream: null, summary: 'the request waited for the device until its first exit could no longer arrive before deadline_ms: nothing was computed (a stream answers such a frame dropped, reason deadline)' },
  INTERNAL: { status: 500, stream: 'message', summary: 'the server failed on this request or frame (the log has the cause); the stream stays open' },
} as const satisfies Record<string, ErrorSpec>);

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.freeze(Object.keys(ERROR_CATALOGUE) as ErrorCode[]);

export class AdpcError extends Error {
  /** HTTP status of the answer (500 for codes never sent over HTTP, which only reach a log). */
  readonly status: number;

  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdpcError';
    this.status = ERROR_CATALOGUE[code].status ?? 500;
  }
}

export function isAdpcError(e: unknown, code?: ErrorCode): e is AdpcError {
  return e instanceof AdpcError && (code === undefined || e.code === code);
}

/** An AdpcError as is; anything else becomes INTERNAL, keeping the original as the cause. */
export function asAdpcError(e: unknown): AdpcError {
  return isAdpcError(e) ? e : new AdpcError('INTERNAL', 'the server failed on this request; its log has the cause', { cause: e });
}
