/**
 * The city credit platform adapter (issue 6): signed `GET {base}/api/v1/{dataset}/records` calls, paged
 * pulls of a half-open update-time window `[from, to)`.
 *
 * Signing: headers `X-App-Key`, `X-Timestamp` (epoch ms), `X-Nonce`, `X-Signature` = hex HMAC-SHA256 with the
 * app secret over `appKey\ntimestamp\nnonce\npath?sortedQuery` (the query's `key=value` pairs sorted by key,
 * values exactly as sent). Every attempt is signed afresh. Platform codes: `11` (expired timestamp) → re-sign
 * and retry; `14` (bad signature) → a configuration error naming GUIJI_CREDIT_APP_SECRET; `18` (quota, HTTP
 * 429 + Retry-After) → wait and retry; 5xx, resets and timeouts → backoff with jitter, within a retry budget.
 * A city whose gateway differs changes this file only.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { ConfigError, GuijiError } from '../../lib/errors.js';
import { type TimeBound, toChinaTime } from '../http/china-time.js';
import {
  type FetchJsonOptions,
  fetchJson,
  RetryBudget,
  type RetryPolicy,
  sleep,
} from '../http/fetch-json.js';
import { createLimiter, pagesOf, type RateLimits } from '../http/limits.js';

export const CREDIT_SOURCE = 'credit-platform';

/** A row as the platform sends it: the standard's field codes, `ID` and `SJC`. */
export type CreditRow = Record<string, unknown>;

export interface CreditClientOptions extends RateLimits {
  /** GUIJI_CREDIT_URL, e.g. `https://credit.example.gov.cn` (a path prefix is kept). */
  baseUrl: string;
  /** GUIJI_CREDIT_APP_KEY. */
  appKey: string;
  /** GUIJI_CREDIT_APP_SECRET; used only to sign, never logged or put in an error. */
  appSecret: string;
  /** Per-request timeout (GUIJI_CREDIT_TIMEOUT_MS). Default 30 s. */
  timeoutMs?: number;
  /** Default page size. Default 500. */
  pageSize?: number;
  retry?: Partial<RetryPolicy>;
  /** Retries this client may spend (shared by all its pulls), or a shared budget. Default 200. */
  retryBudget?: number | RetryBudget;
  /** How often an expired-timestamp answer (11) is re-signed and retried per page. Default 3. */
  maxResign?: number;
  /** The clock used for `X-Timestamp` (tests). */
  now?: () => number;
  onRetry?: FetchJsonOptions['onRetry'];
}

/** One page of a pull. */
export interface CreditPage {
  dataset: string;
  pageNo: number;
  pageSize: number;
  /** Records in the window when this page was answered. */
  total: number;
  rows: CreditRow[];
}

export interface CreditPullOptions {
  pageSize?: number;
  signal?: AbortSignal;
}

export interface CreditClient {
  /**
   * Pulls the records of `dataset` updated in `[from, to)` (Dates, epoch ms or China time strings), page by
   * page in (SJC, ID) order. A page may repeat rows of an earlier one (retries, records updated meanwhile);
   * every record that stays in the window is yielded at least once.
   */
  pull(
    dataset: string,
    from: TimeBound,
    to: TimeBound,
    options?: CreditPullOptions,
  ): AsyncGenerator<CreditPage>;
  /** The retry budget this client spends. */
  readonly budget: RetryBudget;
}

/** `sortedQuery` of the contract: raw `key=value` pairs sorted by key, joined with `&`. */
export function sortedQuery(pairs: ReadonlyArray<readonly [string, string]>): string {
  return [...pairs]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** The contract's signature: hex HMAC-SHA256(secret, `appKey\ntimestamp\nnonce\npath?sortedQuery`). */
export function signCredit(
  secret: string,
  appKey: string,
  timestamp: string,
  nonce: string,
  path: string,
  sorted: string,
): string {
  return createHmac('sha256', secret)
    .update(`${appKey}\n${timestamp}\n${nonce}\n${path}?${sorted}`)
    .digest('hex');
}

interface Envelope {
  code?: unknown;
  msg?: unknown;
  data?: { total?: unknown; pageNo?: unknown; pageSize?: unknown; rows?: unknown } | null;
}

/** Creates a credit platform client. */
export function createCreditClient(options: CreditClientOptions): CreditClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const defaultPageSize = options.pageSize ?? 500;
  const maxResign = options.maxResign ?? 3;
  const now = options.now ?? Date.now;
  const budget =
    options.retryBudget instanceof RetryBudget
      ? options.retryBudget
      : new RetryBudget(options.retryBudget ?? 200);
  const limiter = createLimiter(options);
  const secret = options.appSecret;
  const clean = (text: unknown): string =>
    String(text ?? '')
      .split(secret)
      .join('[redacted]')
      .slice(0, 200);

  async function fetchPage(
    dataset: string,
    from: string,
    to: string,
    pageNo: number,
    pageSize: number,
    signal: AbortSignal | undefined,
  ): Promise<CreditPage> {
    const pairs: Array<[string, string]> = [
      ['updatedFrom', encodeURIComponent(from)],
      ['updatedTo', encodeURIComponent(to)],
      ['pageNo', String(pageNo)],
      ['pageSize', String(pageSize)],
    ];
    const query = pairs.map(([k, v]) => `${k}=${v}`).join('&');
    const url = `${base}/api/v1/${encodeURIComponent(dataset)}/records?${query}`;
    const path = new URL(url).pathname;
    const sorted = sortedQuery(pairs);
    const request = () => {
      const timestamp = String(now());
      const nonce = randomUUID().replaceAll('-', '');
      return {
        url,
        method: 'GET' as const,
        headers: {
          'X-App-Key': options.appKey,
          'X-Timestamp': timestamp,
          'X-Nonce': nonce,
          'X-Signature': signCredit(secret, options.appKey, timestamp, nonce, path, sorted),
        },
      };
    };
    const fetchOptions: FetchJsonOptions = {
      timeoutMs,
      budget,
      source: CREDIT_SOURCE,
      schedule: limiter.schedule,
    };
    if (options.retry) fetchOptions.retry = options.retry;
    if (options.onRetry) fetchOptions.onRetry = options.onRetry;
    if (signal) fetchOptions.signal = signal;
    const where = `${CREDIT_SOURCE}: dataset ${dataset} page ${pageNo}`;
    let resigned = 0;
    let quotaWaits = 0;
    for (;;) {
      const { status, body } = await fetchJson<Envelope>(request, fetchOptions);
      const code = String(body?.code ?? '');
      if (code === '00' && body.data && Array.isArray(body.data.rows)) {
        const total = Number(body.data.total);
        if (!Number.isFinite(total)) {
          throw new GuijiError('GUIJI_ERR_SOURCE_HTTP', `${where}: the answer has no numeric data.total`, {
            context: { source: CREDIT_SOURCE, status },
          });
        }
        return { dataset, pageNo, pageSize, total, rows: body.data.rows as CreditRow[] };
      }
      if (code === '14') {
        throw new ConfigError(
          'GUIJI_CREDIT_APP_SECRET',
          `the credit platform rejected the request signature (code 14: ${clean(body?.msg)}); ` +
            'check GUIJI_CREDIT_APP_KEY and GUIJI_CREDIT_APP_SECRET',
        );
      }
      if (code === '11' && resigned < maxResign && budget.take()) {
        resigned++;
        continue; // signed again with a fresh timestamp and nonce
      }
      if (code === '11') {
        throw new GuijiError(
          'GUIJI_ERR_SOURCE_HTTP',
          `${where}: the platform keeps rejecting the request timestamp as expired (code 11); ` +
            "check this machine's clock (NTP): the platform allows 5 minutes of skew",
          { context: { source: CREDIT_SOURCE, status } },
        );
      }
      if (code === '18' && budget.take()) {
        quotaWaits++;
        await sleep(Math.min(60_000, 500 * 2 ** quotaWaits * Math.random()), signal);
        continue;
      }
      throw new GuijiError(
        'GUIJI_ERR_SOURCE_HTTP',
        `${where}: the platform answered code ${code || '(none)'} (HTTP ${status}): ${clean(body?.msg)}`,
        { context: { source: CREDIT_SOURCE, status } },
      );
    }
  }

  return {
    budget,
    async *pull(dataset, fromBound, toBound, pullOptions = {}) {
      const from = toChinaTime(fromBound);
      const to = toChinaTime(toBound);
      const pageSize = pullOptions.pageSize ?? defaultPageSize;
      if (!(from < to)) return;
      for await (const page of pagesOf(
        (pageNo) => fetchPage(dataset, from, to, pageNo, pageSize, pullOptions.signal),
        pageSize,
      )) {
        yield { dataset, pageNo: page.pageNo, pageSize, total: page.total, rows: page.rows };
      }
    },
  };
}
