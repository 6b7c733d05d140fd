import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  linkSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { LockedError } from './errors.js';

/**
 * Lock files in GUIJI_HOME (the embedded warehouse's, and the run locks of a served warehouse).
 *
 * A lock names its holder by pid AND by the process's start time (field 22 of /proc/<pid>/stat) and the boot
 * it started in: under systemd the pid in a lock left by a process that died is soon another program's (after a
 * reboot, almost surely). A lock whose pid is gone, whose pid is alive but started at another time, or that was
 * written in another boot, is stale and taken over; so is a lock in the old format (a bare pid) whose pid is not
 * a guiji process. Exactly one of several processes racing for a stale lock wins (see `breakStale`).
 */

const MARKER = 'guiji-lock';

/** What a lock file holds (JSON, written whole before it becomes the lock). */
export interface LockRecord {
  guiji: typeof MARKER;
  pid: number;
  /** The holder's start time in clock ticks since boot; null where /proc is not there. */
  start: string | null;
  /** /proc/sys/kernel/random/boot_id of the boot the holder started in; null where there is none. */
  boot: string | null;
  host: string;
  /** The command that holds it (`run`, `schedule`…), for the message of the one that finds it held. */
  command: string;
  at: string;
  /** Tells this lock from any other, even one at the same inode after a takeover. */
  nonce: string;
}

/** Lock files this process holds, by path. */
const held = new Map<string, string>();

/** `field 22` of /proc/<pid>/stat: when the process started, in clock ticks since boot; null without /proc. */
export function processStart(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // the command name (field 2) is in parentheses and may hold spaces and parentheses itself
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): field 22 is fields[19]
  return fields[19] ?? null;
}

let bootId: string | null | undefined;
function currentBoot(): string | null {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootId = null;
    }
  }
  return bootId;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process of ours, judged by its command line (only for a lock in the old bare-pid format). */
function looksLikeGuiji(pid: number): boolean {
  try {
    return /guiji|bin[/\\]cli\.ts/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    // no /proc: a live pid is all we can tell
    return process.platform !== 'linux';
  }
}

function parse(text: string): LockRecord | { legacyPid: number } | null {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { legacyPid: Number(trimmed) };
  try {
    const record = JSON.parse(trimmed) as Partial<LockRecord>;
    if (record.guiji !== MARKER || typeof record.pid !== 'number' || typeof record.nonce !== 'string')
      return null;
    return record as LockRecord;
  } catch {
    return null;
  }
}

/**
 * Whether the lock `text` still belongs to a live process: a record of a process that is gone, or whose pid is
 * now another process's, is not. Something unreadable (not ours) is stale too: it guards nothing.
 */
function liveHolder(path: string, text: string): LockRecord | null {
  const record = parse(text);
  if (!record) return null;
  if ('legacyPid' in record) {
    const pid = record.legacyPid;
    if (!pid || pid === process.pid || !isAlive(pid) || !looksLikeGuiji(pid)) return null;
    return {
      guiji: MARKER,
      pid,
      start: null,
      boot: null,
      host: hostname(),
      command: 'guiji',
      at: '',
      nonce: text,
    };
  }
  // The host is not asked: a container gets a new host name at each start, and a lock that outlived its host
  // name would block for ever. (A PGlite directory shared by two machines is not supported anyway.)
  if (record.pid === process.pid) return held.get(path) === record.nonce ? record : null;
  const boot = currentBoot();
  if (record.boot && boot && record.boot !== boot) return null;
  if (!isAlive(record.pid)) return null;
  // the pid is another process's now, or (no /proc entry any more) it has just exited
  if (record.start && processStart(record.pid) !== record.start) return null;
  return record;
}

function readLock(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Removes the stale lock whose text is `text`, unless another process removed or replaced it meanwhile. Of
 * several processes that judged one lock stale, exactly one removes it: each first hard-links the lock to a
 * name made of the stale lock's identity, which only one of them can create; the one that did checks that the
 * file it linked is still that lock (not a fresh one another process wrote meanwhile) before unlinking it.
 */
function breakStale(path: string, text: string): void {
  const identity = createHashName(text);
  const claim = `${path}.stale-${identity}`;
  try {
    linkSync(path, claim);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOENT: gone already; EEXIST: another process is breaking it
    if (code === 'ENOENT' || code === 'EEXIST') return;
    throw error;
  }
  try {
    if (readLock(claim) === text && sameFile(claim, path)) unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  } finally {
    unlinkSync(claim);
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

function createHashName(text: string): string {
  // the lock's own nonce where it has one; else its text, made safe as a file name
  const record = parse(text);
  const source = record && 'nonce' in record ? record.nonce : text;
  return Buffer.from(source).toString('base64url').slice(0, 64);
}

export type LockAttempt = { release: () => void } | { holder: LockRecord };

/**
 * Takes the lock at `path` unless a live process holds it (this one included). The record is written to a
 * file of its own first (O_EXCL, mode 0600) and becomes the lock by a hard link, so that the lock file is
 * never seen half-written and two processes creating it at once cannot both succeed.
 */
export function tryLock(path: string, command = process.argv[2] ?? 'guiji'): LockAttempt {
  for (let attempt = 0; attempt < 10; attempt++) {
    const record: LockRecord = {
      guiji: MARKER,
      pid: process.pid,
      start: processStart(process.pid),
      boot: currentBoot(),
      host: hostname(),
      command,
      at: new Date().toISOString(),
      nonce: randomBytes(12).toString('base64url'),
    };
    const text = JSON.stringify(record);
    const temp = `${path}.${process.pid}.${record.nonce}`;
    const fd = openSync(temp, 'wx', 0o600);
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, path);
      held.set(path, record.nonce);
      return { release: () => release(path, record.nonce) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(temp);
    }
    const existing = readLock(path);
    if (existing === null) continue;
    const holder = liveHolder(path, existing);
    if (holder) return { holder };
    breakStale(path, existing);
  }
  throw new LockedError(`could not take the lock ${basename(path)}: it keeps changing hands`);
}

/** Removes the lock if it is still ours (a lock taken over from us is the new holder's). */
function release(path: string, nonce: string): void {
  if (held.get(path) !== nonce) return;
  held.delete(path);
  const text = readLock(path);
  const record = text === null ? null : parse(text);
  if (record && 'nonce' in record && record.nonce === nonce) unlinkSync(path);
}

/** The live holder of the lock at `path`, or null when nobody (alive) holds it. */
export function lockHolder(path: string): LockRecord | null {
  const text = readLock(path);
  return text === null ? null : liveHolder(path, text);
}

/** Who holds a lock, for a message: "guiji run (pid 123, since …)". */
export function describeHolder(holder: LockRecord): string {
  const since = holder.at ? `, since ${holder.at}` : '';
  const host = holder.host === hostname() ? '' : ` on ${holder.host}`;
  return `guiji ${holder.command} (pid ${holder.pid}${host}${since})`;
}
