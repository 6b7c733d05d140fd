/**
 * JSON over HTTP for the platform connectors: a timeout per attempt (AbortSignal), retries with exponential
 * backoff and full jitter on 5xx, 408/429, connection resets and timeouts, `Retry-After` honoured, and a retry
 * budget shared by every request of one source so that a platform that is down fails the source quickly
 * instead of retrying forever.
 *
 * Errors are `GuijiError('GUIJI_ERR_SOURCE_HTTP')` whose message and context carry the URL without its query
 * string (signatures, app keys and tokens travel there) and the last HTTP status; request headers and bodies
 * never appear in an error.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { GuijiError } from '../../lib/errors.js';

/** How one request is retried. */
export interface RetryPolicy {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** The backoff cap of the first retry; doubles each retry (full jitter: a uniform delay in [0, cap)). */
  baseDelayMs: number;
  /** The largest backoff cap. */
  maxDelayMs: number;
  /** The longest `Retry-After` honoured; a longer one is waited for this long. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 15_000,
  maxRetryAfterMs: 120_000,
};

/**
 * Retries a source may spend in total (across all its requests in one run). When it is spent, the next
 * failure is final and the source is marked failed.
 */
export class RetryBudget {
  #used = 0;
  constructor(readonly limit: number) {}
  /** Takes one retry from the budget; false when none is left. */
  take(): boolean {
    if (this.#used >= this.limit) return false;
    this.#used++;
    return true;
  }
  get used(): number {
    return this.#used;
  }
  get remaining(): number {
    return Math.max(0, this.limit - this.#used);
  }
}

/** One HTTP request. `body`, when given, is sent as JSON. */
export interface JsonRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: unknown;
}

/** What happened before a retry (for logs and tests; never holds headers or bodies). */
export interface RetryEvent {
  /** The attempt that failed, from 1. */
  attempt: number;
  delayMs: number;
  reason: string;
  status?: number;
  url: string;
}

export interface FetchJsonOptions {
  /** Per-attempt timeout. */
  timeoutMs: number;
  retry?: Partial<RetryPolicy>;
  /** Shared by the requests of one source; unlimited when absent. */
  budget?: RetryBudget;
  /** The source name for messages (`credit-platform`). */
  source?: string;
  /** Aborts the whole request, retries included (not retried). */
  signal?: AbortSignal;
  /** Uniform [0, 1) source for the jitter (tests). */
  random?: () => number;
  onRetry?: (event: RetryEvent) => void;
  /** Runs each attempt's network exchange (a p-queue's `add`: concurrency and rate limits per source). */
  schedule?: <R>(task: () => Promise<R>) => Promise<R>;
  /** The clock `Retry-After` dates are read against. */
  now?: () => number;
  /** How a backoff is waited (tests pass one that records the delay and returns at once). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface JsonResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** The URL as safe to print: scheme, host, port and path; no credentials, query or fragment. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.split(/[?#]/, 1)[0] ?? '';
  }
}

/** Full-jitter exponential backoff for retry number `retry` (from 1). */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}

/** A `Retry-After` header (delta seconds or an HTTP date) in ms from `now`; undefined when absent or bad. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return `connection failed (${cause.code})`;
    if (error.name === 'SyntaxError') return 'invalid JSON in the response';
    return error.message;
  }
  return String(error);
}

/**
 * Sends a JSON request with retries. `request` may be a function of the attempt number (from 1) so that each
 * attempt is signed afresh (a new timestamp and nonce).
 *
 * Resolves with the status and parsed body for 2xx and for 4xx answers with a JSON body (platforms put their
 * error codes there; the caller decides); 408, 429 and 5xx, resets, timeouts and unparsable 2xx bodies are
 * retried while attempts and budget last, and then rejected with a `GUIJI_ERR_SOURCE_HTTP` error.
 */
export async function fetchJson<T = unknown>(
  request: JsonRequest | ((attempt: number) => JsonRequest),
  options: FetchJsonOptions,
): Promise<JsonResponse<T>> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const random = options.random ?? Math.random;
  const source = options.source ?? 'http';
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    const req = typeof request === 'function' ? request(attempt) : request;
    const method = req.method ?? (req.body === undefined ? 'GET' : 'POST');
    const safeUrl = redactUrl(req.url);
    options.signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    let status: number | undefined;
    let reason: string;
    let retryAfterMs: number | undefined;
    let cause: unknown;
    try {
      const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
      if (req.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
      const init: RequestInit = { method, headers, signal };
      if (req.body !== undefined) init.body = JSON.stringify(req.body);
      const exchange = async () => {
        const response = await fetch(req.url, init);
        return { response, text: await response.text() };
      };
      const { response, text } = await (options.schedule ? options.schedule(exchange) : exchange());
      status = response.status;
      if (RETRYABLE_STATUS.has(status)) {
        reason = `HTTP ${status}`;
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
      } else {
        let body: unknown;
        try {
          body = text === '' ? null : JSON.parse(text);
        } catch (error) {
          if (status >= 200 && status < 300) throw error;
          throw new GuijiError(
            'GUIJI_ERR_SOURCE_HTTP',
            `${source}: ${method} ${safeUrl} answered HTTP ${status}`,
            {
              context: { source, url: safeUrl, status },
            },
          );
        }
        if (status >= 200 && status < 500) return { status, headers: response.headers, body: body as T };
        throw new GuijiError(
          'GUIJI_ERR_SOURCE_HTTP',
          `${source}: ${method} ${safeUrl} answered HTTP ${status}`,
          {
            context: { source, url: safeUrl, status },
          },
        );
      }
    } catch (error) {
      if (error instanceof GuijiError) throw error;
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      reason = describeFailure(error);
      cause = error;
    }
    if (attempt >= policy.maxAttempts || !(options.budget?.take() ?? true)) {
      const why = attempt >= policy.maxAttempts ? `after ${attempt} attempts` : 'with its retry budget spent';
      const context: { source: string; url: string; status?: number } = { source, url: safeUrl };
      if (status !== undefined) context.status = status;
      throw new GuijiError(
        'GUIJI_ERR_SOURCE_HTTP',
        `${source}: ${method} ${safeUrl} failed ${why}: ${reason}`,
        {
          cause,
          context,
        },
      );
    }
    const backoff = backoffDelay(attempt, policy, random);
    const delayMs =
      retryAfterMs === undefined
        ? backoff
        : Math.min(policy.maxRetryAfterMs, Math.max(retryAfterMs, backoff));
    const event: RetryEvent = { attempt, delayMs, reason, url: safeUrl };
    if (status !== undefined) event.status = status;
    options.onRetry?.(event);
    if (delayMs > 0) await wait(delayMs, options.signal);
  }
}

/** Sleeps `ms` (abortable). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepFor(ms, undefined, signal ? { signal } : {});
}
