/**
 * A faithful local simulator of the government data-sharing platform (STANDARDS.md §5, issue 6):
 *
 * - `GET|POST /gateway/app/refreshTokenByKey.htm?appKey=&requestTime=&sign=` with
 *   `sign = md5(appKey + appSecret + requestTime)` answers `{ code: "00", msg, datas: { requestSecret,
 *   requestSecretEndTime, refreshSecret, refreshSecretEndTime } }` (end times in epoch ms);
 * - `GET|POST /gateway/app/refreshTokenBySec.htm?appKey=&requestTime=&sign=` with
 *   `sign = md5(appKey + refreshSecret + requestTime)` renews both secrets (an expired refresh secret: code 11);
 * - `POST /gateway/api/{interfaceId}?appKey=&requestTime=&sign=` with `sign = md5(appKey + requestSecret +
 *   requestTime)` and body `{ pageNum, pageSize, startTime, endTime }` (China time, window `[startTime,
 *   endTime)`, pages from 1) answers `{ code, msg, datas }`, `datas` = `{ total, rows }` or that as a JSON
 *   string. Codes: `00` ok, `11` request secret expired, `14` bad signature, `18` quota, `10` bad parameters.
 *
 * Paging quirks on request ({@link PagingQuirks}): a capped page size, the page size declared in `datas`
 * (`pageNum`, `pageSize`; by default left out, as the standard's `{ total, rows }`), a page cut short. Run by
 * `guiji simulate sharing-platform` (pipelines/simulate/serve.ts); listens on 127.0.0.1 only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRandom } from '../demo/generate.js';
import { type FaultSpec, newStats, parseFaults, resolveFaults, type SimulatorStats } from './faults.js';
import { createPaging, type PagingQuirks, type SimulatorOptions, servePage } from './pages.js';
import { hang, listenLocal, readBody, sendJson, sendJsonText } from './server.js';
import { createStore, type SimStore } from './store.js';

export const DEFAULT_SHARING_APP_KEY = 'guiji-demo';
export const DEFAULT_SHARING_APP_SECRET = 'guiji-demo-sharing-secret';
export const DEFAULT_SHARING_INTERFACES = ['xzxk'];

export interface SharingSimulatorOptions extends SimulatorOptions {
  /** Interface ids served; each holds licence rows (xzxk) unless named after another kind. */
  interfaces?: readonly string[];
  /** Lifetime of a request secret. Default 15 minutes. */
  requestSecretTtlMs?: number;
  /** Lifetime of a refresh secret. Default 48 hours. */
  refreshSecretTtlMs?: number;
  /** `datas` as a JSON string: always, never, or at random (default). */
  datasAsString?: 'always' | 'never' | 'random';
}

export interface SharingStats extends SimulatorStats {
  tokens: { byKey: number; bySec: number };
  datasAsString: number;
}

export interface RunningSharingSimulator {
  url: string;
  store: SimStore;
  stats: SharingStats;
  setFaults(faults: string | Partial<FaultSpec>): void;
  /** Changes the paging quirks while running (a platform mended, or one that starts to cap its pages). */
  setPaging(quirks: PagingQuirks): void;
  /** Declares every request secret expired now (as if the clock had passed their end time). */
  expireRequestSecrets(): void;
  close(): Promise<void>;
}

export function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

interface Secret {
  value: string;
  endTime: number;
}

/** Starts the data-sharing platform simulator on 127.0.0.1. */
export async function startSharingSimulator(
  options: SharingSimulatorOptions = {},
): Promise<RunningSharingSimulator> {
  const seed = options.seed ?? 1;
  const interfaces = options.interfaces ?? DEFAULT_SHARING_INTERFACES;
  const kinds = Object.fromEntries(
    interfaces.map((id) => [id, id === 'xzcf' || id === 'lhcj' ? id : 'xzxk'] as const),
  ) as Record<string, 'xzxk' | 'xzcf' | 'lhcj'>;
  const store =
    options.store ?? createStore({ records: options.records ?? 1000, seed, datasets: interfaces, kinds });
  const appKey = options.appKey ?? DEFAULT_SHARING_APP_KEY;
  const appSecret = options.appSecret ?? DEFAULT_SHARING_APP_SECRET;
  const requestTtl = options.requestSecretTtlMs ?? 15 * 60_000;
  const refreshTtl = options.refreshSecretTtlMs ?? 48 * 3600_000;
  const asString = options.datasAsString ?? 'random';
  const hangMs = options.hangMs ?? 30_000;
  const maxPageSize = options.maxPageSize ?? 1000;
  const clock = options.now ?? Date.now;
  let faults = resolveFaults(options.faults);
  const random = createRandom((seed * 131 + 17) >>> 0);
  const stats: SharingStats = { ...newStats(), tokens: { byKey: 0, bySec: 0 }, datasAsString: 0 };
  const paging = createPaging(options, stats, false);
  const reject = (code: string) => {
    stats.rejected[code] = (stats.rejected[code] ?? 0) + 1;
  };
  let requestSecrets: Secret[] = [];
  let refreshSecret: Secret | undefined;

  const issue = () => {
    const now = clock();
    const request = { value: randomBytes(16).toString('hex'), endTime: now + requestTtl };
    refreshSecret = { value: randomBytes(16).toString('hex'), endTime: now + refreshTtl };
    // the previous request secret stays valid until its end time (clients running in parallel)
    requestSecrets = [...requestSecrets.filter((s) => s.endTime > now), request];
    return {
      requestSecret: request.value,
      requestSecretEndTime: request.endTime,
      refreshSecret: refreshSecret.value,
      refreshSecretEndTime: refreshSecret.endTime,
    };
  };

  const listening = await listenLocal(options.port ?? 0, async (req, res) => {
    stats.requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const key = url.searchParams.get('appKey') ?? '';
    const requestTime = url.searchParams.get('requestTime') ?? '';
    const sign = (url.searchParams.get('sign') ?? '').toLowerCase();
    const fail = (code: string, msg: string) => {
      reject(code);
      return sendJson(res, 200, { code, msg, datas: null });
    };
    const tokenCall = /^\/gateway\/app\/(refreshTokenByKey|refreshTokenBySec)(\.htm)?$/.exec(url.pathname);
    const apiCall = /^\/gateway\/api\/([A-Za-z0-9_.-]+)$/.exec(url.pathname);
    if (!tokenCall && !(apiCall && req.method === 'POST')) {
      reject('404');
      return sendJson(res, 404, {
        code: '404',
        msg: `no such endpoint: ${req.method} ${url.pathname}`,
        datas: null,
      });
    }
    if (!key || !requestTime || !sign) return fail('14', '缺少参数 appKey/requestTime/sign');
    if (key !== appKey) return fail('14', '应用不存在 unknown appKey');
    // network faults hit every call; quota, expiry and drift only data calls
    const roll = random();
    if (roll < faults['5xx']) {
      stats.faults['5xx']++;
      res.writeHead(502, { 'content-type': 'text/html' });
      return res.end('<html><body>502 Bad Gateway</body></html>');
    }
    if (roll < faults['5xx'] + faults.timeout) {
      stats.faults.timeout++;
      return hang(listening.server, res, hangMs);
    }
    const now = clock();
    if (tokenCall?.[1] === 'refreshTokenByKey') {
      if (sign !== md5(appKey + appSecret + requestTime)) return fail('14', '签名错误 bad signature');
      stats.tokens.byKey++;
      return sendJson(res, 200, { code: '00', msg: '成功', datas: issue() });
    }
    if (tokenCall) {
      if (!refreshSecret || sign !== md5(appKey + refreshSecret.value + requestTime)) {
        return fail('14', '签名错误 bad signature (refresh secret)');
      }
      if (refreshSecret.endTime <= now) return fail('11', '刷新密钥已过期 refresh secret expired');
      stats.tokens.bySec++;
      return sendJson(res, 200, { code: '00', msg: '成功', datas: issue() });
    }
    const secret = requestSecrets.find((s) => sign === md5(appKey + s.value + requestTime));
    if (!secret) return fail('14', '签名错误 bad signature');
    if (secret.endTime <= now) return fail('11', '请求密钥已过期 request secret expired');
    const roll2 = random();
    if (roll2 < faults.quota) {
      stats.faults.quota++;
      return fail('18', '访问次数超限 quota exceeded');
    }
    if (roll2 < faults.quota + faults.expire) {
      stats.faults.expire++;
      secret.endTime = now;
      return fail('11', '请求密钥已过期 request secret expired');
    }
    const interfaceId = apiCall?.[1] as string;
    if (!store.has(interfaceId)) return fail('20', `接口不存在 unknown interface ${interfaceId}`);
    let body: { pageNum?: unknown; pageSize?: unknown; startTime?: unknown; endTime?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch {
      return fail('10', '参数错误 the body must be JSON');
    }
    const pageNum = Number(body?.pageNum);
    const page = servePage(
      { store, stats, faults, random, paging, maxPageSize },
      {
        dataset: interfaceId,
        from: String(body?.startTime ?? ''),
        to: String(body?.endTime ?? ''),
        pageNo: pageNum,
        pageSize: Number(body?.pageSize),
      },
    );
    if ('malformed' in page) {
      return fail(
        '10',
        `参数错误 startTime/endTime 'YYYY-MM-DD HH:mm:ss', pageNum ≥ 1, 1 ≤ pageSize ≤ ${maxPageSize}`,
      );
    }
    const declared = paging.declares ? `"pageNum":${pageNum},"pageSize":${page.pageSize},` : '';
    const datas = `{"total":${page.total},${declared}"rows":${page.rowsJson}}`;
    const stringify = asString === 'always' || (asString === 'random' && random() < 0.5);
    if (stringify) stats.datasAsString++;
    return sendJsonText(
      res,
      200,
      `{"code":"00","msg":"成功","datas":${stringify ? JSON.stringify(datas) : datas}}`,
    );
  });

  return {
    url: listening.url,
    store,
    stats,
    setPaging: (quirks) => paging.set(quirks),
    setFaults(next) {
      faults = typeof next === 'string' ? parseFaults(next) : { ...faults, ...next };
    },
    expireRequestSecrets() {
      const now = clock();
      for (const s of requestSecrets) s.endTime = Math.min(s.endTime, now);
    },
    close: () => listening.close(),
  };
}
