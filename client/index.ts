// adpc-edge/client: a Node client of the stream protocol (docs/PROTOCOL.md).
export { AdpcClientError, AdpcStreamClient, FrameAnswers } from './stream-client.js';
export type { ClientEvent, ClientOptions, ExitAnswer, FrameImage, FrameOutcome, ReconnectPolicy } from './stream-client.js';
export type * from './messages.js';
