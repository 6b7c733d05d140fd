// The reader thread's entry (read-worker.ts starts it): plain JavaScript, so that the thread starts whether the
// sources run as TypeScript (bin/guiji.js and vitest, through tsx) or compiled. tsx registered in the parent
// thread does not reach a worker on Node 20: it is registered here when the TypeScript sources are what there is.
import { existsSync } from 'node:fs';

if (!existsSync(new URL('./read-worker-thread.js', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import('./read-worker-thread.js');
