/**
 * A process that races for a lock (test/lock-file.test.ts): says `ready`, waits for `go` on stdin, tries the
 * lock once and says `won` or `held`, then keeps what it won until its stdin closes.
 */
import { createInterface } from 'node:readline';
import { tryLock } from '../../lib/lock-file.js';

const path = process.argv[2] as string;
const lines = createInterface({ input: process.stdin });
let release: (() => void) | null = null;
process.stdout.write('ready\n');
for await (const line of lines) {
  if (line === 'go') {
    const attempt = tryLock(path, 'racer');
    if ('release' in attempt) {
      release = attempt.release;
      process.stdout.write(`won ${process.pid}\n`);
    } else process.stdout.write(`held ${attempt.holder.pid}\n`);
  }
}
release?.();
