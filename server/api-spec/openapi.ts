// OpenAPI 3.1 description of the HTTP API, served at GET /v1/openapi.json. The routes, the
// query parameters and the error statuses come from the same definitions the server uses.

import { readFileSync } from 'node:fs';
import { ERROR_CATALOGUE, type ErrorCode } from '../../src/errors.js';
import { SCHEMAS } from './schemas.js';

export const SERVER_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const json = (schema: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } });

/** The error answers a route can give, grouped by status, each naming its codes. */
function errors(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CATALOGUE[code].status!;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries([...byStatus].map(([status, list]) => [String(status), {
    description: list.map((c) => `${c}: ${ERROR_CATALOGUE[c].summary}`).join('; '),
    content: json('Error'),
  }]));
}

const decimal = (name: string, description: string) => ({
  name, in: 'query', required: false, description: `${description} (a plain decimal number; also the X-Budget-${name.split('_').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('-')} header, the query wins)`,
  schema: { type: 'string', pattern: '^[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?$' },
});

const requestId = {
  name: 'X-Request-Id', in: 'header', required: false,
  description: 'echoed in the answer (or one the server made) and in the log lines of the request',
  schema: { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9_.:@/+=-]+$' },
};

const AUTH = ['UNAUTHORISED'] as const;

export const OPENAPI = Object.freeze({
  openapi: '3.1.0',
  info: {
    title: 'adpc-edge HTTP API',
    version: SERVER_VERSION,
    description: 'Anytime semantic segmentation (ADP-C): one prediction per exit, within a compute budget. ' +
      'The stream protocol (WS /v1/stream) is described by /v1/asyncapi.json.',
  },
  jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
  security: [{ bearer: [] }, {}],
  paths: {
    '/healthz': { get: { summary: 'liveness', security: [], responses: { 200: { description: 'the process is alive', content: json('Health') } } } },
    '/readyz': {
      get: {
        summary: 'readiness', security: [],
        responses: {
          200: { description: 'the model is loaded and warmed up', content: json('Ready') },
          503: { description: 'loading, or draining', content: json('Ready') },
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (needs the token only with ADPC_METRICS_AUTH=true)',
        responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors(AUTH) },
      },
    },
    '/v1/openapi.json': { get: { summary: 'this document', security: [], responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    '/v1/asyncapi.json': { get: { summary: 'the stream protocol', security: [], responses: { 200: { description: 'AsyncAPI 3.0', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    '/v1/models': {
      get: {
        summary: 'the loaded model: classes with colours, per-exit dense GFLOPs, and its card (training data, evaluation)',
        parameters: [requestId],
        responses: { 200: { description: 'the model', content: json('Models') }, ...errors([...AUTH, 'NOT_READY']) },
      },
    },
    '/v1/segment': {
      post: {
        summary: 'segment one image: every exit produced, coarse to fine',
        parameters: [
          decimal('max_exit', 'last exit to run, 1-4'),
          decimal('gflops', 'cap on cumulative GFLOPs'),
          decimal('deadline_ms', 'milliseconds from arrival'),
          decimal('threshold', 'CA threshold, 0 < t <= 1 (1: no skipping)'),
          { name: 'size', in: 'query', required: false, description: "label maps at the frame's size (default) or at 1/4 of the input size", schema: { enum: ['frame', 'stride'] } },
          { name: 'encoding', in: 'query', required: false, description: 'PNG pixels: class ids (default) or palette colours', schema: { enum: ['grayscale', 'palette'] } },
          { name: 'summary', in: 'query', required: false, description: 'per-class shares (classes), and bounding boxes of connected regions (regions), with every exit', schema: { enum: ['none', 'classes', 'regions'] } },
          { name: 'capture_ts', in: 'query', required: false, description: 'echoed as capture_ts in the JSON answer and as the X-Capture-Ts header', schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,64}$' } },
          { name: 'width', in: 'query', required: false, description: 'raw bodies only', schema: { type: 'string', pattern: '^\\d{1,5}$' } },
          { name: 'height', in: 'query', required: false, description: 'raw bodies only', schema: { type: 'string', pattern: '^\\d{1,5}$' } },
          requestId,
          { name: 'Content-Encoding', in: 'header', required: false, schema: { enum: ['identity', 'gzip', 'deflate', 'br'] } },
        ],
        requestBody: {
          required: true,
          description: 'JPEG, PNG or WebP bytes (sniffed, whatever the Content-Type), or raw pixels with width and height',
          content: {
            'image/jpeg': { schema: { type: 'string', contentMediaType: 'image/jpeg' } },
            'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
            'image/webp': { schema: { type: 'string', contentMediaType: 'image/webp' } },
            'application/x-raw-rgb': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
            'application/x-raw-rgba': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
          },
        },
        responses: {
          200: {
            description: 'every exit (JSON), or with Accept: image/png the last label map',
            headers: {
              'X-Exit': { description: 'image/png answers: the exit of the map', schema: { type: 'string' } },
              'X-Stop-Reason': { description: 'image/png answers: why the run stopped', schema: { type: 'string' } },
              'X-Capture-Ts': { description: 'the capture_ts query parameter, when given', schema: { type: 'string' } },
            },
            content: { ...json('SegmentAnswer'), 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } },
          },
          ...errors([
            'IMAGE_EMPTY', 'IMAGE_UNSUPPORTED', 'IMAGE_CORRUPT', 'IMAGE_TOO_LARGE', 'IMAGE_RAW_SIZE', 'OUTPUT_TOO_LARGE', 'BUDGET_INVALID',
            'OPTION_INVALID', 'BAD_REQUEST', 'REQUEST_TIMEOUT', 'MESSAGE_TOO_LARGE', 'ENCODING_UNSUPPORTED', 'ENCODING_INVALID', ...AUTH,
            'NOT_READY', 'DRAINING', 'OVERLOADED', 'INTERNAL',
          ]),
        },
      },
    },
    '/v1/stream': {
      get: {
        summary: 'WebSocket upgrade to the stream protocol (see /v1/asyncapi.json); the token may also come as ?access_token=',
        parameters: [requestId, { name: 'access_token', in: 'query', required: false, schema: { type: 'string' } }],
        responses: {
          101: { description: 'switching protocols' },
          ...errors(['BAD_REQUEST', ...AUTH, 'NOT_READY', 'DRAINING', 'OVERLOADED']),
        },
      },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'ADPC_TOKEN, when the server has one' } },
    schemas: SCHEMAS,
  },
});
