// Just enough of the Dockerfile and .dockerignore grammars to check our own images: line
// continuations, comments, stages, JSON (exec) forms, COPY flags; ignore rules with `!`
// exceptions where the last matching rule wins and a rule on a folder covers what it holds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** The stage (FROM ... AS name, or its index) the instruction belongs to. */
  readonly stage: string;
}

export function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && current === '')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  if (current.trim()) logical.push(current);
  const instructions: Instruction[] = [];
  let stage = '';
  let stages = 0;
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/s.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') stage = /\sAS\s+(\S+)\s*$/i.exec(args)?.[1] ?? String(stages++);
    instructions.push({ keyword: upper, args: args.trim(), stage });
  }
  return instructions;
}

export function readDockerfile(root: string, name: string): Instruction[] {
  return parseDockerfile(readFileSync(join(root, name), 'utf8'));
}

/** The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD, or null for the shell form. */
export function execForm(args: string): string[] | null {
  const json = args.replace(/^(--\S+\s+)*(CMD\s+)?/i, '');
  if (!json.startsWith('[')) return null;
  const parsed: unknown = JSON.parse(json);
  return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : null;
}

export interface Copy {
  readonly from: string | null;
  readonly sources: string[];
  readonly dest: string;
  readonly stage: string;
}

export function copies(instructions: readonly Instruction[]): Copy[] {
  return instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').map((i) => {
    const words = i.args.split(/\s+/);
    let from: string | null = null;
    while (words[0]?.startsWith('--')) {
      const flag = words.shift()!;
      if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
    }
    const dest = words.pop()!;
    return { from, sources: words, dest, stage: i.stage };
  });
}

/** ENV key=value pairs of one stage. */
export function envOf(instructions: readonly Instruction[], stage: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructions.filter((x) => x.keyword === 'ENV' && x.stage === stage)) {
    for (const pair of i.args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

export interface IgnoreRule {
  readonly pattern: string;
  readonly negate: boolean;
  readonly re: RegExp;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((line) => {
    const negate = line.startsWith('!');
    const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
    const body = pattern.split(/(\*\*|\*|\?)/).map((part) =>
      part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('');
    return { pattern, negate, re: new RegExp(`^${body}$`) };
  });
}

/** Whether the builder is not sent this path (relative to the context, `/`-separated). */
export function isIgnored(path: string, rules: readonly IgnoreRule[]): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((p) => rule.re.test(p))) ignored = !rule.negate;
  }
  return ignored;
}
