/**
 * A faithful local simulator of the city credit platform (issue 6):
 *
 * `GET /api/v1/{dataset}/records?updatedFrom=&updatedTo=&pageNo=&pageSize=` with headers `X-App-Key`,
 * `X-Timestamp` (epoch ms), `X-Nonce`, `X-Signature` = hex HMAC-SHA256(appSecret,
 * `appKey\ntimestamp\nnonce\npath?sortedQuery`), where sortedQuery is the query's raw `key=value` pairs sorted
 * by key and joined with `&`. Answers `{ code: "00", msg, data: { total, pageNo, pageSize, rows } }`, rows
 * ordered by (SJC, ID) within the half-open window `[updatedFrom, updatedTo)` (China time). Errors: `11`
 * timestamp skew > 5 minutes (HTTP 401), `14` bad signature or unknown app key (HTTP 401), `18` quota
 * (HTTP 429 with `Retry-After`), `10` bad parameters (HTTP 400), and HTTP 5xx when injected.
 *
 * Paging quirks on request ({@link PagingQuirks}): a capped page size, the page size left out of the answer,
 * a page cut short. Run by `guiji simulate credit-platform` (pipelines/simulate/serve.ts); listens on
 * 127.0.0.1 only.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createRandom } from '../demo/generate.js';
import { type FaultSpec, newStats, resolveFaults, type SimulatorStats } from './faults.js';
import { createPaging, type PagingQuirks, type SimulatorOptions, servePage } from './pages.js';
import { hang, listenLocal, sendJson, sendJsonText } from './server.js';
import { createStore, type SimStore } from './store.js';

export const DEFAULT_CREDIT_APP_KEY = 'guiji-demo';
export const DEFAULT_CREDIT_APP_SECRET = 'guiji-demo-credit-secret';

export interface CreditSimulatorOptions extends SimulatorOptions {
  /** The `Retry-After` of a quota answer, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Largest accepted clock difference. Default 5 minutes. */
  maxSkewMs?: number;
}

export interface RunningSimulator {
  url: string;
  store: SimStore;
  stats: SimulatorStats;
  /** Changes the fault rates while running. */
  setFaults(faults: string | Partial<FaultSpec>): void;
  /** Changes the paging quirks while running (a platform mended, or one that starts to cap its pages). */
  setPaging(quirks: PagingQuirks): void;
  close(): Promise<void>;
}

/** The credit platform's signature: hex HMAC-SHA256 over `appKey\ntimestamp\nnonce\npath?sortedQuery`. */
export function creditSignature(
  secret: string,
  appKey: string,
  timestamp: string,
  nonce: string,
  path: string,
  rawQuery: string,
): string {
  const sorted = rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return { key: eq < 0 ? pair : pair.slice(0, eq), pair: eq < 0 ? `${pair}=` : pair };
    })
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((p) => p.pair)
    .join('&');
  return createHmac('sha256', secret)
    .update(`${appKey}\n${timestamp}\n${nonce}\n${path}?${sorted}`)
    .digest('hex');
}

/** Starts the credit platform simulator on 127.0.0.1. */
export async function startCreditSimulator(options: CreditSimulatorOptions = {}): Promise<RunningSimulator> {
  const seed = options.seed ?? 1;
  const store = options.store ?? createStore({ records: options.records ?? 1000, seed });
  const appKey = options.appKey ?? DEFAULT_CREDIT_APP_KEY;
  const appSecret = options.appSecret ?? DEFAULT_CREDIT_APP_SECRET;
  const hangMs = options.hangMs ?? 30_000;
  const retryAfter = options.retryAfterSeconds ?? 1;
  const maxPageSize = options.maxPageSize ?? 1000;
  const maxSkewMs = options.maxSkewMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  let faults = resolveFaults(options.faults);
  const random = createRandom((seed * 31 + 7) >>> 0);
  const stats = newStats();
  const paging = createPaging(options, stats, true);
  const reject = (code: string) => {
    stats.rejected[code] = (stats.rejected[code] ?? 0) + 1;
  };

  const listening = await listenLocal(options.port ?? 0, (req, res) => {
    stats.requests++;
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const rawQuery = q < 0 ? '' : raw.slice(q + 1);
    const match = /^\/api\/v1\/([A-Za-z0-9_-]+)\/records$/.exec(path);
    if (!match || req.method !== 'GET') {
      reject('404');
      return sendJson(res, 404, { code: '404', msg: `no such endpoint: ${req.method} ${path}` });
    }
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const key = header('x-app-key');
    const timestamp = header('x-timestamp');
    const nonce = header('x-nonce');
    const signature = header('x-signature');
    if (!key || !timestamp || !nonce || !signature) {
      reject('14');
      return sendJson(res, 401, {
        code: '14',
        msg: '缺少签名头 missing X-App-Key/X-Timestamp/X-Nonce/X-Signature',
      });
    }
    if (key !== appKey) {
      reject('14');
      return sendJson(res, 401, { code: '14', msg: '应用标识无效 unknown app key' });
    }
    const ts = Number(timestamp);
    if (!/^\d{10,16}$/.test(timestamp) || Math.abs(now() - ts) > maxSkewMs) {
      reject('11');
      return sendJson(res, 401, {
        code: '11',
        msg: '时间戳过期 timestamp expired or clock skew over 5 minutes',
      });
    }
    const expected = creditSignature(appSecret, key, timestamp, nonce, path, rawQuery);
    const given = Buffer.from(signature.toLowerCase(), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected, 'utf8'))) {
      reject('14');
      return sendJson(res, 401, { code: '14', msg: '签名错误 bad signature' });
    }
    // faults, in a fixed order so that one seed gives one sequence
    const roll = random();
    const t5xx = faults['5xx'];
    const tTimeout = t5xx + faults.timeout;
    const tQuota = tTimeout + faults.quota;
    const tExpire = tQuota + faults.expire;
    if (roll < t5xx) {
      stats.faults['5xx']++;
      const status = [500, 502, 503][Math.floor(random() * 3)] as number;
      res.writeHead(status, { 'content-type': 'text/html' });
      return res.end(`<html><body><h1>${status}</h1>nginx</body></html>`);
    }
    if (roll < tTimeout) {
      stats.faults.timeout++;
      return hang(listening.server, res, hangMs);
    }
    if (roll < tQuota) {
      stats.faults.quota++;
      return sendJson(
        res,
        429,
        { code: '18', msg: '访问频率超限 quota exceeded' },
        { 'retry-after': String(retryAfter) },
      );
    }
    if (roll < tExpire) {
      stats.faults.expire++;
      return sendJson(res, 401, { code: '11', msg: '时间戳过期 timestamp expired' });
    }
    const dataset = match[1] as string;
    if (!store.has(dataset)) {
      reject('20');
      return sendJson(res, 404, { code: '20', msg: `数据集不存在 unknown dataset ${dataset}` });
    }
    const params = new URLSearchParams(rawQuery);
    const pageNo = Number(params.get('pageNo') ?? '1');
    const page = servePage(
      { store, stats, faults, random, paging, maxPageSize },
      {
        dataset,
        from: params.get('updatedFrom') ?? '',
        to: params.get('updatedTo') ?? '',
        pageNo,
        pageSize: Number(params.get('pageSize') ?? '100'),
      },
    );
    if ('malformed' in page) {
      reject('10');
      return sendJson(res, 400, {
        code: '10',
        msg: `参数错误 updatedFrom/updatedTo must be 'YYYY-MM-DD HH:mm:ss', pageNo ≥ 1, 1 ≤ pageSize ≤ ${maxPageSize}`,
      });
    }
    const declared = paging.declares ? `"pageNo":${pageNo},"pageSize":${page.pageSize},` : '';
    return sendJsonText(
      res,
      200,
      `{"code":"00","msg":"成功","data":{"total":${page.total},${declared}"rows":${page.rowsJson}}}`,
    );
  });

  return {
    url: listening.url,
    store,
    stats,
    setPaging: (quirks) => paging.set(quirks),
    setFaults(next) {
      faults = resolveFaults(next);
    },
    close: () => listening.close(),
  };
}
