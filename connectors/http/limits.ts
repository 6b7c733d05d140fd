/** Per-source request limits (concurrency and rate) with p-queue. */
import PQueue from 'p-queue';

export interface RateLimits {
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Requests started per second. Default 20. */
  requestsPerSecond?: number;
}

/** A limiter whose `schedule` runs a task within the source's limits. */
export function createLimiter(limits: RateLimits = {}): {
  queue: PQueue;
  schedule: <R>(task: () => Promise<R>) => Promise<R>;
} {
  const queue = new PQueue({
    concurrency: limits.concurrency ?? 4,
    intervalCap: limits.requestsPerSecond ?? 20,
    interval: 1000,
  });
  return { queue, schedule: (task) => queue.add(task) };
}
