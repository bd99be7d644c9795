// JSON Schemas of every JSON body and message the server sends or takes, shared by the OpenAPI
// (HTTP) and AsyncAPI (stream) documents as `#/components/schemas/...`. Inputs validated by zod
// are generated from those zod schemas; answers are written here and held to the real ones by
// test/server/api-spec.test.ts. Keywords stay within what JSON Schema draft-07 and 2020-12
// share (AsyncAPI 3's default schema format is draft-07's superset, OpenAPI 3.1's is 2020-12).

import { z } from 'zod';
import { STAGE_FORMS } from '../../src/bundle/crossovers.js';
import { BudgetSchema } from '../../src/engine/budget.js';
import { ERROR_CODES } from '../../src/errors.js';
import { SUMMARY_LEVELS } from '../../src/output/class-summary.js';
import { KEYFRAME_REASONS, REUSE_MODES } from '../../src/reuse/region-reuse.js';
import type { FrameStop } from '../frame-runner.js';
import { PROTOCOL_VERSION } from '../stream/frame-message.js';
import { StreamOptions } from '../stream/stream-session.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const int = (minimum = 0): Schema => ({ type: 'integer', minimum });
const num = (minimum = 0): Schema => ({ type: 'number', minimum });
/** An object with exactly these properties, all required unless listed as optional. */
function object(properties: Record<string, Schema>, optional: readonly string[] = [], description?: string): Schema {
  return {
    type: 'object',
    ...(description ? { description } : {}),
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false,
  };
}

function fromZod(schema: z.ZodType, description: string): Schema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-7' }) as Schema;
  return { description, ...rest };
}

/** Every way a frame can end, exactly the FrameStop type's (the compiler holds the two equal). */
const FRAME_STOPS = Object.keys({ final_exit: 1, max_exit: 1, gflops: 1, deadline: 1, cancelled: 1, superseded: 1, unchanged: 1 } satisfies Record<FrameStop, 1>);

const captureTs: Schema = {
  description: 'the capture timestamp the client sent with the frame, echoed unchanged (present only when sent)',
  oneOf: [{ type: 'number' }, { type: 'string', maxLength: 64 }],
};

const timing = object({ queue: num(), decode: num(), compute: num(), encode: num() }, [],
  'milliseconds: waited for a decode slot and the device so far, decoding, this stage, and turning the exit into bytes (with the summary)');

const exitFields: Record<string, Schema> = {
  exit: { type: 'integer', minimum: 1, maximum: 4 },
  exits: { type: 'integer', minimum: 1 },
  form: { enum: [...STAGE_FORMS], description: 'the form the stage ran in' },
  gflops: { ...num(), description: 'this stage, ADP-C convention, from the positions it computed' },
  cumulative_gflops: num(),
  computed_share: { type: 'number', minimum: 0, maximum: 1 },
  timing_ms: timing,
  stop: { enum: [...FRAME_STOPS, null], description: 'why the frame ends here; null while more exits follow' },
  summary: { oneOf: [ref('ClassSummary'), { type: 'null' }], description: 'null unless a summary was asked for' },
  reuse: { oneOf: [ref('Reuse'), { type: 'null' }], description: 'null unless the stream has region reuse on (always null over HTTP)' },
};

export const SCHEMAS: Readonly<Record<string, Schema>> = Object.freeze({
  Error: object({ error: object({ code: { enum: [...ERROR_CODES] }, message: { type: 'string' } }) }),
  Health: object({ status: { const: 'ok' } }),
  Ready: object({ ready: { type: 'boolean' }, draining: { type: 'boolean' } }),
  Budget: fromZod(BudgetSchema, 'a compute budget; every field optional'),
  ModelCard: object({
    weights: { enum: ['checkpoint', 'official', 'random'], description: "this project's trainer, the ADP-C authors' published weights, or random weights" },
    trained_on: { type: 'string' },
    training_data: { type: ['string', 'null'] },
    synthetic_only: { type: ['boolean', 'null'] },
    limitations: { type: 'array', items: { type: 'string' } },
    evaluation: {
      oneOf: [{ type: 'null' }, object({
        split: { type: 'string' },
        images: int(),
        height: int(1),
        width: int(1),
        runs: {
          type: 'array',
          items: object({
            threshold: { type: ['number', 'null'], description: 'null: CA off' },
            miou: { type: 'array', items: { type: 'number' }, description: 'per exit, %, logits upsampled bilinearly (the paper\'s protocol)' },
            miou_label_map: { type: 'array', items: { type: 'number' }, description: 'per exit, %, the 1/4 label map scaled by nearest' },
            cumulative_gflops: { type: 'array', items: num() },
            computed_share: { type: 'array', items: { type: 'number', minimum: 0, maximum: 1 } },
          }),
        },
      })],
    },
  }, [], 'what the weights were trained on and how they scored, from the bundle manifest'),
  Model: object({
    bundle: { type: 'string', description: "the bundle's folder name" },
    name: { type: 'string' },
    version: { type: 'integer', description: 'bundle format version' },
    arch: { type: 'string' },
    provider: { type: 'string' },
    input: object({ height: int(1), width: int(1) }),
    output: object({ height: int(1), width: int(1), stride: int(1) }),
    threshold: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    baseline_gflops: { ...num(), description: 'the plain HRNet without exits' },
    exits: { type: 'array', items: object({ exit: int(1), gflops: num(), cumulative_gflops: num() }), description: 'dense: every position computed' },
    classes: {
      type: 'array',
      items: object({ id: { type: 'integer', minimum: 0, maximum: 254 }, name: { type: 'string' }, color: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, minItems: 3, maxItems: 3 } }),
    },
    native: { oneOf: [object({ isa: { type: 'string' }, threads: int() }), object({ unavailable: { type: 'string' } })] },
    card: ref('ModelCard'),
  }),
  Models: object({ models: { type: 'array', items: ref('Model') } }),
  Reuse: object({
    mode: { enum: [...REUSE_MODES], description: 'full: the whole frame ran; regions: what changed and a margin around it ran, the rest is carried over; reused: nothing changed, the previous labels answer' },
    keyframe: { enum: [...KEYFRAME_REASONS, null], description: 'why a full frame ran; null in the other modes' },
    regions: { type: 'array', items: object({ x: int(), y: int(), width: int(1), height: int(1) }), description: "bounding boxes of the changed clusters, in the frame's pixels (regions mode)" },
    recomputed_share: { type: 'number', minimum: 0, maximum: 1, description: 'share of the frame the network ran on, margins included' },
  }, [], 'what region reuse computed for this frame (docs/PROTOCOL.md)'),
  ClassSummary: object({
    width: int(1),
    height: int(1),
    classes: {
      type: 'array',
      description: 'classes present, most pixels first',
      items: object({
        id: int(),
        name: { type: ['string', 'null'] },
        pixels: int(1),
        share: { type: 'number', minimum: 0, maximum: 1 },
        regions: { ...int(1), description: "with summary=regions: the class's connected regions (8-connected)" },
        boxes: { type: 'array', items: object({ x: int(), y: int(), width: int(1), height: int(1), pixels: int(1) }), description: 'the largest regions (at most 32), in label-map pixels' },
      }, ['regions', 'boxes']),
    },
  }, [], "the label map's classes; coordinates are the label map's"),
  SegmentAnswer: object({
    width: int(1),
    height: int(1),
    encoding: { enum: ['grayscale', 'palette'] },
    capture_ts: { type: 'string', description: 'the capture_ts query parameter, echoed (present only when sent)' },
    exits: { type: 'array', minItems: 1, items: object({ ...exitFields, labels_png: { type: 'string', contentEncoding: 'base64' } }) },
  }, ['capture_ts']),

  // the stream (docs/PROTOCOL.md)
  FrameJson: object({
    max_exit: { type: 'integer', minimum: 1, maximum: 4 },
    gflops: { type: 'number', exclusiveMinimum: 0 },
    deadline_ms: { type: 'number', exclusiveMinimum: 0, maximum: 3_600_000 },
    threshold: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    capture_ts: captureTs,
  }, ['max_exit', 'gflops', 'deadline_ms', 'threshold', 'capture_ts'], "the JSON in a frame's header: its budget (overriding the stream's field by field) and its capture timestamp"),
  ConfigRequest: fromZod(StreamOptions, "the stream's options; they apply to frames that start afterwards"),
  ConfigReply: object({
    type: { const: 'config' },
    budget: ref('Budget'),
    size: { enum: ['stride', 'frame'] },
    labels: { enum: ['png', 'raw'] },
    encoding: { enum: ['grayscale', 'palette'] },
    summary: { enum: [...SUMMARY_LEVELS] },
    confidence: { type: 'boolean' },
    reuse: { type: 'boolean' },
  }, [], 'the settings now in force'),
  Hello: object({
    type: { const: 'hello' }, protocol: { const: PROTOCOL_VERSION }, request_id: { type: 'string' }, stream_id: int(1), model: ref('Model'),
    reuse: object({
      enabled: { type: 'boolean', description: 'whether this stream starts with region reuse on' },
      regions: { type: 'boolean', description: 'whether changed regions can run alone here (the native executor runs every stage); if not, a changed frame runs in full' },
      margin: { ...int(), description: 'pixels (at the model input size) around the changed blocks that a frame recomputes' },
      label_margin: { ...int(), description: 'pixels around the changed blocks whose labels a frame replaces' },
      keyframe_interval: int(1),
    }),
  }),
  ExitMetadata: object({
    type: { const: 'exit' },
    frame_id: int(),
    capture_ts: captureTs,
    exit: exitFields.exit!,
    exits: exitFields.exits!,
    width: int(1),
    height: int(1),
    labels: object({
      encoding: { enum: ['png', 'raw'] },
      palette: { type: 'boolean', description: 'palette colours (raw: 3 bytes per pixel) instead of class ids (raw: 1 byte)' },
      bytes: int(),
    }),
    confidence: { oneOf: [{ type: 'null' }, object({ bytes: int(), width: int(1), height: int(1) })] },
    ...Object.fromEntries(Object.entries(exitFields).filter(([k]) => k !== 'exit' && k !== 'exits')),
  }, ['capture_ts'], 'the JSON of an exit message; the label map and confidence bytes follow it'),
  Dropped: object({ type: { const: 'dropped' }, frame_id: int(), reason: { enum: ['superseded', 'slow_reader', 'deadline'] }, capture_ts: captureTs }, ['capture_ts']),
  Stopped: object({
    type: { const: 'stopped' }, frame_id: int(),
    reason: { enum: ['superseded', 'cancelled', 'deadline'], description: "deadline: the wait for the device left too little time for the next stage" },
    last_exit: int(1), capture_ts: captureTs,
  }, ['capture_ts']),
  StreamError: object({
    type: { const: 'error' }, code: { enum: [...ERROR_CODES] }, message: { type: 'string' }, frame_id: { type: ['integer', 'null'] }, capture_ts: captureTs,
  }, ['capture_ts']),
});
