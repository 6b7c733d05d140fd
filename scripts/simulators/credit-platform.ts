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
 * Run: `node bin/run-ts.js scripts/simulators/credit-platform.ts --port P --records N --seed S --faults "…"`
 * (also `--app-key`, `--app-secret`). Listens on 127.0.0.1 only.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { isChinaTime } from '../../connectors/http/china-time.js';
import { createRandom } from '../../pipelines/demo/generate.js';
import { hang, listenLocal, runMain, sendJson, sendJsonText } from './server.js';
import { createStore, type FaultSpec, parseFaults, parseFlags, type SimStore } from './store.js';

export const DEFAULT_CREDIT_APP_KEY = 'guiji-demo';
export const DEFAULT_CREDIT_APP_SECRET = 'guiji-demo-credit-secret';

export interface CreditSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  records?: number;
  seed?: number;
  /** A spec string (`"5xx=0.1,timeout=0.05"`) or rates. */
  faults?: string | Partial<FaultSpec>;
  appKey?: string;
  appSecret?: string;
  /** Serve this store instead of building one from records/seed. */
  store?: SimStore;
  /** How long a "timeout" fault holds the request before dropping the connection. Default 30 s. */
  hangMs?: number;
  /** The `Retry-After` of a quota answer, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Largest page size accepted. Default 1000. */
  maxPageSize?: number;
  /** Largest accepted clock difference. Default 5 minutes. */
  maxSkewMs?: number;
}

/** What the simulator saw and did (tests assert faults were really injected). */
export interface SimulatorStats {
  requests: number;
  served: number;
  faults: Record<keyof FaultSpec, number>;
  rejected: Record<string, number>;
}

export interface RunningSimulator {
  url: string;
  store: SimStore;
  stats: SimulatorStats;
  /** Changes the fault rates while running. */
  setFaults(faults: string | Partial<FaultSpec>): void;
  close(): Promise<void>;
}

export function newStats(): SimulatorStats {
  return {
    requests: 0,
    served: 0,
    faults: { '5xx': 0, timeout: 0, quota: 0, expire: 0, drift: 0 },
    rejected: {},
  };
}

export function resolveFaults(faults: string | Partial<FaultSpec> | undefined): FaultSpec {
  return typeof faults === 'string' || faults === undefined
    ? parseFaults(faults)
    : { ...parseFaults(undefined), ...faults };
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
  let faults = resolveFaults(options.faults);
  const random = createRandom((seed * 31 + 7) >>> 0);
  const stats = newStats();
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
    if (!/^\d{10,16}$/.test(timestamp) || Math.abs(Date.now() - ts) > maxSkewMs) {
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
    const from = params.get('updatedFrom') ?? '';
    const to = params.get('updatedTo') ?? '';
    const pageNo = Number(params.get('pageNo') ?? '1');
    const pageSize = Number(params.get('pageSize') ?? '100');
    if (
      !isChinaTime(from) ||
      !isChinaTime(to) ||
      !Number.isInteger(pageNo) ||
      pageNo < 1 ||
      !Number.isInteger(pageSize) ||
      pageSize < 1 ||
      pageSize > maxPageSize
    ) {
      reject('10');
      return sendJson(res, 400, {
        code: '10',
        msg: `参数错误 updatedFrom/updatedTo must be 'YYYY-MM-DD HH:mm:ss', pageNo ≥ 1, 1 ≤ pageSize ≤ ${maxPageSize}`,
      });
    }
    if (random() < faults.drift) {
      stats.faults.drift++;
      store.updateRandom(dataset, random);
    }
    const page = store.queryJson(dataset, from, to, pageNo, pageSize);
    stats.served++;
    return sendJsonText(
      res,
      200,
      `{"code":"00","msg":"成功","data":{"total":${page.total},"pageNo":${pageNo},"pageSize":${pageSize},"rows":${page.rowsJson}}}`,
    );
  });

  return {
    url: listening.url,
    store,
    stats,
    setFaults(next) {
      faults = resolveFaults(next);
    },
    close: () => listening.close(),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flags = parseFlags(process.argv.slice(2));
  await runMain('credit-platform', () =>
    startCreditSimulator({
      port: Number(flags['port'] ?? 0),
      records: Number(flags['records'] ?? 1000),
      seed: Number(flags['seed'] ?? 1),
      faults: flags['faults'] ?? '',
      appKey: flags['app-key'] ?? process.env['GUIJI_CREDIT_APP_KEY'] ?? DEFAULT_CREDIT_APP_KEY,
      appSecret: flags['app-secret'] ?? process.env['GUIJI_CREDIT_APP_SECRET'] ?? DEFAULT_CREDIT_APP_SECRET,
    }),
  );
}
