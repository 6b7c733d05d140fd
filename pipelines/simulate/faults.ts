/** The faults both platform simulators inject (network, quota, expiry, drift), and their counters. */

/** Fault rates of a simulator (each a probability per data request). */
export interface FaultSpec {
  /** An HTTP 5xx answer. */
  '5xx': number;
  /** No answer until the client gives up (the socket is held, then destroyed). */
  timeout: number;
  /** A quota answer (code 18). */
  quota: number;
  /** The timestamp / request secret is declared expired (code 11). */
  expire: number;
  /** A record of the dataset is updated (its SJC moves to now) before the page is answered. */
  drift: number;
}

export const NO_FAULTS: FaultSpec = { '5xx': 0, timeout: 0, quota: 0, expire: 0, drift: 0 };

/** Parses `"5xx=0.1,timeout=0.05,quota=0.05,expire=0.02,drift=0.01"`; throws on an unknown fault or bad rate. */
export function parseFaults(spec: string | undefined): FaultSpec {
  const faults: FaultSpec = { ...NO_FAULTS };
  if (!spec) return faults;
  for (const part of spec.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const [name, value] = item.split('=').map((s) => s.trim());
    if (!name || !(name in faults)) {
      throw new Error(`unknown fault "${name}" (known: ${Object.keys(NO_FAULTS).join(', ')})`);
    }
    const rate = Number(value);
    if (value === undefined || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new Error(`fault ${name}: rate must be a number in [0, 1], got "${value}"`);
    }
    faults[name as keyof FaultSpec] = rate;
  }
  return faults;
}

export function resolveFaults(faults: string | Partial<FaultSpec> | undefined): FaultSpec {
  return typeof faults === 'string' || faults === undefined
    ? parseFaults(faults)
    : { ...parseFaults(undefined), ...faults };
}

/** What a simulator saw and did (tests assert faults were really injected). */
export interface SimulatorStats {
  requests: number;
  served: number;
  faults: Record<keyof FaultSpec, number>;
  rejected: Record<string, number>;
  /** Pages served shorter than their page size in the middle of a window (the `shortPage` quirk). */
  shortPages: number;
}

export function newStats(): SimulatorStats {
  return {
    requests: 0,
    served: 0,
    faults: { '5xx': 0, timeout: 0, quota: 0, expire: 0, drift: 0 },
    rejected: {},
    shortPages: 0,
  };
}
