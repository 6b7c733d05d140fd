/**
 * What the two platform clients share: one retry budget per client, the request rate and concurrency limits,
 * the HTTP retries of {@link fetchJson}, the platform-level retries (a quota answer waits with backoff, an
 * expired timestamp or secret is signed afresh) and the pager. A client keeps only what differs between
 * platforms: how a request is signed and how an answer's envelope reads (field names, codes, tokens).
 */
import { GuijiError } from '../../lib/errors.js';
import { type TimeBound, toChinaTime } from './china-time.js';
import {
  backoffDelay,
  type FetchJsonOptions,
  fetchJson,
  type JsonRequest,
  type JsonResponse,
  RetryBudget,
  type RetryPolicy,
  sleep as realSleep,
} from './fetch-json.js';
import { createLimiter, type RateLimits } from './limits.js';
import { type PageAnswer, pagesOf, type WindowPage } from './pager.js';

/** The settings every platform client takes. */
export interface PlatformClientOptions extends RateLimits {
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
  /** Page size asked first. Default 500. */
  pageSize?: number;
  retry?: Partial<RetryPolicy>;
  /** Retries this client may spend (HTTP retries, quota waits, re-signing), or a shared budget. Default 200. */
  retryBudget?: number | RetryBudget;
  /** Backoff cap of the first quota (`18`) wait; doubles each time (full jitter). Default 1 s. */
  quotaBaseDelayMs?: number;
  /** Largest quota wait. Default 60 s. */
  quotaMaxDelayMs?: number;
  onRetry?: FetchJsonOptions['onRetry'];
  /** The clock (signatures, token end times, `Retry-After` dates). */
  now?: () => number;
  /** How waits are waited (tests pass one that records the delay and returns at once). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform [0, 1) source for the jitter (tests). */
  random?: () => number;
}

/** What a client makes of one platform answer. */
export type Verdict<T> =
  /** The answer's content. */
  | { ok: T }
  /** Quota exceeded (code 18): wait with backoff, then ask again. */
  | { retry: 'quota' }
  /** Timestamp or request secret expired (code 11): sign afresh (a new token), then ask again. */
  | { retry: 'expired' };

export interface PlatformCore {
  readonly budget: RetryBudget;
  readonly now: () => number;
  /** One JSON request within the client's limits, budget and timeout; `request` is called per attempt. */
  fetch<T>(request: () => JsonRequest, signal?: AbortSignal): Promise<JsonResponse<T>>;
  /**
   * Asks until `attempt` gives an answer: quota answers wait with backoff, expired ones are asked again
   * (`attempt` is told how many expired answers came before), each taking a retry from the budget.
   */
  call<T>(where: string, attempt: (expired: number) => Promise<Verdict<T>>, signal?: AbortSignal): Promise<T>;
  /**
   * The pages of the half-open window `[from, to)` of one stream (see {@link pagesOf}), asked at `pageSize` or
   * the client's default; nothing when the window is empty. `stream` names it in messages (`dataset xzcf`).
   */
  pull<Row>(
    stream: string,
    from: TimeBound,
    to: TimeBound,
    pageSize: number | undefined,
    fetchPage: (from: string, to: string, pageNo: number, pageSize: number) => Promise<PageAnswer<Row>>,
  ): AsyncGenerator<WindowPage<Row>>;
}

/** The shared core of a platform client named `source`. */
export function createPlatformCore(source: string, options: PlatformClientOptions): PlatformCore {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const defaultPageSize = options.pageSize ?? 500;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const quota: RetryPolicy = {
    maxAttempts: Number.POSITIVE_INFINITY,
    baseDelayMs: options.quotaBaseDelayMs ?? 1000,
    maxDelayMs: options.quotaMaxDelayMs ?? 60_000,
    maxRetryAfterMs: 0,
  };
  const budget =
    options.retryBudget instanceof RetryBudget
      ? options.retryBudget
      : new RetryBudget(options.retryBudget ?? 200);
  const limiter = createLimiter(options);
  const base: FetchJsonOptions = {
    timeoutMs,
    budget,
    source,
    schedule: limiter.schedule,
    now,
    sleep,
    random,
  };
  if (options.retry) base.retry = options.retry;
  if (options.onRetry) base.onRetry = options.onRetry;

  return {
    budget,
    now,
    fetch: (request, signal) => fetchJson(request, signal ? { ...base, signal } : base),
    async call(where, attempt, signal) {
      let expired = 0;
      let quotaWaits = 0;
      for (;;) {
        const verdict = await attempt(expired);
        if ('ok' in verdict) return verdict.ok;
        if (!budget.take()) {
          const what = verdict.retry === 'quota' ? 'quota exceeded (code 18)' : 'expired (code 11)';
          throw new GuijiError('GUIJI_ERR_SOURCE_HTTP', `${where}: ${what} with the retry budget spent`, {
            context: { source },
          });
        }
        if (verdict.retry === 'expired') expired++;
        else await sleep(backoffDelay(++quotaWaits, quota, random), signal);
      }
    },
    async *pull(stream, fromBound, toBound, pageSize, fetchPage) {
      const from = toChinaTime(fromBound);
      const to = toChinaTime(toBound);
      if (!(from < to)) return;
      yield* pagesOf((pageNo, size) => fetchPage(from, to, pageNo, size), {
        pageSize: pageSize ?? defaultPageSize,
        source,
        window: `${stream} window [${from}, ${to})`,
      });
    },
  };
}
