// Every error the engine and the server report, with a stable code and the HTTP status a
// client sees for it.

export interface ErrorSpec {
  readonly status: number;
  readonly summary: string;
}

export const ERROR_CATALOGUE = Object.freeze({
  BUNDLE_NOT_FOUND: { status: 500, summary: 'the model bundle folder or one of its files is missing' },
  BUNDLE_INVALID: { status: 500, summary: 'the bundle manifest is not valid JSON or breaks the format' },
  BUNDLE_VERSION: { status: 500, summary: 'the bundle was written in a format version this engine cannot read' },
  BUNDLE_MISMATCH: { status: 500, summary: 'a graph in the bundle does not match what its manifest says' },
  PROVIDER_UNKNOWN: { status: 500, summary: 'the execution provider name is not one of cpu, cuda, tensorrt, webgpu, auto' },
  PROVIDER_UNAVAILABLE: { status: 500, summary: 'the execution provider cannot start on this machine' },
  IMAGE_EMPTY: { status: 400, summary: 'the image has no bytes' },
  IMAGE_UNSUPPORTED: { status: 415, summary: 'the image format is not JPEG, PNG, WebP or raw RGB/RGBA' },
  IMAGE_CORRUPT: { status: 400, summary: 'the image bytes cannot be decoded (corrupt or truncated)' },
  IMAGE_TOO_LARGE: { status: 413, summary: 'the image has more pixels than allowed' },
  IMAGE_RAW_SIZE: { status: 400, summary: 'raw pixels do not match the given width, height and channels' },
  BUDGET_INVALID: { status: 400, summary: 'a budget field is out of range' },
  CANCELLED: { status: 499, summary: 'the run was cancelled' },
  UNAUTHORISED: { status: 401, summary: 'missing or wrong bearer token' },
  NOT_READY: { status: 503, summary: 'the model is still loading or the server is draining' },
  MESSAGE_TOO_LARGE: { status: 413, summary: 'the request body is larger than allowed' },
} as const satisfies Record<string, ErrorSpec>);

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class AdpcError extends Error {
  readonly status: number;

  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdpcError';
    this.status = ERROR_CATALOGUE[code].status;
  }
}

export function isAdpcError(e: unknown, code?: ErrorCode): e is AdpcError {
  return e instanceof AdpcError && (code === undefined || e.code === code);
}
