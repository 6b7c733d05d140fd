import { resolve } from 'node:path';

const HOOK = resolve(import.meta.dirname, 'hold-hook.mjs');

/**
 * The variables that make a `guiji` child stop at a known point (see hold-hook.mjs): `block` freezes it there
 * (to be killed), `wait` holds its statements until it gets SIGUSR2 while it goes on serving the warehouse.
 * The child logs "test hold reached" when it gets there.
 */
export function holdAt(point: string, mode: 'block' | 'wait'): Record<string, string> {
  const inherited = process.env.NODE_OPTIONS ? `${process.env.NODE_OPTIONS} ` : '';
  return {
    NODE_OPTIONS: `${inherited}--import=${HOOK}`,
    GUIJI_TEST_HOLD: point,
    GUIJI_TEST_HOLD_MODE: mode,
  };
}
