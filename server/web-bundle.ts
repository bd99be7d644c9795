// The demo page (web/) built for the browser with esbuild, in memory: the page script, the
// worker that paints the synthetic street clips (src/synth, the generator the tests and the
// training use) and the style sheet, each named by its content hash, and index.html naming
// them. Nothing refers to another origin.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export interface WebFile {
  readonly body: Buffer;
  readonly type: string;
  /** Quoted content hash, for ETag. */
  readonly etag: string;
}

export interface WebBundle {
  readonly index: WebFile;
  /** Hashed assets by their URL path (`/demo/app-<hash>.js`). */
  readonly assets: ReadonlyMap<string, WebFile>;
}

/** Where the hashed assets are served. */
export const ASSET_PREFIX = '/demo/';

const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));
const ROOT_DIR = fileURLToPath(new URL('../', import.meta.url));
const CLASSES_FILE = '/models/cityscapes-classes.json';

function hashOf(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

function webFile(body: Buffer, type: string): WebFile {
  return { body, type, etag: `"${hashOf(body)}"` };
}

/**
 * src/classes.ts reads the class list with node:fs when it loads; in the browser that one read
 * is answered from the list inlined at build time, and any other read fails loudly.
 */
function classListFs(classesJson: string): esbuild.Plugin {
  return {
    name: 'class-list-fs',
    setup(build) {
      build.onResolve({ filter: /^node:fs$/ }, () => ({ path: 'node:fs', namespace: 'class-list-fs' }));
      build.onLoad({ filter: /.*/, namespace: 'class-list-fs' }, () => ({
        loader: 'js',
        contents: `export function readFileSync(url) {
          if (String(url).endsWith(${JSON.stringify(CLASSES_FILE)})) return ${JSON.stringify(classesJson)};
          throw new Error('no file system in the browser: ' + String(url));
        }`,
      }));
    },
  };
}

/** Packages the server imports that cannot run in a browser. */
const NODE_ONLY = /^(sharp|onnxruntime-node|pino|express|ws)$/;

/**
 * The project's own modules have no side effects at import (classes.ts's read aside, which the
 * page uses), so what the page does not call is left out: the stream codec comes without the
 * server's frame parsing and the image decoding behind it. Node-only packages are left
 * unresolved; the build fails if the page still imports one.
 */
const projectModulesPure: esbuild.Plugin = {
  name: 'project-modules-pure',
  setup(build) {
    build.onResolve({ filter: NODE_ONLY }, (args) => ({ path: args.path, external: true, sideEffects: false }));
    build.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === 'resolved') return undefined;
      const result = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'resolved' });
      if (result.errors.length > 0 || !result.path.startsWith(ROOT_DIR) || result.path.includes('/node_modules/')) return result;
      return { ...result, sideEffects: false };
    });
  },
};

async function bundle(entry: string, options: esbuild.BuildOptions, plugins: esbuild.Plugin[]): Promise<Buffer> {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    metafile: true,
    plugins,
    ...options,
  });
  const left = Object.values(result.metafile!.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
  if (left.length > 0) throw new Error(`${entry} still imports ${left.join(', ')}, which cannot run in a browser`);
  return Buffer.from(result.outputFiles![0]!.contents);
}

/** Builds the page (about a second on a 2-core machine); throws esbuild's errors when web/ does not build. */
export async function buildWebBundle(): Promise<WebBundle> {
  const classesJson = await readFile(fileURLToPath(new URL(`..${CLASSES_FILE}`, import.meta.url)), 'utf8');
  const plugins = [classListFs(classesJson), projectModulesPure];
  const assets = new Map<string, WebFile>();
  const add = (name: string, ext: string, body: Buffer, type: string): string => {
    const path = `${ASSET_PREFIX}${name}-${hashOf(body)}.${ext}`;
    assets.set(path, webFile(body, type));
    return path;
  };
  const js = 'text/javascript; charset=utf-8';
  const worker = add('synth-worker', 'js', await bundle(`${WEB_DIR}synth-worker.ts`, {}, plugins), js);
  const app = add('app', 'js', await bundle(`${WEB_DIR}main.ts`, { define: { __SYNTH_WORKER_URL__: JSON.stringify(worker) } }, plugins), js);
  const style = add('style', 'css', await bundle(`${WEB_DIR}style.css`, {}, []), 'text/css; charset=utf-8');
  const template = await readFile(`${WEB_DIR}index.html`, 'utf8');
  const html = template.replace('{{style}}', style).replace('{{app}}', app);
  return { index: webFile(Buffer.from(html), 'text/html; charset=utf-8'), assets };
}
