/**
 * The city credit platform adapter (issue 6): signed `GET {base}/api/v1/{dataset}/records` calls, paged
 * pulls of a half-open update-time window `[from, to)`.
 *
 * Signing: headers `X-App-Key`, `X-Timestamp` (epoch ms), `X-Nonce`, `X-Signature` = hex HMAC-SHA256 with the
 * app secret over `appKey\ntimestamp\nnonce\npath?sortedQuery` (the query's `key=value` pairs sorted by key,
 * values exactly as sent). Every attempt is signed afresh. Platform codes: `11` (expired timestamp) → re-sign
 * and retry; `14` (bad signature) → a configuration error naming GUIJI_CREDIT_APP_SECRET; `18` (quota, HTTP
 * 429 + Retry-After) → wait and retry; 5xx, resets and timeouts → backoff with jitter, within a retry budget.
 * Answers are `{ code, msg, data: { total, pageNo, pageSize, rows } }` or the bare `{ total, rows }` some
 * platforms send; the pager follows the `pageSize` the answer declares and reads until `total` is accounted
 * for (connectors/http/pager.ts). A city whose gateway differs changes this file only.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { ConfigError, GuijiError } from '../../lib/errors.js';
import type { TimeBound } from '../http/china-time.js';
import type { RetryBudget } from '../http/fetch-json.js';
import { declaredCount, declaredTotal } from '../http/pager.js';
import { createPlatformCore, type PlatformClientOptions } from '../http/platform-core.js';

export const CREDIT_SOURCE = 'credit-platform';

/** A row as the platform sends it: the standard's field codes, `ID` and `SJC`. */
export type CreditRow = Record<string, unknown>;

export interface CreditClientOptions extends PlatformClientOptions {
  /** GUIJI_CREDIT_URL, e.g. `https://credit.example.gov.cn` (a path prefix is kept). */
  baseUrl: string;
  /** GUIJI_CREDIT_APP_KEY. */
  appKey: string;
  /** GUIJI_CREDIT_APP_SECRET; used only to sign, never logged or put in an error. */
  appSecret: string;
  /** How often an expired-timestamp answer (11) is re-signed and retried per page. Default 3. */
  maxResign?: number;
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

interface Page {
  total?: unknown;
  pageNo?: unknown;
  pageSize?: unknown;
  rows?: unknown;
}

interface Envelope {
  code?: unknown;
  msg?: unknown;
  data?: Page | null;
}

/** Creates a credit platform client. */
export function createCreditClient(options: CreditClientOptions): CreditClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const maxResign = options.maxResign ?? 3;
  const core = createPlatformCore(CREDIT_SOURCE, options);
  const secret = options.appSecret;
  const clean = (text: unknown): string =>
    String(text ?? '')
      .split(secret)
      .join('[redacted]')
      .slice(0, 200);

  function fetchPage(
    dataset: string,
    from: string,
    to: string,
    pageNo: number,
    pageSize: number,
    signal: AbortSignal | undefined,
  ) {
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
      const timestamp = String(core.now());
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
    const where = `${CREDIT_SOURCE}: dataset ${dataset} page ${pageNo}`;
    return core.call(
      where,
      async (expired) => {
        const { status, body } = await core.fetch<Envelope>(request, signal);
        const code = String(body?.code ?? '');
        // the answer is `{ code, msg, data: { total, pageNo, pageSize, rows } }` or, on some platforms, bare
        const data = code === '00' ? body.data : code === '' ? (body as Page | null) : undefined;
        if (data && Array.isArray(data.rows)) {
          const total = declaredTotal(data.total);
          if (total === undefined) {
            throw new GuijiError('GUIJI_ERR_SOURCE_HTTP', `${where}: the answer has no numeric data.total`, {
              context: { source: CREDIT_SOURCE, status },
            });
          }
          return {
            ok: {
              total,
              rows: data.rows as CreditRow[],
              pageSize: declaredCount(data.pageSize),
              pageNo: declaredCount(data.pageNo),
            },
          };
        }
        if (code === '14') {
          throw new ConfigError(
            'GUIJI_CREDIT_APP_SECRET',
            `the credit platform rejected the request signature (code 14: ${clean(body?.msg)}); ` +
              'check GUIJI_CREDIT_APP_KEY and GUIJI_CREDIT_APP_SECRET',
          );
        }
        if (code === '11' && expired >= maxResign) {
          throw new GuijiError(
            'GUIJI_ERR_SOURCE_HTTP',
            `${where}: the platform keeps rejecting the request timestamp as expired (code 11); ` +
              "check this machine's clock (NTP): the platform allows 5 minutes of skew",
            { context: { source: CREDIT_SOURCE, status } },
          );
        }
        if (code === '11') return { retry: 'expired' }; // signed again with a fresh timestamp and nonce
        if (code === '18') return { retry: 'quota' };
        throw new GuijiError(
          'GUIJI_ERR_SOURCE_HTTP',
          `${where}: the platform answered code ${code || '(none)'} (HTTP ${status}): ${clean(body?.msg)}`,
          { context: { source: CREDIT_SOURCE, status } },
        );
      },
      signal,
    );
  }

  return {
    budget: core.budget,
    async *pull(dataset, from, to, pullOptions = {}) {
      const { signal } = pullOptions;
      for await (const page of core.pull(
        `dataset ${dataset}`,
        from,
        to,
        pullOptions.pageSize,
        (f, t, n, size) => fetchPage(dataset, f, t, n, size, signal),
      )) {
        yield { dataset, ...page };
      }
    },
  };
}
