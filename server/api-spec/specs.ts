// The API descriptions the server serves, by path.
import { ASYNCAPI } from './asyncapi.js';
import { OPENAPI } from './openapi.js';

export const API_SPECS: Readonly<Record<string, unknown>> = Object.freeze({
  '/v1/openapi.json': OPENAPI,
  '/v1/asyncapi.json': ASYNCAPI,
});
