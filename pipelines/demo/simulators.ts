import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export interface SimulatorProcess {
  url: string;
  appKey: string;
  appSecret: string;
  stop(): void;
}

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Starts a platform simulator (pipelines/simulate) in a process of its own, as a platform is another machine,
 * on a free port of 127.0.0.1 with fresh demo credentials, and waits for it to say where it listens.
 */
export async function startSimulatorProcess(
  platform: 'credit-platform' | 'sharing-platform',
  records: number,
  seed: number,
): Promise<SimulatorProcess> {
  const prefix = platform === 'credit-platform' ? 'GUIJI_CREDIT' : 'GUIJI_SHARING';
  const appKey = `demo-${platform}`;
  const appSecret = randomBytes(16).toString('hex');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(ROOT, 'bin', 'run-ts.js'),
      join(ROOT, 'pipelines', 'simulate', 'serve.ts'),
      platform,
      '--port',
      '0',
      '--records',
      String(records),
      '--seed',
      String(seed),
      // a month of records, decided in the days before their platform received them (mostly on time)
      '--recent-days',
      '30',
    ],
    {
      env: { ...process.env, [`${prefix}_APP_KEY`]: appKey, [`${prefix}_APP_SECRET`]: appSecret },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`the ${platform} simulator did not start`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => l.includes('"url"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${platform} simulator exited (${code})`));
    });
  });
  return { url, appKey, appSecret, stop: () => child.kill('SIGTERM') };
}
