// adpc-edge/client for plain Node: the package ships TypeScript without a build step, so this
// entry loads the client through tsx's scoped loader (the process's own imports stay untouched).
import { tsImport } from 'tsx/esm/api';

const client = await tsImport('./index.ts', import.meta.url);

// the values index.ts exports (its types come through the `types` condition)
export const { AdpcClientError, AdpcStreamClient, FrameAnswers } = client;
