// The container images without Docker (none runs here): every path they copy exists and is
// sent to the builder, node is the signalled process, the healthcheck works against a real
// server, and the files the runtime stage holds are enough to start the server and load the
// default bundle.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, sep } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../../server/node-flags.js';
import { repoRoot } from '../helpers/python.js';
import { startTestServer } from '../helpers/server.js';
import { copies, envOf, execForm, isIgnored, parseDockerignore, readDockerfile, type Instruction } from './dockerfile.js';
import { startServerProcess } from './server-process.js';

const DOCKERFILES = ['Dockerfile', 'Dockerfile.jetson'] as const;
const rules = parseDockerignore(readFileSync(join(repoRoot, '.dockerignore'), 'utf8'));

/** Files under a context path (itself, if a file), relative to the context and `/`-separated. */
function filesUnder(path: string): string[] {
  const full = join(repoRoot, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(repoRoot, join(e.parentPath, e.name)).split(sep).join('/'));
}

function sentFiles(path: string): string[] {
  return filesUnder(path).filter((f) => !isIgnored(f, rules));
}

function only(instructions: readonly Instruction[], keyword: string, stage: string): Instruction {
  const found = instructions.filter((i) => i.keyword === keyword && i.stage === stage);
  expect(found, `${keyword} in stage ${stage}`).toHaveLength(1);
  return found[0]!;
}

function healthcheckCommand(instructions: readonly Instruction[]): string[] {
  const hc = only(instructions, 'HEALTHCHECK', 'runtime');
  const command = execForm(hc.args);
  expect(command, 'HEALTHCHECK in exec form').not.toBeNull();
  return command!;
}

describe.each(DOCKERFILES)('%s', (name) => {
  const instructions = readDockerfile(repoRoot, name);

  it('copies from the build context only paths that exist and that .dockerignore sends', () => {
    const fromContext = copies(instructions).filter((c) => c.from === null);
    expect(fromContext.length).toBeGreaterThan(5);
    for (const copy of fromContext) {
      for (const source of copy.sources) {
        const path = source.replace(/\/+$/, '');
        expect(existsSync(join(repoRoot, path)), `${name}: COPY ${source} exists`).toBe(true);
        expect(isIgnored(path, rules), `${name}: ${source} is sent to the builder`).toBe(false);
        expect(sentFiles(path).length, `${name}: ${source} sends files`).toBeGreaterThan(0);
      }
    }
  });

  it('runs node under an init as a non-root user, with the healthcheck, port and stop signal', () => {
    expect(execForm(only(instructions, 'ENTRYPOINT', 'runtime').args)).toEqual(['/usr/bin/tini', '--']);
    const cmd = execForm(only(instructions, 'CMD', 'runtime').args);
    expect(cmd).toEqual(['node', ...SERVER_NODE_FLAGS, '--import', 'tsx', 'server/main.ts']);
    expect(only(instructions, 'STOPSIGNAL', 'runtime').args).toBe('SIGTERM');
    const user = only(instructions, 'USER', 'runtime').args.split(':')[0]!;
    expect(Number(user)).toBeGreaterThan(0);
    const env = envOf(instructions, 'runtime');
    expect(only(instructions, 'EXPOSE', 'runtime').args).toBe(env.PORT);
    expect(env.HOST).toBe('0.0.0.0');
    expect(healthcheckCommand(instructions)[0]).toBe('node');
    // the runtime stage takes the native addon the build stage made
    expect(copies(instructions).some((c) => c.from === 'build' && c.sources.includes('/app/native/build/Release/adpc_native.node'))).toBe(true);
  });
});

describe('npm start', () => {
  it('starts node with the flags the images give it', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(['exec node', ...SERVER_NODE_FLAGS, '--import tsx server/main.ts'].join(' '));
  });
});

describe('.dockerignore', () => {
  it('lets through only what some image copies (no stale exceptions)', () => {
    const copied = DOCKERFILES.flatMap((f) => copies(readDockerfile(repoRoot, f)).filter((c) => c.from === null).flatMap((c) => c.sources.map((s) => s.replace(/\/+$/, ''))));
    for (const rule of rules.filter((r) => r.negate)) expect(copied, `!${rule.pattern}`).toContain(rule.pattern);
    // and keeps out what serving does not need
    expect(isIgnored('models/default/reference/image.bin', rules)).toBe(true);
    expect(isIgnored('models/checkpoints/default/model.pt', rules)).toBe(true);
    expect(isIgnored('node_modules/onnxruntime-node/package.json', rules)).toBe(true);
    expect(isIgnored('test/deploy/images.test.ts', rules)).toBe(true);
  });
});

describe('the healthcheck command', () => {
  const command = healthcheckCommand(readDockerfile(repoRoot, 'Dockerfile'));
  for (const other of DOCKERFILES) expect(healthcheckCommand(readDockerfile(repoRoot, other))).toEqual(command);

  // asynchronously: the server under test answers from this process's event loop
  async function run(port: number): Promise<number | null> {
    const child = spawn(command[0]!, command.slice(1), { cwd: repoRoot, env: { ...process.env, PORT: String(port) }, stdio: 'ignore', timeout: 20_000 });
    const [code] = await once(child, 'exit') as [number | null];
    return code;
  }

  it('passes against a live server, and fails on a closed port and on a 503', async () => {
    const live = await startTestServer(null);
    try {
      expect(await run(Number(new URL(live.http).port))).toBe(0);
    } finally {
      live.adpc.server.close();
      await once(live.adpc.server, 'close');
    }
    expect(await run(Number(new URL(live.http).port))).toBe(1);
    const failing = createServer((_req, res) => res.writeHead(503).end());
    failing.listen(0, '127.0.0.1');
    await once(failing, 'listening');
    try {
      expect(await run((failing.address() as AddressInfo).port)).toBe(1);
    } finally {
      failing.close();
    }
  });
});

describe('the runtime stage', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it.each(DOCKERFILES)('%s: the files it holds start the server with the default bundle', async (name) => {
    const instructions = readDockerfile(repoRoot, name);
    const image = mkdtempSync(join(tmpdir(), 'adpc-image-'));
    dirs.push(image);
    const workdir = only(instructions, 'WORKDIR', 'runtime').args;
    for (const copy of copies(instructions).filter((c) => c.stage === 'runtime')) {
      // COPY dir dest puts the folder's contents in dest; COPY file dest/ puts the file inside
      const destDir = posix.relative(workdir, posix.resolve(workdir, copy.dest));
      const fileTarget = (file: string) => join(image, copy.dest.endsWith('/') ? posix.join(destDir, posix.basename(file)) : destDir);
      if (copy.from === null) {
        for (const source of copy.sources) {
          const path = source.replace(/\/+$/, '');
          const isDir = statSync(join(repoRoot, path)).isDirectory();
          for (const file of sentFiles(path)) {
            const target = isDir ? join(image, destDir, file.slice(path.length + 1)) : fileTarget(file);
            mkdirSync(dirname(target), { recursive: true });
            cpSync(join(repoRoot, file), target);
          }
        }
      } else if (copy.from === 'build') {
        // what the build stage made, taken from this checkout's npm ci
        for (const source of copy.sources) {
          const path = posix.relative(workdir, source);
          const target = path === 'node_modules' ? join(image, destDir) : fileTarget(path);
          mkdirSync(dirname(target), { recursive: true });
          if (path === 'node_modules') symlinkSync(join(repoRoot, 'node_modules'), target, 'dir');
          else if (existsSync(join(repoRoot, path))) cpSync(join(repoRoot, path), target);
        }
      }
    }
    expect(existsSync(join(image, 'server', 'main.ts'))).toBe(true);
    expect(existsSync(join(image, 'models', 'default', 'reference'))).toBe(false);
    const cmd = execForm(only(instructions, 'CMD', 'runtime').args)!;
    const env = { ...process.env, ...envOf(instructions, 'runtime'), PORT: '0', HOST: '127.0.0.1', ADPC_THREADS: '1' };
    const server = await startServerProcess(cmd, { cwd: image, env });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const models = await (await fetch(`${server.url}/v1/models`)).json() as { models: { name: string; native: { isa?: string } }[] };
      expect(models.models[0]!.name).toBe('default');
      if (existsSync(join(repoRoot, 'native', 'build', 'Release', 'adpc_native.node'))) expect(models.models[0]!.native.isa).toBeTruthy();
      // the demo page builds from what the image holds
      const page = await fetch(`${server.url}/`);
      expect(page.status).toBe(200);
      const script = /src="(\/demo\/app-[0-9a-f]+\.js)"/.exec(await page.text())![1]!;
      expect((await fetch(`${server.url}${script}`)).status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect((await server.exited).code).toBe(0);
  }, 90_000);
});
