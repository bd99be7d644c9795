// The bundle the CLI, the benchmarks and (later) the server load when none is named.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_BUNDLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'default');
