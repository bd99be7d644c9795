// The Kubernetes manifests under deploy/, parsed (the `yaml` package), and the few facts
// other tests take from them.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../helpers/python.js';

export const DEPLOY_DIR = join(repoRoot, 'deploy');

export interface Manifest {
  /** Relative to deploy/, `/`-separated. */
  readonly file: string;
  readonly doc: any;
}

export function yamlFiles(): string[] {
  return readdirSync(DEPLOY_DIR, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => relative(DEPLOY_DIR, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/** Every document of every YAML file; a syntax error throws, naming the file. */
export function loadManifests(): Manifest[] {
  return yamlFiles().flatMap((file) => parseAllDocuments(readFileSync(join(DEPLOY_DIR, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`deploy/${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as unknown };
  }));
}

export function manifest(kind: string, file?: string): Manifest {
  const found = loadManifests().filter((m) => m.doc?.kind === kind && (file === undefined || m.file === file));
  if (found.length !== 1) throw new Error(`expected one ${kind}${file ? ` in ${file}` : ''}, found ${found.length}`);
  return found[0]!;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export function serverContainer(deployment: any): any {
  return deployment.spec.template.spec.containers.find((c: { name: string }) => c.name === 'adpc-edge');
}

/** The drain bound the Deployment gives the server (ADPC_DRAIN_MS), in milliseconds. */
export function drainBoundMs(): number {
  const env = serverContainer(manifest('Deployment', 'kubernetes/deployment.yaml').doc).env as EnvVar[];
  const value = Number(env.find((e) => e.name === 'ADPC_DRAIN_MS')?.value);
  if (!(value > 0)) throw new Error('deploy/kubernetes/deployment.yaml sets no ADPC_DRAIN_MS');
  return value;
}
