// The server as a real process, as an image or an orchestrator starts it: its JSON log lines
// read until it says it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** The pid the server logged (its pid inside its PID namespace). */
  readonly loggedPid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly lines: string[];
}

export async function startServerProcess(command: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<ServerProcess> {
  const child = spawn(command[0]!, command.slice(1), { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let port = 0;
  let loggedPid = 0;
  // 'line' events rather than an async iterator: leaving the iterator would pause stdout, and
  // a server blocked on a full log pipe drains nothing
  const ready = new Promise<boolean>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      let entry: { msg?: string; pid?: number; address?: { port: number } };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.address?.port) port = entry.address.port;
      if (entry.pid) loggedPid = entry.pid;
      if (port && entry.msg?.includes('ready')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  if (!(await ready)) {
    const { code, signal } = await exited;
    throw new Error(`the server did not become ready (exit ${code ?? signal}); stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`);
  }
  return { child, url: `http://127.0.0.1:${port}`, loggedPid, exited, lines };
}
