// The stream protocol's binary messages (docs/PROTOCOL.md, version 1).
//
// client -> server, one frame:          server -> client, one exit:
//   0  "ADPC" magic                       0  "ADPX" magic
//   4  u8  version (1)                    4  u8  version (1)
//   5  u8  format 0 encoded|1 rgb|2 rgba  5  u8  reserved (0)
//   6  u16 flags (0)                      6  u32 metadata length J
//   8  u32 frame id                       10 J bytes of JSON metadata
//   12 u16 width, 14 u16 height (raw)     10+J label map, then confidence if sent
//   16 u16 frame JSON length L
//   18 L bytes of frame JSON (budget fields, capture_ts), then the image bytes
// All integers big-endian. Parsing never throws: every failure is a catalogue code
// (src/errors.ts) that names the frame id whenever the header got that far. The message size
// itself is bounded before parsing (ws closes an oversized message with 1009).

import { parseBudget, type Budget } from '../../src/engine/budget.js';
import { isAdpcError, type ErrorCode } from '../../src/errors.js';
import { checkRawFrame, type FrameBounds } from '../../src/image/frame-bounds.js';

export const PROTOCOL_VERSION = 1;
export const FRAME_MAGIC = 'ADPC';
export const EXIT_MAGIC = 'ADPX';
export const FRAME_HEADER_BYTES = 18;
export const EXIT_HEADER_BYTES = 10;

export const FRAME_FORMATS = ['encoded', 'rgb', 'rgba'] as const;
export type FrameFormat = (typeof FRAME_FORMATS)[number];

/** The client's capture timestamp: opaque to the server, echoed as sent in every answer for the frame. */
export type CaptureTs = number | string;

/** A finite number, or a string of at most 64 characters (checked by hand: browser clients bundle this module). */
export function isCaptureTs(value: unknown): value is CaptureTs {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.length <= 64);
}

export interface FrameMessage {
  readonly frameId: number;
  readonly format: FrameFormat;
  readonly width: number;
  readonly height: number;
  readonly budget: Budget;
  readonly captureTs?: CaptureTs;
  readonly image: Uint8Array;
}

export interface StreamError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly frameId: number | null;
  readonly captureTs?: CaptureTs;
}

export type ParseResult = { ok: true; frame: FrameMessage } | { ok: false; error: StreamError };

function fail(code: ErrorCode, message: string, frameId: number | null = null, captureTs?: CaptureTs): ParseResult {
  return { ok: false, error: { code, message, frameId, ...(captureTs !== undefined ? { captureTs } : {}) } };
}

export function parseFrameMessage(data: Uint8Array, bounds: FrameBounds): ParseResult {
  if (data.length < FRAME_HEADER_BYTES) return fail('BAD_HEADER', `message of ${data.length} bytes is shorter than the ${FRAME_HEADER_BYTES}-byte header`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic = String.fromCharCode(data[0]!, data[1]!, data[2]!, data[3]!);
  if (magic !== FRAME_MAGIC) return fail('BAD_HEADER', `bad magic ${JSON.stringify(magic)}, expected "${FRAME_MAGIC}"`);
  const frameId = view.getUint32(8);
  const version = data[4]!;
  if (version !== PROTOCOL_VERSION) return fail('BAD_HEADER', `protocol version ${version}; this server speaks ${PROTOCOL_VERSION}`, frameId);
  const format = FRAME_FORMATS[data[5]!];
  if (format === undefined) return fail('IMAGE_UNSUPPORTED', `format byte ${data[5]} is not 0 (encoded), 1 (rgb) or 2 (rgba)`, frameId);
  if (view.getUint16(6) !== 0) return fail('BAD_HEADER', 'reserved flags must be 0', frameId);
  const width = view.getUint16(12);
  const height = view.getUint16(14);
  const budgetLength = view.getUint16(16);
  const imageStart = FRAME_HEADER_BYTES + budgetLength;
  if (imageStart > data.length) return fail('BAD_HEADER', `budget of ${budgetLength} bytes runs past the end of the message`, frameId);

  // the frame JSON: budget fields, and the capture timestamp to echo (an addition within version 1)
  let budget: Budget = {};
  let captureTs: CaptureTs | undefined;
  if (budgetLength > 0) {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(FRAME_HEADER_BYTES, imageStart)));
    } catch {
      return fail('BUDGET_INVALID', 'the frame JSON is not valid UTF-8 JSON', frameId);
    }
    let fields = json;
    if (json !== null && typeof json === 'object' && !Array.isArray(json) && 'capture_ts' in json) {
      const { capture_ts: given, ...rest } = json as Record<string, unknown>;
      if (!isCaptureTs(given)) return fail('OPTION_INVALID', 'capture_ts must be a finite number or a string of at most 64 characters', frameId);
      captureTs = given;
      fields = rest;
    }
    try {
      budget = parseBudget(fields);
    } catch (e) {
      return fail('BUDGET_INVALID', isAdpcError(e) ? e.message : String(e), frameId, captureTs);
    }
  }

  const image = data.subarray(imageStart);
  if (image.length === 0) return fail('IMAGE_EMPTY', 'the frame carries no image bytes', frameId, captureTs);
  if (format !== 'encoded') {
    try {
      checkRawFrame(image.length, width, height, format === 'rgb' ? 3 : 4, bounds);
    } catch (e) {
      if (!isAdpcError(e)) throw e;
      return fail(e.code, e.message, frameId, captureTs);
    }
  }
  return { ok: true, frame: { frameId, format, width, height, budget, ...(captureTs !== undefined ? { captureTs } : {}), image } };
}

/** Builds a frame message (clients and tests). */
export function encodeFrameMessage(frame: { frameId: number; format: FrameFormat; width?: number; height?: number; budget?: Budget; captureTs?: CaptureTs; image: Uint8Array }): Uint8Array {
  const fields = { ...frame.budget, ...(frame.captureTs !== undefined ? { capture_ts: frame.captureTs } : {}) };
  const budget = Object.keys(fields).length ? new TextEncoder().encode(JSON.stringify(fields)) : new Uint8Array(0);
  const out = new Uint8Array(FRAME_HEADER_BYTES + budget.length + frame.image.length);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(FRAME_MAGIC), 0);
  out[4] = PROTOCOL_VERSION;
  out[5] = FRAME_FORMATS.indexOf(frame.format);
  view.setUint32(8, frame.frameId);
  view.setUint16(12, frame.width ?? 0);
  view.setUint16(14, frame.height ?? 0);
  view.setUint16(16, budget.length);
  out.set(budget, FRAME_HEADER_BYTES);
  out.set(frame.image, FRAME_HEADER_BYTES + budget.length);
  return out;
}

/** One exit result for the client: JSON metadata, then the label map and confidence bytes. */
export function encodeExitMessage(metadata: Record<string, unknown>, labels: Uint8Array, confidence?: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(metadata));
  const out = new Uint8Array(EXIT_HEADER_BYTES + json.length + labels.length + (confidence?.length ?? 0));
  out.set(new TextEncoder().encode(EXIT_MAGIC), 0);
  out[4] = PROTOCOL_VERSION;
  new DataView(out.buffer).setUint32(6, json.length);
  out.set(json, EXIT_HEADER_BYTES);
  out.set(labels, EXIT_HEADER_BYTES + json.length);
  if (confidence) out.set(confidence, EXIT_HEADER_BYTES + json.length + labels.length);
  return out;
}

/** Splits an exit message back into metadata and payload (clients and tests). */
export function decodeExitMessage(data: Uint8Array): { metadata: Record<string, unknown>; payload: Uint8Array } {
  const magic = String.fromCharCode(...data.subarray(0, 4));
  if (magic !== EXIT_MAGIC || data[4] !== PROTOCOL_VERSION) throw new Error(`not a version ${PROTOCOL_VERSION} exit message`);
  const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(6);
  const metadata = JSON.parse(new TextDecoder().decode(data.subarray(EXIT_HEADER_BYTES, EXIT_HEADER_BYTES + length))) as Record<string, unknown>;
  return { metadata, payload: data.subarray(EXIT_HEADER_BYTES + length) };
}
