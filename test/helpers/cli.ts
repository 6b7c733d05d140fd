import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const GUIJI_BIN = resolve(import.meta.dirname, '../../bin/guiji.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves when stderr has carried `count` log lines whose msg is `message`. */
  waitForLog(message: string, count?: number): Promise<void>;
  done: Promise<CliResult>;
}

/** Starts `guiji …` as its own process, as an ops engineer would. */
export function startCli(args: string[], env: Record<string, string>, stdin?: string): CliProcess {
  const child = spawn(
    process.execPath,
    ['--max-old-space-size=300', '--initial-old-space-size=128', GUIJI_BIN, ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  const waiters: { message: string; count: number; resolve: () => void }[] = [];
  const seen = new Map<string, number>();
  let buffer = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    const text = d.toString();
    stderr += text;
    buffer += text;
    let nl = buffer.indexOf('\n');
    while (nl !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      try {
        const msg = (JSON.parse(line) as { msg?: string }).msg;
        if (!msg) continue;
        const n = (seen.get(msg) ?? 0) + 1;
        seen.set(msg, n);
        for (const w of waiters.filter((w) => w.message === msg && n >= w.count)) w.resolve();
      } catch {
        // not a log line
      }
    }
  });
  if (stdin !== undefined) child.stdin?.end(stdin);
  else child.stdin?.end();
  const done = new Promise<CliResult>((resolveDone) => {
    child.on('close', (code, signal) => resolveDone({ code, signal, stdout, stderr }));
  });
  return {
    child,
    done,
    waitForLog: (message, count = 1) =>
      new Promise<void>((resolveWait, reject) => {
        if ((seen.get(message) ?? 0) >= count) return resolveWait();
        waiters.push({ message, count, resolve: resolveWait });
        void done.then((r) =>
          reject(
            new Error(
              `guiji exited (${r.code ?? r.signal}) before "${message}" ×${count}\n${r.stderr.slice(-2000)}`,
            ),
          ),
        );
      }),
  };
}

export function runCli(args: string[], env: Record<string, string>, stdin?: string): Promise<CliResult> {
  return startCli(args, env, stdin).done;
}
