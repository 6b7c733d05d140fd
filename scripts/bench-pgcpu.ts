/**
 * CPU seconds the PostgreSQL server spends while a bench scenario runs, read from /proc (Linux, server on this
 * machine): the backends serving the bench database, its autovacuum workers, and the server's own writers
 * (WAL writer, checkpointer, background writer). With the pipeline's CPU time beside it, this tells which side
 * a scenario waits for — the client's statement timings cannot, since a busy event loop delays them too.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface PgCpu {
  backendsS: number;
  autovacuumS: number;
  writersS: number;
}

type Kind = keyof PgCpu;

/** utime + stime of a process, in clock ticks; null when it is gone. */
function ticks(pid: string): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

function classify(cmdline: string, database: string): Kind | null {
  if (!cmdline.startsWith('postgres: ')) return null;
  if (cmdline.includes('autovacuum worker')) return cmdline.includes(` ${database}`) ? 'autovacuumS' : null;
  if (/walwriter|checkpointer|background writer/.test(cmdline)) return 'writersS';
  // a backend: "postgres: 15/main: <user> <database> <host>(<port>) <state>"
  return cmdline.split(' ').includes(database) ? 'backendsS' : null;
}

export interface PgCpuSampler {
  stop(): PgCpu;
}

/** Starts sampling; `stop()` returns the CPU seconds used since. Returns null where /proc is not available. */
export function samplePgCpu(database: string, intervalMs = 100, ticksPerSecond = 100): PgCpuSampler | null {
  if (!existsSync('/proc/self/stat')) return null;
  const skip = new Set<string>();
  const watched = new Map<string, { kind: Kind; first: number; last: number }>();
  let started = false;
  const scan = () => {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid) || skip.has(pid)) continue;
      const known = watched.get(pid);
      if (known) {
        const t = ticks(pid);
        if (t !== null) known.last = t;
        continue;
      }
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\u0000', ' ').trim();
      } catch {
        continue;
      }
      const kind = classify(cmdline, database);
      if (!kind) {
        if (!cmdline.startsWith('postgres')) skip.add(pid);
        continue;
      }
      const t = ticks(pid);
      if (t === null) continue;
      // a process there before the scenario counts from now; one started during it, from its start
      watched.set(pid, { kind, first: started ? 0 : t, last: t });
    }
  };
  scan();
  started = true;
  const timer = setInterval(scan, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      scan();
      const cpu: PgCpu = { backendsS: 0, autovacuumS: 0, writersS: 0 };
      for (const p of watched.values()) cpu[p.kind] += (p.last - p.first) / ticksPerSecond;
      return cpu;
    },
  };
}

/**
 * The share of this machine's CPU time the hypervisor gave to other guests ("steal", /proc/stat) between two
 * readings: on a shared virtual machine the same scenario runs a quarter slower or more while neighbours
 * are busy, so each figure is printed with the steal seen during it.
 */
export interface StealMeter {
  /** Steal as a share (0–1) of all CPU time since the meter started; null where /proc/stat is missing. */
  stop(): number | null;
}

function cpuTimes(): { total: number; steal: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, steal: fields[7] ?? 0 };
  } catch {
    return null;
  }
}

export function meterSteal(): StealMeter {
  const start = cpuTimes();
  return {
    stop() {
      const end = cpuTimes();
      if (!start || !end || end.total <= start.total) return null;
      return (end.steal - start.steal) / (end.total - start.total);
    },
  };
}
