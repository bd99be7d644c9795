// The one error catalogue and the docs agree: README.md lists every code with its HTTP status
// and stream behaviour, docs/PROTOCOL.md every code a stream reports, nothing more or less.
// The README's configuration table lists exactly the server's settings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_NAMES } from '../server/config.js';
import { ERROR_CATALOGUE, type ErrorSpec } from '../src/errors.js';
import { repoRoot } from './helpers/python.js';

const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');

/** Rows of the markdown table whose header line is `header`, as trimmed cells. */
function table(text: string, header: string): string[][] {
  const lines = text.split('\n');
  const start = lines.indexOf(header);
  expect(start, `table "${header}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

function streamColumn(spec: ErrorSpec): string {
  if (spec.stream === 'message') return 'error message';
  if (spec.stream === 'close') return `close ${spec.closeCode}`;
  if (spec.stream === 'terminate') return 'socket dropped';
  return '—';
}

const catalogue = Object.entries(ERROR_CATALOGUE) as [string, ErrorSpec][];

describe('error catalogue', () => {
  it('README documents exactly its codes, each with its HTTP status and stream behaviour', () => {
    const rows = table(read('README.md'), '| code | HTTP | on a stream | condition |');
    const documented = rows.map(([code, http, stream]) => [code!.replace(/`/g, ''), http, stream]);
    const expected = catalogue.map(([code, spec]) => [code, spec.status === null ? '—' : String(spec.status), streamColumn(spec)]);
    expect(documented).toEqual(expected);
  });

  it('docs/PROTOCOL.md documents exactly the codes a stream reports', () => {
    const rows = table(read('docs/PROTOCOL.md'), '| code | on a stream | condition |');
    const documented = new Map(rows.map(([code, stream]) => [code!.replace(/`/g, ''), stream]));
    const expected = new Map(catalogue.filter(([, spec]) => spec.stream !== null).map(([code, spec]) => [code, streamColumn(spec)]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(expected));
  });
});

describe('configuration table', () => {
  it('README lists every setting with its variable and flag', () => {
    const rows = table(read('README.md'), '| variable | flag | default | meaning |');
    const flag = (key: string) => `\`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}\``;
    expect(rows.map(([variable, f]) => [variable, f])).toEqual(Object.entries(ENV_NAMES).map(([key, name]) => [`\`${name}\``, flag(key)]));
  });
});
