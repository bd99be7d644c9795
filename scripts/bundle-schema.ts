// npm run bundle:schema: writes docs/bundle.schema.json, the JSON Schema of manifest.json
// generated from the engine's zod schema (pytest checks every export against it).
import { writeFile } from 'node:fs/promises';
import { manifestJsonSchema } from '../src/bundle/manifest.js';

export const SCHEMA_PATH = new URL('../docs/bundle.schema.json', import.meta.url);

export function schemaText(): string {
  return JSON.stringify(manifestJsonSchema(), null, 1) + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeFile(SCHEMA_PATH, schemaText());
  console.log(`wrote ${SCHEMA_PATH.pathname}`);
}
