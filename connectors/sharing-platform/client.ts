/**
 * The government data-sharing platform adapter (STANDARDS.md §5, issue 6): the token protocol and paged
 * pulls of an interface over a half-open window `[from, to)`.
 *
 * Tokens: `refreshTokenByKey` (`sign = md5(appKey + appSecret + requestTime)`) gives a request secret and a
 * refresh secret with end times; before the request secret ends (or when the platform says `11`, expired)
 * the client renews with `refreshTokenBySec` (signed with the refresh secret), falling back to
 * `refreshTokenByKey` when the refresh secret is gone. Data calls `POST {base}/gateway/api/{interfaceId}` are
 * signed with the request secret, body `{ pageNum, pageSize, startTime, endTime }`; `datas` is decoded a
 * second time when it is a JSON string. `14` (bad signature) is a configuration error naming
 * GUIJI_SHARING_APP_SECRET; `18` (quota) backs off with jitter within the retry budget. A province whose
 * gateway differs changes this file only.
 */
import { createHash } from 'node:crypto';
import { ConfigError, GuijiError } from '../../lib/errors.js';
import { type TimeBound, toChinaTime } from '../http/china-time.js';
import {
  type FetchJsonOptions,
  fetchJson,
  type JsonRequest,
  RetryBudget,
  type RetryPolicy,
  sleep,
} from '../http/fetch-json.js';
import { createLimiter, pagesOf, type RateLimits } from '../http/limits.js';

export const SHARING_SOURCE = 'sharing-platform';

export type SharingRow = Record<string, unknown>;

export interface SharingClientOptions extends RateLimits {
  /** GUIJI_SHARING_URL. */
  baseUrl: string;
  /** GUIJI_SHARING_APP_KEY. */
  appKey: string;
  /** GUIJI_SHARING_APP_SECRET; used only to sign, never logged or put in an error. */
  appSecret: string;
  /** Per-request timeout (GUIJI_SHARING_TIMEOUT_MS). Default 30 s. */
  timeoutMs?: number;
  /** Default page size. Default 500. */
  pageSize?: number;
  /** Renew the request secret this long before its end time. Default 60 s. */
  refreshAheadMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Retries this client may spend (token refreshes on `11` and quota waits included). Default 200. */
  retryBudget?: number | RetryBudget;
  /** Backoff cap of the first quota (`18`) wait; doubles each time. Default 1 s. */
  quotaBaseDelayMs?: number;
  /** Largest quota wait. Default 60 s. */
  quotaMaxDelayMs?: number;
  /** The clock (`requestTime` and end-time checks). */
  now?: () => number;
  onRetry?: FetchJsonOptions['onRetry'];
  /** Endpoint paths, for gateways that name them differently. */
  paths?: { byKey?: string; bySec?: string; api?: (interfaceId: string) => string };
}

export interface SharingPage {
  interfaceId: string;
  pageNo: number;
  pageSize: number;
  total: number;
  rows: SharingRow[];
}

export interface SharingPullOptions {
  pageSize?: number;
  signal?: AbortSignal;
}

export interface SharingClient {
  /**
   * Pulls the records of `interfaceId` in `[from, to)` (Dates, epoch ms or China time strings), page by page.
   * Pages may repeat rows; every record that stays in the window is yielded at least once.
   */
  pull(
    interfaceId: string,
    from: TimeBound,
    to: TimeBound,
    options?: SharingPullOptions,
  ): AsyncGenerator<SharingPage>;
  readonly budget: RetryBudget;
}

interface Token {
  requestSecret: string;
  requestSecretEndTime: number;
  refreshSecret: string;
  refreshSecretEndTime: number;
}

interface Envelope {
  code?: unknown;
  msg?: unknown;
  datas?: unknown;
}

export function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** `datas` as `{ total, rows }`, decoding a JSON string first; undefined when it is neither. */
export function decodeDatas(datas: unknown): { total: number; rows: SharingRow[] } | undefined {
  let value = datas;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!value || typeof value !== 'object') return undefined;
  const { total, rows } = value as { total?: unknown; rows?: unknown };
  if (!Array.isArray(rows)) return undefined;
  const n = Number(total);
  return { total: Number.isFinite(n) ? n : rows.length, rows: rows as SharingRow[] };
}

/** Creates a data-sharing platform client. */
export function createSharingClient(options: SharingClientOptions): SharingClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const defaultPageSize = options.pageSize ?? 500;
  const refreshAhead = options.refreshAheadMs ?? 60_000;
  const quotaBase = options.quotaBaseDelayMs ?? 1000;
  const quotaMax = options.quotaMaxDelayMs ?? 60_000;
  const now = options.now ?? Date.now;
  const budget =
    options.retryBudget instanceof RetryBudget
      ? options.retryBudget
      : new RetryBudget(options.retryBudget ?? 200);
  const limiter = createLimiter(options);
  const byKeyPath = options.paths?.byKey ?? '/gateway/app/refreshTokenByKey.htm';
  const bySecPath = options.paths?.bySec ?? '/gateway/app/refreshTokenBySec.htm';
  const apiPath = options.paths?.api ?? ((id: string) => `/gateway/api/${encodeURIComponent(id)}`);
  const { appKey, appSecret } = options;
  let token: Token | undefined;
  let refreshing: Promise<Token> | undefined;
  const secrets = () =>
    [appSecret, token?.requestSecret, token?.refreshSecret].filter((s): s is string => !!s);
  const clean = (text: unknown): string => {
    let out = String(text ?? '');
    for (const s of secrets()) out = out.split(s).join('[redacted]');
    return out.slice(0, 200);
  };
  const badSignature = (what: string, msg: unknown) =>
    new ConfigError(
      'GUIJI_SHARING_APP_SECRET',
      `the data-sharing platform rejected the ${what} signature (code 14: ${clean(msg)}); ` +
        'check GUIJI_SHARING_APP_KEY and GUIJI_SHARING_APP_SECRET',
    );

  const fetchOptions = (signal?: AbortSignal): FetchJsonOptions => {
    const o: FetchJsonOptions = { timeoutMs, budget, source: SHARING_SOURCE, schedule: limiter.schedule };
    if (options.retry) o.retry = options.retry;
    if (options.onRetry) o.onRetry = options.onRetry;
    if (signal) o.signal = signal;
    return o;
  };
  const signed = (path: string, secret: string, body?: unknown) => (): JsonRequest => {
    const requestTime = String(now());
    const query = `appKey=${encodeURIComponent(appKey)}&requestTime=${requestTime}&sign=${md5(appKey + secret + requestTime)}`;
    const req: JsonRequest = { url: `${base}${path}?${query}`, method: body === undefined ? 'GET' : 'POST' };
    if (body !== undefined) req.body = body;
    return req;
  };

  function toToken(datas: unknown): Token {
    const d = (typeof datas === 'string' ? JSON.parse(datas) : datas) as Partial<Token> | null;
    if (
      !d ||
      typeof d.requestSecret !== 'string' ||
      typeof d.refreshSecret !== 'string' ||
      !Number.isFinite(Number(d.requestSecretEndTime)) ||
      !Number.isFinite(Number(d.refreshSecretEndTime))
    ) {
      throw new GuijiError(
        'GUIJI_ERR_SOURCE_HTTP',
        `${SHARING_SOURCE}: the token answer lacks its secrets or end times`,
        {
          context: { source: SHARING_SOURCE },
        },
      );
    }
    return {
      requestSecret: d.requestSecret,
      requestSecretEndTime: Number(d.requestSecretEndTime),
      refreshSecret: d.refreshSecret,
      refreshSecretEndTime: Number(d.refreshSecretEndTime),
    };
  }

  async function byKey(signal?: AbortSignal): Promise<Token> {
    const { body } = await fetchJson<Envelope>(signed(byKeyPath, appSecret), fetchOptions(signal));
    const code = String(body?.code ?? '');
    if (code === '00') return toToken(body.datas);
    if (code === '14') throw badSignature('token request (refreshTokenByKey)', body?.msg);
    throw new GuijiError(
      'GUIJI_ERR_SOURCE_HTTP',
      `${SHARING_SOURCE}: refreshTokenByKey answered code ${code || '(none)'}: ${clean(body?.msg)}`,
      { context: { source: SHARING_SOURCE } },
    );
  }

  async function bySec(current: Token, signal?: AbortSignal): Promise<Token> {
    if (current.refreshSecretEndTime <= now()) return byKey(signal);
    const { body } = await fetchJson<Envelope>(
      signed(bySecPath, current.refreshSecret),
      fetchOptions(signal),
    );
    // a refresh secret the platform no longer honours (expired, superseded): start over with the app secret
    return String(body?.code ?? '') === '00' ? toToken(body.datas) : byKey(signal);
  }

  /** The current token; renewed when absent, near its end, or `force`d (after a code 11). */
  async function currentToken(force: Token | undefined, signal?: AbortSignal): Promise<Token> {
    if (token && token !== force && token.requestSecretEndTime - refreshAhead > now()) return token;
    if (!refreshing) {
      const old = token;
      refreshing = (old ? bySec(old, signal) : byKey(signal)).then(
        (t) => {
          token = t;
          refreshing = undefined;
          return t;
        },
        (error: unknown) => {
          refreshing = undefined;
          throw error;
        },
      );
    }
    return refreshing;
  }

  async function fetchPage(
    interfaceId: string,
    from: string,
    to: string,
    pageNo: number,
    pageSize: number,
    signal: AbortSignal | undefined,
  ): Promise<{ total: number; rows: SharingRow[] }> {
    const where = `${SHARING_SOURCE}: interface ${interfaceId} page ${pageNo}`;
    const body = { pageNum: pageNo, pageSize, startTime: from, endTime: to };
    let stale: Token | undefined;
    let quotaWaits = 0;
    for (;;) {
      const t = await currentToken(stale, signal);
      const answer = await fetchJson<Envelope>(
        signed(apiPath(interfaceId), t.requestSecret, body),
        fetchOptions(signal),
      );
      const code = String(answer.body?.code ?? '');
      if (code === '00') {
        const datas = decodeDatas(answer.body.datas);
        if (datas) return datas;
        throw new GuijiError(
          'GUIJI_ERR_SOURCE_HTTP',
          `${where}: datas is not { total, rows } (nor a JSON string of it)`,
          {
            context: { source: SHARING_SOURCE, status: answer.status },
          },
        );
      }
      if (code === '14') throw badSignature('data request', answer.body?.msg);
      if ((code === '11' || code === '18') && !budget.take()) {
        throw new GuijiError(
          'GUIJI_ERR_SOURCE_HTTP',
          `${where}: code ${code} (${code === '18' ? 'quota exceeded' : 'request secret expired'}) with the retry budget spent`,
          { context: { source: SHARING_SOURCE, status: answer.status } },
        );
      }
      if (code === '11') {
        stale = t; // renew (by the refresh secret) and sign again
        continue;
      }
      if (code === '18') {
        quotaWaits++;
        const cap = Math.min(quotaMax, quotaBase * 2 ** (quotaWaits - 1));
        await sleep(Math.floor(Math.random() * cap), signal);
        continue;
      }
      throw new GuijiError(
        'GUIJI_ERR_SOURCE_HTTP',
        `${where}: the platform answered code ${code || '(none)'} (HTTP ${answer.status}): ${clean(answer.body?.msg)}`,
        { context: { source: SHARING_SOURCE, status: answer.status } },
      );
    }
  }

  return {
    budget,
    async *pull(interfaceId, fromBound, toBound, pullOptions = {}) {
      const from = toChinaTime(fromBound);
      const to = toChinaTime(toBound);
      const pageSize = pullOptions.pageSize ?? defaultPageSize;
      if (!(from < to)) return;
      for await (const page of pagesOf(
        (pageNo) => fetchPage(interfaceId, from, to, pageNo, pageSize, pullOptions.signal),
        pageSize,
      )) {
        yield { interfaceId, pageNo: page.pageNo, pageSize, total: page.total, rows: page.rows };
      }
    },
  };
}
