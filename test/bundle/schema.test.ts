// docs/bundle.schema.json is the engine's manifest schema, regenerated (pytest validates
// every export against that file, so the two sides cannot drift apart silently).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readManifest } from '../../src/bundle/manifest.js';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { SCHEMA_PATH, schemaText } from '../../scripts/bundle-schema.js';

describe('bundle manifest schema', () => {
  it('docs/bundle.schema.json is up to date (npm run bundle:schema)', () => {
    expect(readFileSync(SCHEMA_PATH, 'utf8')).toBe(schemaText());
  });

  it('refuses fields it does not know instead of dropping them', async () => {
    const manifest = JSON.parse(readFileSync(`${DEFAULT_BUNDLE}/manifest.json`, 'utf8'));
    expect((await readManifest(DEFAULT_BUNDLE)).name).toBe(manifest.name);
    const schema = JSON.parse(schemaText());
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.stages.items.additionalProperties).toBe(false);
  });
});
