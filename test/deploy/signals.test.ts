// The container's stop, without a container: the image's command started as PID 1 of a new
// PID namespace (as Docker and Kubernetes start it), SIGTERM sent from outside to that PID 1.
// The kernel delivers no signal to a namespace's init that it has no handler for, so this
// fails if node does not handle SIGTERM itself, or if the init does not pass it on. A stream's
// running frame must still finish, the socket must close with 1001, and the process must exit
// 0 within the drain bound the Deployment allows for.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeExitMessage, encodeFrameMessage } from '../../server/stream/frame-message.js';
import { generateScene } from '../../src/synth/generate.js';
import { repoRoot } from '../helpers/python.js';
import { execForm, readDockerfile } from './dockerfile.js';
import { drainBoundMs } from './manifests.js';
import { startServerProcess } from './server-process.js';

const instructions = readDockerfile(repoRoot, 'Dockerfile');
const entrypoint = execForm(instructions.find((i) => i.keyword === 'ENTRYPOINT' && i.stage === 'runtime')!.args)!;
const cmd = execForm(instructions.find((i) => i.keyword === 'CMD' && i.stage === 'runtime')!.args)!;

// A PID namespace needs root, or a user namespace where unprivileged ones are allowed.
const UNSHARE = ['unshare', ...(process.getuid?.() === 0 ? [] : ['--user', '--map-root-user']), '--fork', '--pid', '--mount-proc', '--kill-child'];
const canUnshare = spawnSync(UNSHARE[0]!, [...UNSHARE.slice(1), 'true']).status === 0;

/** The pids whose parent is `pid` (the namespace's init, seen from outside it). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      // pid (comm) state ppid ...; comm may hold spaces, so read after its closing parenthesis
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
    } catch {
      return false;
    }
  }).map(Number);
}

async function stopAsAContainerWould(launch: string[], nodePid: number): Promise<void> {
  const server = await startServerProcess([...UNSHARE, ...launch], {
    cwd: repoRoot,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ADPC_THREADS: '1', ADPC_DRAIN_MS: String(drainBoundMs()) },
  });
  try {
    expect(server.loggedPid, 'pid node logged inside the namespace').toBe(nodePid);
    const [init] = childrenOf(server.child.pid!);
    expect(init, 'the namespace has an init').toBeDefined();

    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/stream`);
    const texts: { type: string }[] = [];
    const exits: { exit: number; stop: string | null }[] = [];
    let firstExit!: () => void;
    const gotFirstExit = new Promise<void>((resolve) => (firstExit = resolve));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return void texts.push(JSON.parse(data.toString()) as { type: string });
      exits.push(decodeExitMessage(new Uint8Array(data)).metadata as { exit: number; stop: string | null });
      firstExit();
    });
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    await once(ws, 'open');
    const scene = generateScene(2_000_021, { height: 256, width: 512 });
    ws.send(encodeFrameMessage({ frameId: 7, format: 'rgb', width: 512, height: 256, image: scene.image }));
    await gotFirstExit;

    const sent = performance.now();
    process.kill(init!, 'SIGTERM');
    const [code] = await closed;
    const { code: exitCode, signal } = await server.exited;
    const ms = performance.now() - sent;

    expect(texts.some((t) => t.type === 'hello')).toBe(true);
    expect(code, 'the stream closes as going away').toBe(1001);
    expect(exits.at(-1)?.stop, 'the running frame finished with its final exit').toBeTruthy();
    expect({ exitCode, signal }).toEqual({ exitCode: 0, signal: null });
    expect(ms).toBeLessThan(drainBoundMs());
  } finally {
    server.child.kill('SIGKILL');
  }
}

describe.skipIf(!canUnshare)('SIGTERM to PID 1 of a PID namespace', () => {
  it('node itself as PID 1 (no init): drains and exits 0', async () => {
    await stopAsAContainerWould(cmd, 1);
  }, 60_000);

  it.skipIf(!existsSync(entrypoint[0]!))('the image\'s init (tini) as PID 1 passes SIGTERM to node, which drains and exits 0', async () => {
    await stopAsAContainerWould([...entrypoint, ...cmd], 2);
  }, 60_000);
});

