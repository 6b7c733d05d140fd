/**
 * Loaded into a `guiji` child process with `NODE_OPTIONS=--import=<this file>` (test/helpers/hold.ts): stops
 * the process at a known point of its work on the warehouse, so that a test kills it or watches it there
 * instead of hoping a timer lands in the right place. It sees every statement the process sends through `pg`
 * (PostgreSQL, or the embedded warehouse served on its socket).
 *
 * GUIJI_TEST_HOLD = `<point>:<n>`, where point is
 *   query       before the n-th statement sent
 *   create      before the n-th CREATE TABLE (migrations under way)
 *   after-copy  before the first statement after the n-th COPY (a load transaction open, its rows staged)
 *   load-commit once the n-th COMMIT of a transaction that held a COPY is done (a load transaction committed)
 * GUIJI_TEST_HOLD_MODE = `block` (the process freezes, event loop and all: to be killed) or `wait` (its
 * statements wait, everything else — the served socket — goes on, until SIGUSR2).
 * On reaching the point it writes the log line {"msg":"test hold reached"} on stderr. In `wait` mode hold only at
 * points outside a transaction (query, create, load-commit): a COPY held there would get a promise, not its
 * stream, and a transaction held open keeps every other client of a served warehouse waiting.
 */
import { writeSync } from 'node:fs';
import pg from 'pg';

const [point, count] = (process.env.GUIJI_TEST_HOLD ?? '').split(':');
const n = Number(count);
const mode = process.env.GUIJI_TEST_HOLD_MODE === 'wait' ? 'wait' : 'block';
let seen = 0;
let copies = 0;
let copyInTransaction = false;
let armed = false;
/** While the hold lasts in `wait` mode: what every statement waits for. */
let paused = null;

function reached() {
  writeSync(2, `${JSON.stringify({ level: 30, time: Date.now(), msg: 'test hold reached', point, n })}\n`);
  if (mode === 'block') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  else {
    paused = new Promise((resolve) => process.once('SIGUSR2', resolve)).then(() => {
      paused = null;
    });
  }
}

const original = pg.Client.prototype.query;
pg.Client.prototype.query = function held(config, values, callback) {
  const text = (typeof config === 'string' ? config : (config?.text ?? '')).trim();
  if (point && !Number.isNaN(n)) {
    if (armed) {
      armed = false;
      reached();
    } else if (point === 'query' && ++seen === n) reached();
    else if (point === 'create' && /^CREATE TABLE/i.test(text) && ++seen === n) reached();
  }
  if (/^BEGIN/i.test(text)) copyInTransaction = false;
  if (/^COPY/i.test(text)) {
    copyInTransaction = true;
    if (point === 'after-copy' && ++copies === n) armed = true;
  }
  const loadCommit = /^COMMIT/i.test(text) && copyInTransaction;
  if (paused) {
    const later = paused.then(() => original.call(this, config, values, callback));
    return typeof values === 'function' || typeof callback === 'function' ? undefined : later;
  }
  const result = original.call(this, config, values, callback);
  if (loadCommit && point === 'load-commit' && ++seen === n) {
    if (result && typeof result.then === 'function') result.then(reached, () => {});
    else setImmediate(reached);
  }
  return result;
};
