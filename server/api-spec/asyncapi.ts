// AsyncAPI 3.0 description of WS /v1/stream (docs/PROTOCOL.md), served at GET /v1/asyncapi.json.
// It describes the server: it receives frames and config messages, and sends the rest.
// Binary messages carry JSON inside their layout: `x-json` names the schema of that JSON.

import { ERROR_CATALOGUE, ERROR_CODES, type ErrorSpec } from '../../src/errors.js';
import { EXIT_HEADER_BYTES, FRAME_HEADER_BYTES, PROTOCOL_VERSION } from '../stream/frame-message.js';
import { SERVER_VERSION } from './openapi.js';
import { SCHEMAS } from './schemas.js';

const schema = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const message = (ref: string) => ({ $ref: `#/components/messages/${ref}` });
const inChannel = (name: string) => ({ $ref: `#/channels/stream/messages/${name}` });

const FRAME_LAYOUT = `big-endian: 0 "ADPC", 4 u8 version (${PROTOCOL_VERSION}), 5 u8 format (0 encoded JPEG/PNG/WebP, 1 raw RGB, 2 raw RGBA), ` +
  '6 u16 flags (0), 8 u32 frame id, 12 u16 width, 14 u16 height (raw formats; 0 otherwise), 16 u16 L, ' +
  `${FRAME_HEADER_BYTES} L bytes of frame JSON (x-json; L = 0: the stream's default budget), then the image bytes`;
const EXIT_LAYOUT = `big-endian: 0 "ADPX", 4 u8 version (${PROTOCOL_VERSION}), 5 u8 reserved (0), 6 u32 J, ${EXIT_HEADER_BYTES} J bytes of ` +
  'metadata JSON (x-json), then the label map (labels.bytes long), then the confidence (uint8, 255 = 1.0) when sent';

const closeCodes = ERROR_CODES.filter((c) => ERROR_CATALOGUE[c].stream === 'close')
  .map((c) => `${(ERROR_CATALOGUE[c] as ErrorSpec).closeCode} ${c}`).join(', ');

export const ASYNCAPI = Object.freeze({
  asyncapi: '3.0.0',
  info: {
    title: 'adpc-edge stream protocol',
    version: SERVER_VERSION,
    description: `WS /v1/stream, protocol version ${PROTOCOL_VERSION}: a camera sends frames, the server answers each with one message per exit, ` +
      `coarse to fine, and exactly one final answer (the last exit, a dropped or stopped notice, or an error). Latest frame wins. ` +
      `Closes: ${closeCodes}, 1001 DRAINING, 1007 text that is not UTF-8. The HTTP API is described by /v1/openapi.json.`,
  },
  defaultContentType: 'application/json',
  servers: {
    local: {
      host: 'localhost:8080', protocol: 'ws', description: 'npm start',
      security: [{ $ref: '#/components/securitySchemes/bearer' }, { $ref: '#/components/securitySchemes/accessToken' }],
    },
  },
  channels: {
    stream: {
      address: '/v1/stream',
      messages: {
        frame: message('Frame'),
        config: message('Config'),
        hello: message('Hello'),
        configReply: message('ConfigReply'),
        exit: message('Exit'),
        dropped: message('Dropped'),
        stopped: message('Stopped'),
        error: message('Error'),
      },
      bindings: {
        ws: {
          method: 'GET',
          query: { type: 'object', properties: { access_token: { type: 'string', description: 'the token, where a client cannot set headers' } } },
          headers: { type: 'object', properties: { 'X-Request-Id': { type: 'string', maxLength: 128 }, Authorization: { type: 'string' } } },
          bindingVersion: '0.1.0',
        },
      },
    },
  },
  operations: {
    receiveFrame: { action: 'receive', channel: { $ref: '#/channels/stream' }, summary: 'a frame to segment', messages: [inChannel('frame')] },
    receiveConfig: { action: 'receive', channel: { $ref: '#/channels/stream' }, summary: "the stream's options", messages: [inChannel('config')] },
    sendHello: { action: 'send', channel: { $ref: '#/channels/stream' }, summary: 'on connect', messages: [inChannel('hello')] },
    sendConfigReply: { action: 'send', channel: { $ref: '#/channels/stream' }, summary: 'the answer to a config message', messages: [inChannel('configReply')] },
    sendExit: { action: 'send', channel: { $ref: '#/channels/stream' }, summary: 'one exit of a frame', messages: [inChannel('exit')] },
    sendNotice: {
      action: 'send', channel: { $ref: '#/channels/stream' }, summary: "a frame's final answer when no (more) exits come, or an error",
      messages: [inChannel('dropped'), inChannel('stopped'), inChannel('error')],
    },
  },
  components: {
    messages: {
      Frame: {
        name: 'frame', title: 'A frame (binary)', contentType: 'application/octet-stream', summary: FRAME_LAYOUT,
        payload: { type: 'string', format: 'binary' }, 'x-json': schema('FrameJson'),
      },
      Config: { name: 'config', title: 'Stream options (text)', payload: schema('ConfigRequest') },
      Hello: { name: 'hello', title: 'Hello (text)', payload: schema('Hello') },
      ConfigReply: { name: 'configReply', title: 'Settings in force (text)', payload: schema('ConfigReply') },
      Exit: {
        name: 'exit', title: 'An exit (binary)', contentType: 'application/octet-stream', summary: EXIT_LAYOUT,
        payload: { type: 'string', format: 'binary' }, 'x-json': schema('ExitMetadata'),
      },
      Dropped: { name: 'dropped', title: 'Dropped (text)', payload: schema('Dropped') },
      Stopped: { name: 'stopped', title: 'Stopped (text)', payload: schema('Stopped') },
      Error: { name: 'error', title: 'Error (text)', payload: schema('StreamError') },
    },
    schemas: SCHEMAS,
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <ADPC_TOKEN> on the upgrade' },
      accessToken: { type: 'httpApiKey', name: 'access_token', in: 'query', description: 'the token as ?access_token=' },
    },
  },
});
