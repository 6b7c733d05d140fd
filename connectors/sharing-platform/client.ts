/**
 * The government data-sharing platform adapter (STANDARDS.md §5, issue 6): the token protocol and paged
 * pulls of an interface over a half-open window `[from, to)`.
 *
 * Tokens: `refreshTokenByKey` (`sign = md5(appKey + appSecret + requestTime)`) gives a request secret and a
 * refresh secret with end times; before the request secret ends (or when the platform says `11`, expired)
 * the client renews with `refreshTokenBySec` (signed with the refresh secret), falling back to
 * `refreshTokenByKey` when the refresh secret is gone. Data calls `POST {base}/gateway/api/{interfaceId}` are
 * signed with the request secret, body `{ pageNum, pageSize, startTime, endTime }`; `datas` is decoded a
 * second time when it is a JSON string; the pager follows the `pageSize` it declares (if any, else the rows
 * served) and reads until its `total` is accounted for (connectors/http/pager.ts). `14` (bad signature) is a
 * configuration error naming GUIJI_SHARING_APP_SECRET; `18` (quota) backs off with jitter within the retry
 * budget. A province whose gateway differs changes this file only.
 */
import { createHash } from 'node:crypto';
import { ConfigError, GuijiError } from '../../lib/errors.js';
import type { TimeBound } from '../http/china-time.js';
import type { JsonRequest, RetryBudget } from '../http/fetch-json.js';
import { declaredCount, declaredTotal, type PageAnswer } from '../http/pager.js';
import { createPlatformCore, type PlatformClientOptions } from '../http/platform-core.js';

export const SHARING_SOURCE = 'sharing-platform';

export type SharingRow = Record<string, unknown>;

export interface SharingClientOptions extends PlatformClientOptions {
  /** GUIJI_SHARING_URL. */
  baseUrl: string;
  /** GUIJI_SHARING_APP_KEY. */
  appKey: string;
  /** GUIJI_SHARING_APP_SECRET; used only to sign, never logged or put in an error. */
  appSecret: string;
  /** Renew the request secret this long before its end time. Default 60 s. */
  refreshAheadMs?: number;
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

/**
 * `datas` as a page (`{ total, rows }`, with `pageSize` and `pageNum` when the platform declares them),
 * decoding a JSON string first; undefined when it is neither or has no total.
 */
export function decodeDatas(datas: unknown): PageAnswer<SharingRow> | undefined {
  let value = datas;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!value || typeof value !== 'object') return undefined;
  const { total, rows, pageSize, pageNum } = value as Record<string, unknown>;
  const n = declaredTotal(total);
  if (!Array.isArray(rows) || n === undefined) return undefined;
  return {
    total: n,
    rows: rows as SharingRow[],
    pageSize: declaredCount(pageSize),
    pageNo: declaredCount(pageNum),
  };
}

/** Creates a data-sharing platform client. */
export function createSharingClient(options: SharingClientOptions): SharingClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const refreshAhead = options.refreshAheadMs ?? 60_000;
  const core = createPlatformCore(SHARING_SOURCE, options);
  const now = core.now;
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
    const { body } = await core.fetch<Envelope>(signed(byKeyPath, appSecret), signal);
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
    const { body } = await core.fetch<Envelope>(signed(bySecPath, current.refreshSecret), signal);
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

  function fetchPage(
    interfaceId: string,
    from: string,
    to: string,
    pageNo: number,
    pageSize: number,
    signal: AbortSignal | undefined,
  ) {
    const where = `${SHARING_SOURCE}: interface ${interfaceId} page ${pageNo}`;
    const body = { pageNum: pageNo, pageSize, startTime: from, endTime: to };
    let stale: Token | undefined;
    return core.call(
      where,
      async () => {
        const t = await currentToken(stale, signal);
        const answer = await core.fetch<Envelope>(
          signed(apiPath(interfaceId), t.requestSecret, body),
          signal,
        );
        const code = String(answer.body?.code ?? '');
        if (code === '00') {
          const datas = decodeDatas(answer.body.datas);
          if (datas) return { ok: datas };
          throw new GuijiError(
            'GUIJI_ERR_SOURCE_HTTP',
            `${where}: datas is not { total, rows } with a whole-number total (nor a JSON string of it)`,
            { context: { source: SHARING_SOURCE, status: answer.status } },
          );
        }
        if (code === '14') throw badSignature('data request', answer.body?.msg);
        if (code === '11') {
          stale = t; // renew (by the refresh secret) and sign again
          return { retry: 'expired' };
        }
        if (code === '18') return { retry: 'quota' };
        throw new GuijiError(
          'GUIJI_ERR_SOURCE_HTTP',
          `${where}: the platform answered code ${code || '(none)'} (HTTP ${answer.status}): ${clean(answer.body?.msg)}`,
          { context: { source: SHARING_SOURCE, status: answer.status } },
        );
      },
      signal,
    );
  }

  return {
    budget: core.budget,
    async *pull(interfaceId, from, to, pullOptions = {}) {
      const { signal } = pullOptions;
      for await (const page of core.pull(
        `interface ${interfaceId}`,
        from,
        to,
        pullOptions.pageSize,
        (f, t, n, size) => fetchPage(interfaceId, f, t, n, size, signal),
      )) {
        yield { interfaceId, ...page };
      }
    },
  };
}
